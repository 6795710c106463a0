// swift-tools-version:6.1
import PackageDescription

// Folio: text classifiers on corpora larger than memory. The module graph follows
// the data flow described in DESIGN.md section 1; each stage can be used alone.
let package = Package(
    name: "Folio",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "folio", targets: ["folio"]),
        .executable(name: "folio-serve", targets: ["folio-serve"]),
        .library(name: "FolioCore", targets: ["FolioCore"]),
        .library(name: "FolioCorpus", targets: ["FolioCorpus"]),
        .library(name: "FolioText", targets: ["FolioText"]),
        .library(name: "FolioShards", targets: ["FolioShards"]),
        .library(name: "FolioNN", targets: ["FolioNN"]),
        .library(name: "FolioPipeline", targets: ["FolioPipeline"]),
        .library(name: "FolioPreprocessing", targets: ["FolioPreprocessing"]),
        .library(name: "FolioMPI", targets: ["FolioMPI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // The HTTP service only (folio-serve); `make demo` builds the folio product alone.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // ICU behind an opaque C header: see DESIGN.md section 1 for why a system-library
        // module of ICU cannot sit beside Foundation in one Swift module.
        .target(
            name: "CICUShim",
            linkerSettings: [.linkedLibrary("icuuc"), .linkedLibrary("icudata")]
        ),
        // The LSTM's gate loops, compiled per instruction set and picked at load time (C
        // can, Swift cannot): see the header.
        .target(name: "CFolioKernels"),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),

        // Errors with a file and a place, atomic files: what every stage shares.
        .target(name: "FolioCore", dependencies: ["CFolioKernels"]),
        .target(name: "FolioCorpus", dependencies: ["FolioCore", "CZstd"]),
        .target(name: "FolioText", dependencies: ["FolioCore", "CICUShim"]),
        .target(name: "FolioShards", dependencies: ["FolioCore", "CZstd", "CFolioKernels"]),
        .target(name: "FolioNN", dependencies: ["FolioCore", "CBLAS", "CFolioKernels"]),
        // The ranks of an `mpirun` launch as a FolioCore.Communicator (DESIGN.md section 9).
        .target(name: "FolioMPI", dependencies: ["FolioCore", "CMPI"]),
        // Standard library and Foundation only: usable on its own by other programs.
        .target(name: "FolioPreprocessing"),
        .target(
            name: "FolioPipeline",
            dependencies: ["FolioCorpus", "FolioText", "FolioShards", "FolioNN", "FolioPreprocessing", .product(name: "TOMLKit", package: "TOMLKit")]),
        .executableTarget(
            name: "folio",
            dependencies: [
                "FolioPipeline",
                "FolioPreprocessing",
                "FolioShards",
                "FolioNN",
                "FolioText",
                "FolioMPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // The prediction service: Hummingbird routes over a batching pool of predictors.
        .executableTarget(
            name: "folio-serve",
            dependencies: [
                "FolioPipeline",
                "FolioNN",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Sources/folio-serve"
        ),

        // Temporary folders and the like, shared by the test targets.
        .target(name: "FolioTestSupport", dependencies: ["FolioCore", "FolioNN"], path: "Tests/FolioTestSupport"),
        .testTarget(name: "FolioCorpusTests", dependencies: ["FolioCorpus", "CZstd", "FolioTestSupport"]),
        .testTarget(name: "FolioTextTests", dependencies: ["FolioText", "FolioTestSupport"]),
        .testTarget(name: "FolioNNTests", dependencies: ["FolioNN", "FolioTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "FolioShardsTests", dependencies: ["FolioShards", "FolioTestSupport"]),
        .testTarget(
            name: "FolioPipelineTests", dependencies: ["FolioPipeline", "FolioTestSupport", "FolioNN", "FolioShards"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "FolioCLITests", dependencies: ["folio", "FolioTestSupport", "FolioShards", "FolioNN"]),
        .testTarget(name: "FolioServeTests", dependencies: ["folio-serve", "folio", "FolioTestSupport"]),
        .testTarget(
            name: "FolioPreprocessingTests", dependencies: ["FolioPreprocessing", "FolioTestSupport"],
            resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v6]
)

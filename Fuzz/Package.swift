// swift-tools-version:6.1
import PackageDescription

// Coverage-guided fuzz targets (libFuzzer), one executable per reader of outside data.
// Kept out of the main package: they link only when built with
// `-Xswiftc -sanitize=fuzzer,address` (libFuzzer supplies `main`). `make fuzz` builds and
// runs them; see docs/hardening.md.
let targets = [
    "fuzz-jsonl", "fuzz-utf8", "fuzz-tokenizer", "fuzz-shard", "fuzz-manifest", "fuzz-vocabulary",
    "fuzz-safetensors", "fuzz-checkpoint", "fuzz-pipeline", "fuzz-set", "fuzz-bundle",
]

let package = Package(
    name: "FolioFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Folio", path: "..")],
    targets: [
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver", .product(name: "FolioCore", package: "Folio"), .product(name: "FolioPipeline", package: "Folio")]),
    ] + targets.map { name in
        .executableTarget(
            name: name,
            dependencies: [
                "FuzzSupport",
                .product(name: "FolioCore", package: "Folio"),
                .product(name: "FolioCorpus", package: "Folio"),
                .product(name: "FolioText", package: "Folio"),
                .product(name: "FolioShards", package: "Folio"),
                .product(name: "FolioNN", package: "Folio"),
                .product(name: "FolioPipeline", package: "Folio"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    },
    swiftLanguageModes: [.v6]
)

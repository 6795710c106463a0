import FolioCore
import FolioPipeline

/// Parses a pipeline; what parses must pass `validate()` and come back the same from its
/// own TOML. Errors must name the file, or the `--set` assignment they come from.
public func checkParse(_ text: String, overrides: [String]) {
    do {
        let config = try PipelineConfig.parse(text, file: "fuzz.toml", baseFolder: "/fuzz", overrides: overrides)
        try config.validate()
        let again = try PipelineConfig.parse(try config.toml(), file: "again.toml", baseFolder: "/fuzz")
        check(again == config, "the TOML round trip changed the configuration: \(config) became \(again)")
    } catch {
        check(error.file != nil || error.place?.hasPrefix("--set ") == true, "error without the file's name: \(error)")
    }
}

import ArgumentParser
import Foundation

/// `-m/--model-dir DIR`: a model directory in the Hugging Face InternVL2 layout.
struct ModelDirectoryOptions: ParsableArguments {
    @Option(name: [.customShort("m"), .long], help: ArgumentHelp(
        "Model directory (config.json, *.safetensors, tokenizer.model).", valueName: "dir"))
    var modelDir: String

    var url: URL { URL(fileURLWithPath: modelDir, isDirectory: true) }

    func validate() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: modelDir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("model directory '\(modelDir)' does not exist")
        }
    }
}

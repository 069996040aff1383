import ArgumentParser
import Checkpoint
import Foundation
import ModelFactory

/// `internvl init-model --preset NAME -o DIR`: a random-weight checkpoint in the real InternVL2 layout.
struct InitModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init-model",
        abstract: "Write a random-weight InternVL2 checkpoint in the real layout (for demos, tests and benchmarks).",
        discussion: """
            Presets: \(ModelPreset.all.map(\.name).joined(separator: ", ")). The directory gets config.json, safetensors
            (sharded with model.safetensors.index.json above 4.9 GB, like the real checkpoints), a working
            SentencePiece tokenizer.model of the real vocabulary size, and the tokenizer JSON files.
            internvl2-8b writes about 16 GB in bf16.
            Example: internvl init-model --preset tiny -o /tmp/tiny
            """)

    @Option(help: ArgumentHelp("Model size: \(ModelPreset.all.map(\.name).joined(separator: " | ")).", valueName: "name"))
    var preset: String = "tiny"

    @Option(help: "Stored weight dtype: bf16 (as the real checkpoints), f16 or f32.")
    var dtype: String = "bf16"

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Directory to write.", valueName: "dir"))
    var output: String

    @Option(help: "Random seed (the same seed writes the same weights).")
    var seed: UInt64 = 1234

    @Option(help: "Override max_position_embeddings (a small value exercises dynamic NTK RoPE scaling).")
    var maxPositions: Int?

    @Flag(help: "Replace an existing non-empty directory.")
    var force = false

    func validate() throws {
        guard ModelPreset.named(preset) != nil else {
            throw ValidationError("unknown preset '\(preset)'; choose one of \(ModelPreset.all.map(\.name).joined(separator: ", "))")
        }
        guard TensorDType(rawValue: dtype.uppercased()) != nil else {
            throw ValidationError("--dtype '\(dtype)' is not one of bf16, f16, f32")
        }
        if let maxPositions, maxPositions < 2 { throw ValidationError("--max-positions must be at least 2") }
    }

    func run() throws {
        let directory = URL(fileURLWithPath: output, isDirectory: true)
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        if !contents.isEmpty && !force {
            throw InputError("\(output): directory is not empty (use --force to replace its model files)")
        }
        let generator = RandomCheckpoint(preset: ModelPreset.named(preset)!, dtype: TensorDType(rawValue: dtype.uppercased())!,
                                         seed: seed, maxPositions: maxPositions)
        let progress = ProgressBar("writing \(preset)", total: generator.weightBytes)
        let start = Date()
        try generator.write(to: directory) { done, _ in progress.update(done) }
        print("wrote \(preset) (\(CheckpointReport.bytes(generator.weightBytes)) of \(dtype) weights) to \(output) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
    }
}

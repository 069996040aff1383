import ArgumentParser
import Foundation
import InternVL
import Models

/// `--threads` and `--weights`: how a model is held and computed in this process.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Compute threads.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Weight format in memory: bf16 (exact for InternVL2 checkpoints), f32, q8_0 or q4_0 (quantized at load).")
    var weights: String = "bf16"

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard WeightFormat(rawValue: weights) != nil else {
            throw ValidationError("--weights '\(weights)' is not one of bf16, f32, q8_0, q4_0")
        }
    }

    /// Sizes the compute threads, then loads the model directory.
    func loadPipeline(_ directory: URL, limits: InternVLPipeline.Limits = .init()) throws -> InternVLPipeline {
        try ComputeThreads.configure(threads: threads)
        return try InternVLPipeline(modelDirectory: directory, limits: limits, weights: WeightFormat(rawValue: weights)!)
    }
}

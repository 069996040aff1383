import ArgumentParser
import Foundation
import InternVL
import Kernels
import Models

/// `--threads`, `--weights` and `--precision`: how a model is held and computed in this process.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Compute threads.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Weight format in memory: bf16 (exact for InternVL2 checkpoints), f32, q8_0 or q4_0 (quantized at load).")
    var weights: String = "bf16"

    @Option(help: ArgumentHelp(
        "How exactly matmuls use activations: exact (default; equal to the float32 reference up to rounding) or fast.",
        discussion: """
            fast rounds activations where that is quicker, as bf16 and llama.cpp-style deployments do: to bf16 in \
            bf16 GEMMs (prefill, vision) and to int8 blocks of 32 against q8_0/q4_0 weights. Outputs then differ \
            slightly from the reference and greedy tokens may diverge after many steps.
            """,
        valueName: "exact|fast"))
    var precision: String = MatmulPath.Precision.exact.name

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard WeightFormat(rawValue: weights) != nil else {
            throw ValidationError("--weights '\(weights)' is not one of bf16, f32, q8_0, q4_0")
        }
        guard MatmulPath.Precision(name: precision) != nil else {
            throw ValidationError("--precision '\(precision)' is not one of exact, fast")
        }
    }

    /// Sizes the compute threads and sets the matmul precision, then loads the model directory.
    func loadPipeline(_ directory: URL, limits: InternVLPipeline.Limits = .init()) throws -> InternVLPipeline {
        try ComputeThreads.configure(threads: threads)
        MatmulPath.Precision.setActive(MatmulPath.Precision(name: precision) ?? .exact)
        return try InternVLPipeline(modelDirectory: directory, limits: limits, weights: WeightFormat(rawValue: weights)!)
    }
}

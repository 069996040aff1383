import Checkpoint
import Foundation
import Kernels
import Models

/// Compute time of one decode step of an LLM stage, measured in process on the model the cluster runs: the stage's
/// layers (`Models.DecoderStage`) on one token of one sequence with `context` tokens already in its KV cache, plus
/// the embedding lookup on the first stage and the final norm and output head on the last, as a stage worker does.
public struct StageComputeBenchmark {
    /// The model (Hugging Face InternVL2 layout).
    public let modelDirectory: URL
    /// The format the stage's weights are converted to at load, as a worker does.
    public let weightFormat: WeightFormat
    /// Tokens cached before the timed steps.
    public var context: Int
    /// Timed decode steps (after one untimed step); the median is reported.
    public var steps: Int
    /// The model's language configuration.
    public let configuration: LanguageModelConfiguration
    private let store: CheckpointStore

    /// Reads the model's configuration and opens its checkpoint (weights are loaded per measured stage).
    public init(modelDirectory: URL, weightFormat: WeightFormat, context: Int, steps: Int) throws {
        self.modelDirectory = modelDirectory
        self.weightFormat = weightFormat
        self.context = context
        self.steps = steps
        configuration = try InternVLConfiguration(directory: modelDirectory).llm
        store = try CheckpointStore(directory: modelDirectory)
    }

    /// Median seconds of one decode step of layers `layers` (loaded for this measurement and released after).
    public func secondsPerStep(layers: Range<Int>) throws -> Double {
        precondition(context > 0 && steps > 0, "context and steps must be positive")
        let stage = try DecoderStage(store: store, configuration: configuration, layers: layers, weightFormat: weightFormat)
        let h = configuration.hiddenSize
        let cache = stage.makeCache(capacity: context + steps + 1)
        let tokenIDs = (0..<context).map { 100 + $0 % max(1, configuration.vocabularySize - 100) }
        if stage.holdsEmbeddings {
            _ = try stage.forward(tokenIDs: tokenIDs, cache: cache)
        } else {
            _ = try stage.forward(LoopbackLink.activations(count: context * h, hidden: h), cache: cache)
        }
        let row = LoopbackLink.activations(count: h, hidden: h)
        let clock = ContinuousClock()
        var times: [Double] = []
        for step in 0...steps {
            let start = clock.now
            let output = stage.holdsEmbeddings
                ? try stage.forward(tokenIDs: [tokenIDs[step % tokenIDs.count]], cache: cache)
                : try stage.forward(row, cache: cache)
            if stage.holdsHead {
                let logits = try stage.logits(output)
                _ = Sampler.argmax(logits)
            }
            if step > 0 { times.append(seconds(clock.now - start)) }
        }
        times.sort()
        return times[times.count / 2]
    }
}

import ArgumentParser
import Checkpoint
import Cluster
import Foundation

/// `internvl cluster ...`: describe, check and run a cluster from its cluster.yaml.
struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Check a cluster.yaml and print its plan, or start its local processes.",
        subcommands: [ClusterCheckCommand.self, ClusterUpCommand.self])
}

/// `-c/--cluster FILE` and `-m/--model-dir DIR` (overrides model.path of the file).
struct ClusterFileOptions: ParsableArguments {
    @Option(name: [.customShort("c"), .long], help: ArgumentHelp("The cluster description.", valueName: "cluster.yaml"))
    var cluster: String = "cluster.yaml"

    @Option(name: [.customShort("m"), .long], help: ArgumentHelp(
        "Model directory; overrides model.path of the cluster file.", valueName: "dir"))
    var modelDir: String?

    /// The validated configuration with any `--model-dir` override applied.
    func load() throws -> ClusterConfiguration {
        var configuration = try ClusterConfiguration.load(path: cluster)
        if let modelDir { configuration.model.path = modelDir }
        return configuration
    }
}

/// `internvl cluster check -c FILE`: validates the file against the model and prints the plan.
struct ClusterCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a cluster.yaml against its model and print the plan.",
        discussion: """
            Prints, per worker, what it runs (vision, or a decoder layer range with embeddings/head), the memory its
            weights need in the configured format, its KV-cache budget in tokens, and the bytes per token each link
            between stages carries. An impossible plan (ranges outside the model, a KV budget too small for one
            maximal request, memory_mb exceeded) is refused with the field at fault; exit code 2.
            """)

    @OptionGroup var options: ClusterFileOptions

    func run() throws {
        let configuration = try options.load()
        let modelURL = URL(fileURLWithPath: configuration.model.path, isDirectory: true)
        let model = try InternVLConfiguration(directory: modelURL)
        let store = try CheckpointStore(directory: modelURL)
        let plan = try ClusterPlan(configuration: configuration, model: model, store: store, file: options.cluster)
        print("cluster     \(options.cluster)")
        print("model       \(configuration.model.path) (\(model.llm.layerCount) layers, weights \(configuration.weightFormat))")
        print("coordinator control \(configuration.coordinator.control), clients \(configuration.coordinator.clients)")
        print("")
        print("worker        role     layers      weights      kv budget               threads")
        for placement in plan.placements {
            let layers: String
            if placement.role == .vision {
                layers = "-"
            } else {
                layers = "\(placement.layers.lowerBound)..<\(placement.layers.upperBound)"
                    + (placement.hasEmbeddings ? " +emb" : "") + (placement.hasHead ? " +head" : "")
            }
            let kv = placement.role == .vision ? "-"
                : "\(CheckpointReport.bytes(placement.kvBudgetBytes)) (\(placement.kvTokenCapacity) tok)"
            print(pad(placement.worker, 14) + pad(placement.role.rawValue, 9) + pad(layers, 12)
                  + pad(CheckpointReport.bytes(placement.weightBytes), 13) + pad(kv, 24) + "\(placement.threads)")
        }
        print("")
        print("links       \(plan.linkBytesPerToken) bytes per token between stages (\(configuration.activationEncoding)), \(CheckpointReport.bytes(plan.imageBytesPerTile)) of image embeddings per tile")
        print("plan ok")
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text.padding(toLength: width, withPad: " ", startingAt: 0)
    }
}

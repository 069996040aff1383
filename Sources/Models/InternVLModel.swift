import Checkpoint
import Kernels
import Foundation

/// The whole InternVL2 chat model in one process: InternViT, the projector and every InternLM2 layer.
///
/// It turns pixel values into image embeddings, embeds a prompt with the image embeddings spliced in at the
/// `<IMG_CONTEXT>` positions, and runs prefill and decode steps over a per-sequence KV cache. It knows nothing of
/// the tokenizer: callers pass token ids and the id of `<IMG_CONTEXT>`. One call at a time per model instance
/// (the decoder reuses its scratch buffers); run several sequences by giving each its own `KVCache`.
public final class InternVLModel {
    /// The configuration the model was loaded with.
    public let configuration: InternVLConfiguration
    /// The vision encoder.
    public let vision: InternViT
    /// Pixel shuffle + mlp1.
    public let projector: Projector
    /// All decoder layers (embeddings and head included).
    public let language: DecoderStage

    /// Loads every part from `store`, Linear weights in `weightFormat` (bf16: exact for bf16 checkpoints; q8_0 and
    /// q4_0 quantize at load). Fails if a tensor is missing, has another shape, or if any stored tensor is left unused.
    public init(store: CheckpointStore, configuration: InternVLConfiguration, weightFormat: WeightFormat = .bf16) throws {
        self.configuration = configuration
        vision = try InternViT(store: store, configuration: configuration.vision, weightFormat: weightFormat)
        projector = try Projector(store: store, configuration: configuration, weightFormat: weightFormat)
        language = try DecoderStage(store: store, configuration: configuration.llm, layers: 0..<configuration.llm.layerCount,
                                    weightFormat: weightFormat)
        let unused = store.unusedTensorNames
        guard unused.isEmpty else { throw ModelError.unusedTensors(file: store.filePath(of: unused[0]), names: unused) }
        guard vision.hiddenStateIndex(selectLayer: configuration.selectLayer) != nil else {
            throw ModelError.unsupported(field: "select_layer", value: "\(configuration.selectLayer)")
        }
    }

    /// Opens `directory` (config.json + safetensors) and loads the model.
    public convenience init(directory: URL, weightFormat: WeightFormat = .bf16) throws {
        try self.init(store: CheckpointStore(directory: directory), configuration: InternVLConfiguration(directory: directory),
                      weightFormat: weightFormat)
    }

    /// `vit_embeds` [tiles, tokensPerTile, H_llm] of `pixelValues` [tiles, 3, height, width]: the ViT hidden state
    /// chosen by `select_layer`, then the projector.
    public func encodeImages(pixelValues: [Float], tiles: Int, height: Int, width: Int) throws -> [Float] {
        let features = try vision.forward(pixelValues: pixelValues, tiles: tiles, height: height, width: width,
                                          selectLayer: configuration.selectLayer)
        return try projector.forward(features.selected, tiles: tiles, gridRows: features.gridRows, gridCols: features.gridCols)
    }

    /// Token embeddings of `tokenIDs` [n, H].
    public func embed(_ tokenIDs: [Int]) throws -> [Float] { try language.embed(tokenIDs) }

    /// Overwrites, in order, the rows of `embeddings` [n, H] at every position whose id is `imageContextTokenID`
    /// with consecutive rows of `imageEmbeddings` [m, H]. The number of such positions must equal m exactly.
    public func spliceImageEmbeddings(_ imageEmbeddings: [Float], into embeddings: inout [Float], tokenIDs: [Int],
                                      imageContextTokenID: Int) throws {
        let h = configuration.llm.hiddenSize
        guard imageEmbeddings.count % h == 0 else {
            throw ModelError.badShape(what: "image embeddings", expected: "[rows, \(h)]", got: "\(imageEmbeddings.count) values")
        }
        guard embeddings.count == tokenIDs.count * h else {
            throw ModelError.badShape(what: "prompt embeddings", expected: "\(tokenIDs.count * h) values", got: "\(embeddings.count)")
        }
        let positions = tokenIDs.indices.filter { tokenIDs[$0] == imageContextTokenID }
        guard positions.count == imageEmbeddings.count / h else {
            throw ModelError.imageTokenCountMismatch(contextTokens: positions.count, embeddingRows: imageEmbeddings.count / h)
        }
        for (row, position) in positions.enumerated() {
            embeddings.replaceSubrange(position * h..<(position + 1) * h, with: imageEmbeddings[row * h..<(row + 1) * h])
        }
    }

    /// A KV cache for one sequence of up to `capacity` positions.
    public func makeCache(capacity: Int) -> KVCache { language.makeCache(capacity: capacity) }

    /// Runs the prompt `tokenIDs` (with `imageEmbeddings` spliced at `<IMG_CONTEXT>` positions, if any) after the
    /// positions already in `cache`, and returns the logits of the last position [vocab]
    /// (`allPositions`: of every prompt position, [n, vocab]).
    public func prefill(tokenIDs: [Int], imageEmbeddings: [Float] = [], imageContextTokenID: Int? = nil,
                        cache: KVCache, allPositions: Bool = false) throws -> [Float] {
        var embeddings = try embed(tokenIDs)
        if let imageContextTokenID {
            try spliceImageEmbeddings(imageEmbeddings, into: &embeddings, tokenIDs: tokenIDs, imageContextTokenID: imageContextTokenID)
        } else if !imageEmbeddings.isEmpty {
            throw ModelError.badParameter(name: "imageContextTokenID", value: "nil",
                                          rule: "is required when image embeddings are given")
        }
        let hidden = try language.forward(embeddings, cache: cache)
        return try language.logits(hidden, lastOnly: !allPositions)
    }

    /// Feeds one generated token at the next position and returns its logits [vocab].
    public func decodeStep(tokenID: Int, cache: KVCache) throws -> [Float] {
        try language.logits(language.forward(embed([tokenID]), cache: cache))
    }
}

import Checkpoint
import Kernels

/// One InternLM2 decoder layer's weights.
struct DecoderLayer {
    let attentionNorm: FloatBuffer   // [H]
    let wqkv: LinearWeight           // [(heads + 2*kvHeads) * headDim, H], rows reordered at load to [all q | all k | all v]
    let wo: LinearWeight             // [H, heads * headDim]
    let ffnNorm: FloatBuffer         // [H]
    let w1: LinearWeight             // gate [I, H]
    let w3: LinearWeight             // up [I, H]
    let w2: LinearWeight             // down [H, I]
}

/// Activations of one decoder forward call over `rows` rows (of one or several sequences), grown on demand and
/// reused across calls, so a decode step allocates nothing inside the layers.
final class DecoderScratch {
    let rows: Int
    let residual, normed, qkv, attended, branch, gate, up: FloatBuffer
    /// Absolute position of each row in its own sequence, for RoPE.
    let positions: UnsafeMutableBufferPointer<Int32>
    /// Per call: each item's first row, row count, cached length before the call and RoPE table.
    var itemFirstRow: [Int] = [], itemRows: [Int] = [], itemPast: [Int] = [], itemTables: [RopeTable] = []
    let attention: ParallelAttention

    init(rows n: Int, configuration c: LanguageModelConfiguration) {
        rows = n
        residual = FloatBuffer(count: n * c.hiddenSize)
        normed = FloatBuffer(count: n * c.hiddenSize)
        qkv = FloatBuffer(count: n * (c.headCount + 2 * c.kvHeadCount) * c.headDim)
        attended = FloatBuffer(count: n * c.headCount * c.headDim)
        branch = FloatBuffer(count: n * c.hiddenSize)
        gate = FloatBuffer(count: n * c.intermediateSize)
        up = FloatBuffer(count: n * c.intermediateSize)
        positions = .allocate(capacity: n)
        positions.initialize(repeating: 0)
        attention = ParallelAttention(headDim: c.headDim)
    }

    deinit { positions.deallocate() }
}

/// A contiguous range of InternLM2 decoder layers `[a, b)`: the unit a pipeline stage runs.
///
/// It holds the token embeddings only when a == 0 and the final RMSNorm + output head only when b == L.
/// `forward` runs its layers on hidden states [n, H] for the next n positions of one sequence (positions
/// `cache.length ..< cache.length + n`, causal over everything in the cache) and returns the residual stream after
/// its last layer, so running stage [0, k) then [k, L) gives exactly what [0, L) gives; `forward(batch:)` does the
/// same for several sequences in one pass (a single sequence is a batch of one). Not thread-safe: one forward call
/// at a time per stage (it reuses its scratch buffers).
public final class DecoderStage {
    /// The language-model configuration.
    public let configuration: LanguageModelConfiguration
    /// The layers this stage runs.
    public let layers: Range<Int>
    let tokenEmbeddings: FloatBuffer?    // [vocab, H] when layers.lowerBound == 0
    let finalNorm: FloatBuffer?          // [H] when layers.upperBound == L
    let output: LinearWeight?            // [vocab, H] when layers.upperBound == L
    let decoderLayers: [DecoderLayer]
    /// The rotary embedding (dynamic NTK per forward call).
    public let rotary: RotaryEmbedding
    let ropeTables: RopeTables
    private var scratch: DecoderScratch?

    /// Whether this stage embeds token ids (it starts at layer 0).
    public var holdsEmbeddings: Bool { tokenEmbeddings != nil }
    /// Whether this stage produces logits (it ends at the last layer).
    public var holdsHead: Bool { output != nil }

    /// Loads the tensors of layers `layers` (plus embeddings / final norm / head when the range touches the ends).
    public init(store: CheckpointStore, configuration c: LanguageModelConfiguration, layers: Range<Int>, weightFormat: WeightFormat = .bf16) throws {
        guard layers.lowerBound >= 0, layers.upperBound <= c.layerCount, !layers.isEmpty else {
            throw ModelError.badParameter(name: "layers", value: "\(layers.lowerBound)..<\(layers.upperBound)",
                                          rule: "must be a non-empty range inside 0..<\(c.layerCount)")
        }
        guard !c.tieWordEmbeddings else {
            throw ModelError.unsupported(field: "llm_config.tie_word_embeddings", value: "true")
        }
        configuration = c
        self.layers = layers
        rotary = try RotaryEmbedding(configuration: c)
        ropeTables = RopeTables(rotary: rotary)
        let load = WeightLoader(store: store, format: weightFormat)
        let names = CheckpointNames.Language.self
        let h = c.hiddenSize
        let attentionWidth = c.headCount * c.headDim
        tokenEmbeddings = layers.lowerBound == 0 ? try load.buffer(names.tokenEmbeddings, shape: [c.vocabularySize, h]) : nil
        decoderLayers = try layers.map { n in
            let prefix = names.layer(n)
            return DecoderLayer(
                attentionNorm: try load.buffer(prefix + "attention_norm.weight", shape: [h]),
                wqkv: try load.linear(prefix + "attention.wqkv", outFeatures: (c.headCount + 2 * c.kvHeadCount) * c.headDim,
                                      inFeatures: h, bias: false, rowOrder: Self.unpackedQKVRowOrder(c)),
                wo: try load.linear(prefix + "attention.wo", outFeatures: h, inFeatures: attentionWidth, bias: false),
                ffnNorm: try load.buffer(prefix + "ffn_norm.weight", shape: [h]),
                w1: try load.linear(prefix + "feed_forward.w1", outFeatures: c.intermediateSize, inFeatures: h, bias: false),
                w3: try load.linear(prefix + "feed_forward.w3", outFeatures: c.intermediateSize, inFeatures: h, bias: false),
                w2: try load.linear(prefix + "feed_forward.w2", outFeatures: h, inFeatures: c.intermediateSize, bias: false))
        }
        let last = layers.upperBound == c.layerCount
        finalNorm = last ? try load.buffer(names.finalNorm, shape: [h]) : nil
        output = last ? try load.linear(names.output, outFeatures: c.vocabularySize, inFeatures: h, bias: false) : nil
    }

    /// An empty KV cache for this stage's layers, for up to `capacity` positions of one sequence.
    public func makeCache(capacity: Int) -> KVCache {
        KVCache(layerCount: layers.count, capacity: capacity, rowWidth: configuration.kvHeadCount * configuration.headDim)
    }

    /// Token embeddings [ids.count, H]. Throws when the stage does not start at layer 0 or an id is out of range.
    public func embed(_ tokenIDs: [Int]) throws -> [Float] {
        guard let table = tokenEmbeddings else { throw ModelError.stageLacks(part: "token embeddings", layers: layers) }
        let h = configuration.hiddenSize
        var result = [Float](repeating: 0, count: tokenIDs.count * h)
        for (row, id) in tokenIDs.enumerated() {
            guard (0..<configuration.vocabularySize).contains(id) else {
                throw ModelError.tokenOutOfRange(id: id, vocabularySize: configuration.vocabularySize)
            }
            result.withUnsafeMutableBufferPointer {
                ($0.baseAddress! + row * h).update(from: table.pointer + id * h, count: h)
            }
        }
        return result
    }

    /// Runs this stage's layers on `hiddenStates` [n, H] at positions `cache.length ..< cache.length + n`, appends the
    /// n keys/values of each layer to `cache`, and returns the residual stream after the last layer [n, H].
    ///
    /// RoPE base: from the total key length of this call (`cache.length + n`), dynamic NTK when it exceeds
    /// `max_position_embeddings`; keys already cached keep their rotation.
    public func forward(_ hiddenStates: [Float], cache: KVCache) throws -> [Float] {
        try forward(batch: [DecoderBatchItem(hiddenStates: hiddenStates, cache: cache)])[0]
    }

    /// `forward(embed(tokenIDs), cache:)`: the first stage's entry point for token ids.
    public func forward(tokenIDs: [Int], cache: KVCache) throws -> [Float] {
        try forward(embed(tokenIDs), cache: cache)
    }

    /// Final RMSNorm of `hiddenStates` [n, H] (the last stage only).
    public func normalize(_ hiddenStates: [Float]) throws -> [Float] {
        guard let finalNorm else { throw ModelError.stageLacks(part: "final norm", layers: layers) }
        let h = configuration.hiddenSize
        var out = [Float](repeating: 0, count: hiddenStates.count)
        hiddenStates.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer {
                ParallelOps.rmsNorm(x.baseAddress!, rows: hiddenStates.count / h, width: h, weight: finalNorm,
                                    epsilon: Float(configuration.rmsNormEpsilon), into: $0.baseAddress!)
            }
        }
        return out
    }

    /// Logits [rows, vocab] of residual-stream rows `hiddenStates` [n, H] (final norm, then the output head);
    /// with `lastOnly` just the last row's [vocab].
    public func logits(_ hiddenStates: [Float], lastOnly: Bool = true) throws -> [Float] {
        guard let output else { throw ModelError.stageLacks(part: "output head", layers: layers) }
        let h = configuration.hiddenSize
        let selected = lastOnly ? Array(hiddenStates.suffix(h)) : hiddenStates
        let normed = try normalize(selected)
        let rows = normed.count / h
        var result = [Float](repeating: 0, count: rows * configuration.vocabularySize)
        normed.withUnsafeBufferPointer { x in
            result.withUnsafeMutableBufferPointer { linear(x.baseAddress!, rows: rows, output, $0.baseAddress!) }
        }
        return result
    }

    /// The checkpoint's wqkv rows are packed per KV group g as [q heads g*G ..< g*G+G, key g, value g]; the stage
    /// stores them as [every q head | every key head | every value head], so RoPE rotates q and k in one pass over
    /// the first (heads + kvHeads) heads of a row and attention reads q in place. Entry i is the checkpoint row of
    /// stored row i.
    static func unpackedQKVRowOrder(_ c: LanguageModelConfiguration) -> [Int] {
        let hd = c.headDim, group = c.groupSize
        func headRows(_ packedHead: Int) -> Range<Int> { (packedHead * hd)..<((packedHead + 1) * hd) }
        var order: [Int] = []
        for g in 0..<c.kvHeadCount {
            for j in 0..<group { order += headRows(g * (group + 2) + j) }
        }
        for g in 0..<c.kvHeadCount { order += headRows(g * (group + 2) + group) }
        for g in 0..<c.kvHeadCount { order += headRows(g * (group + 2) + group + 1) }
        return order
    }

    /// Scratch for at least `rows` rows.
    func scratchFor(rows: Int) -> DecoderScratch {
        if let scratch, scratch.rows >= rows { return scratch }
        let grown = DecoderScratch(rows: max(rows, scratch?.rows ?? 0), configuration: configuration)
        scratch = grown
        return grown
    }

    /// Runs every layer on the residual rows `s.residual` [rows, H] of the items described in `s` (their first
    /// row, row count, past length and RoPE table, positions filled), appending each item's keys and values to
    /// its cache at `past ..< past + n` (the caller advances the cache lengths afterwards).
    func runLayers(_ items: [DecoderBatchItem], rows n: Int, scratch s: DecoderScratch) {
        for (index, layer) in decoderLayers.enumerated() {
            forwardLayer(layer, index: index, items: items, rows: n, scratch: s)
        }
    }

    /// `x += wo(Attention(RMSNorm(x)))`, then `x += w2(silu(w1(RMSNorm(x))) * w3(RMSNorm(x)))`, over the rows of
    /// every item at once; RoPE, the cache append and attention per item.
    private func forwardLayer(_ layer: DecoderLayer, index: Int, items: [DecoderBatchItem], rows n: Int, scratch s: DecoderScratch) {
        let c = configuration
        let h = c.hiddenSize
        let hd = c.headDim
        let kvWidth = c.kvHeadCount * hd
        let queryWidth = c.headCount * hd
        let packedWidth = queryWidth + 2 * kvWidth
        let epsilon = Float(c.rmsNormEpsilon)
        let x = s.residual.pointer

        ParallelOps.rmsNorm(x, rows: n, width: h, weight: layer.attentionNorm, epsilon: epsilon, into: s.normed.pointer)
        linear(s.normed.pointer, rows: n, layer.wqkv, s.qkv.pointer)
        let qkv = UnsafeMutableBufferPointer(start: s.qkv.pointer, count: n * packedWidth)
        let positions = UnsafeBufferPointer(s.positions)
        for (item, entry) in items.enumerated() {
            let cache = entry.cache
            let first = s.itemFirstRow[item], count = s.itemRows[item], past = s.itemPast[item]
            let table = s.itemTables[item]
            let keys = cache.keys[index].pointer, values = cache.values[index].pointer
            // Rotate q and k (the first heads + kvHeads heads of each row), then append k and v to the cache.
            ParallelOps.forEachRowChunk(rows: count, width: packedWidth) { chunk in
                let rows = (first + chunk.lowerBound)..<(first + chunk.upperBound)
                ParallelOps.checked { () throws(OpsError) in
                    try Ops.applyRope(qkv, heads: c.headCount + c.kvHeadCount, rows: rows, positions: positions,
                                      table: table, rowStride: packedWidth)
                }
                for r in rows {
                    let row = s.qkv.pointer + r * packedWidth
                    let position = past + r - first
                    (keys + position * kvWidth).update(from: row + queryWidth, count: kvWidth)
                    (values + position * kvWidth).update(from: row + queryWidth + kvWidth, count: kvWidth)
                }
            }
            s.attention.jobs.append(AttentionJob(
                queries: s.qkv.pointer + first * packedWidth, keys: keys, values: values,
                output: s.attended.pointer + first * queryWidth,
                shape: AttentionShape(queries: count, keys: past + count, heads: c.headCount, kvHeads: c.kvHeadCount,
                                      headDim: hd, mask: .causal(queryOffset: past), qStride: packedWidth,
                                      kStride: kvWidth, vStride: kvWidth, outStride: queryWidth)))
        }
        s.attention.run()
        linear(s.attended.pointer, rows: n, layer.wo, s.branch.pointer)
        ParallelOps.addResidual(s.branch.pointer, rows: n, width: h, into: x)

        ParallelOps.rmsNorm(x, rows: n, width: h, weight: layer.ffnNorm, epsilon: epsilon, into: s.normed.pointer)
        linear(s.normed.pointer, rows: n, layer.w1, s.gate.pointer)
        linear(s.normed.pointer, rows: n, layer.w3, s.up.pointer)
        ParallelOps.siluMultiply(s.gate.pointer, up: s.up.pointer, rows: n, width: c.intermediateSize)
        linear(s.gate.pointer, rows: n, layer.w2, s.branch.pointer)
        ParallelOps.addResidual(s.branch.pointer, rows: n, width: h, into: x)
    }
}

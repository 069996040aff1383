import Checkpoint
import Kernels

/// One InternLM2 decoder layer's weights (f32, converted at load).
struct DecoderLayer {
    let attentionNorm: FloatBuffer   // [H]
    let wqkv: LinearWeight           // [(heads + 2*kvHeads) * headDim, H], packed per KV group: [q_g0..q_g(G-1), k_g, v_g]
    let wo: LinearWeight             // [H, heads * headDim]
    let ffnNorm: FloatBuffer         // [H]
    let w1: LinearWeight             // gate [I, H]
    let w3: LinearWeight             // up [I, H]
    let w2: LinearWeight             // down [H, I]
}

/// Activations of one decoder forward call, grown on demand and reused across calls.
final class DecoderScratch {
    let rows: Int, keys: Int
    let normed, qkv, queries, attended, branch, gate, up, scores: FloatBuffer

    init(rows n: Int, keys: Int, configuration c: LanguageModelConfiguration) {
        rows = n
        self.keys = keys
        normed = FloatBuffer(count: n * c.hiddenSize)
        qkv = FloatBuffer(count: n * (c.headCount + 2 * c.kvHeadCount) * c.headDim)
        queries = FloatBuffer(count: n * c.headCount * c.headDim)
        attended = FloatBuffer(count: n * c.headCount * c.headDim)
        branch = FloatBuffer(count: n * c.hiddenSize)
        gate = FloatBuffer(count: n * c.intermediateSize)
        up = FloatBuffer(count: n * c.intermediateSize)
        scores = FloatBuffer(count: keys)
    }
}

/// A contiguous range of InternLM2 decoder layers `[a, b)`: the unit a pipeline stage runs.
///
/// It holds the token embeddings only when a == 0 and the final RMSNorm + output head only when b == L.
/// `forward` runs its layers on hidden states [n, H] for the next n positions of one sequence (positions
/// `cache.length ..< cache.length + n`, causal over everything in the cache) and returns the residual stream after
/// its last layer, so running stage [0, k) then [k, L) gives exactly what [0, L) gives. Not thread-safe: one
/// forward call at a time per stage (it reuses its scratch buffers).
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
                                      inFeatures: h, bias: false),
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
        let c = configuration
        let h = c.hiddenSize
        guard hiddenStates.count % h == 0, !hiddenStates.isEmpty else {
            throw ModelError.badShape(what: "decoder input", expected: "[n > 0, \(h)]", got: "\(hiddenStates.count) values")
        }
        guard cache.layerCount == layers.count, cache.rowWidth == c.kvHeadCount * c.headDim else {
            throw ModelError.badShape(what: "KV cache", expected: "\(layers.count) layers of width \(c.kvHeadCount * c.headDim)",
                                      got: "\(cache.layerCount) layers of width \(cache.rowWidth)")
        }
        let n = hiddenStates.count / h
        let past = cache.length
        let total = past + n
        guard total <= cache.capacity else { throw ModelError.cacheFull(capacity: cache.capacity, requested: total) }
        let table = rotary.table(positions: past..<total, base: rotary.base(kvLength: total))
        let s = scratchFor(rows: n, keys: total)
        var x = hiddenStates
        x.withUnsafeMutableBufferPointer { residual in
            for (index, layer) in decoderLayers.enumerated() {
                forwardLayer(layer, residual.baseAddress!, rows: n, past: past, table: table,
                             keys: cache.keys[index].pointer, values: cache.values[index].pointer, scratch: s)
            }
        }
        cache.length = total
        return x
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
                rmsNorm(x.baseAddress!, rows: hiddenStates.count / h, width: h, weight: finalNorm.pointer,
                        epsilon: Float(configuration.rmsNormEpsilon), $0.baseAddress!)
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

    private func scratchFor(rows: Int, keys: Int) -> DecoderScratch {
        if let scratch, scratch.rows >= rows, scratch.keys >= keys { return scratch }
        let grown = DecoderScratch(rows: max(rows, scratch?.rows ?? 0), keys: max(keys, scratch?.keys ?? 0), configuration: configuration)
        scratch = grown
        return grown
    }

    /// `x += wo(Attention(RMSNorm(x)))`, then `x += w2(silu(w1(RMSNorm(x))) * w3(RMSNorm(x)))`.
    private func forwardLayer(_ layer: DecoderLayer, _ x: UnsafeMutablePointer<Float>, rows n: Int, past: Int,
                              table: RotaryTable, keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>,
                              scratch s: DecoderScratch) {
        let c = configuration
        let h = c.hiddenSize
        let hd = c.headDim
        let group = c.groupSize
        let kvWidth = c.kvHeadCount * hd
        let queryWidth = c.headCount * hd
        let epsilon = Float(c.rmsNormEpsilon)

        rmsNorm(x, rows: n, width: h, weight: layer.attentionNorm.pointer, epsilon: epsilon, s.normed.pointer)
        linear(s.normed.pointer, rows: n, layer.wqkv, s.qkv.pointer)
        // Unpack each KV group g = [q heads g*G ..< g*G+G, key g, value g]; rotate q and k; append k, v to the cache.
        let packedWidth = (c.headCount + 2 * c.kvHeadCount) * hd
        for r in 0..<n {
            let packed = s.qkv.pointer + r * packedWidth
            let keyRow = keys + (past + r) * kvWidth
            let valueRow = values + (past + r) * kvWidth
            for g in 0..<c.kvHeadCount {
                let block = packed + g * (group + 2) * hd
                for j in 0..<group {
                    let query = s.queries.pointer + r * queryWidth + (g * group + j) * hd
                    query.update(from: block + j * hd, count: hd)
                    table.rotate(query, row: r)
                }
                (keyRow + g * hd).update(from: block + group * hd, count: hd)
                table.rotate(keyRow + g * hd, row: r)
                (valueRow + g * hd).update(from: block + (group + 1) * hd, count: hd)
            }
        }
        let layout = AttentionLayout(heads: c.headCount, kvHeads: c.kvHeadCount, headDim: hd,
                                     queryStride: queryWidth, keyStride: kvWidth)
        attention(q: s.queries.pointer, k: keys, v: values, queryCount: n, keyCount: past + n, layout: layout,
                  causalOffset: past, scores: s.scores.pointer, out: s.attended.pointer)
        linear(s.attended.pointer, rows: n, layer.wo, s.branch.pointer)
        for i in 0..<(n * h) { x[i] += s.branch.pointer[i] }

        rmsNorm(x, rows: n, width: h, weight: layer.ffnNorm.pointer, epsilon: epsilon, s.normed.pointer)
        linear(s.normed.pointer, rows: n, layer.w1, s.gate.pointer)
        linear(s.normed.pointer, rows: n, layer.w3, s.up.pointer)
        siluMultiply(s.gate.pointer, up: s.up.pointer, count: n * c.intermediateSize)
        linear(s.gate.pointer, rows: n, layer.w2, s.branch.pointer)
        for i in 0..<(n * h) { x[i] += s.branch.pointer[i] }
    }
}

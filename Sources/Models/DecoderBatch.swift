/// One sequence's rows in a batched forward call: hidden states [n, H] for its next n positions, and its cache.
public struct DecoderBatchItem {
    /// [n, H], n >= 1: a prefill chunk (n > 1, possibly after earlier chunks) or one decode row.
    public var hiddenStates: [Float]
    /// The sequence's KV cache for this stage's layers; the call appends n positions.
    public var cache: KVCache

    /// An item of `hiddenStates` [n, H] continuing the sequence held in `cache`.
    public init(hiddenStates: [Float], cache: KVCache) {
        self.hiddenStates = hiddenStates
        self.cache = cache
    }
}

extension DecoderStage {
    /// Throws the `ModelError` `forward(batch:)` throws for `item` on its own: no rows, a width other than H, a cache
    /// made for other layers, or a cache that cannot hold the new positions. `index` names the item in messages
    /// (nil: a single input). Lets a caller find which of its sequences is at fault before a batched call.
    public func validate(_ item: DecoderBatchItem, index: Int? = nil) throws {
        let h = configuration.hiddenSize
        let kvWidth = configuration.kvHeadCount * configuration.headDim
        guard !item.hiddenStates.isEmpty, item.hiddenStates.count % h == 0 else {
            throw ModelError.badShape(what: index.map { "decoder batch item \($0) hidden states" } ?? "decoder input",
                                      expected: "[n > 0, \(h)]", got: "\(item.hiddenStates.count) values")
        }
        let cache = item.cache
        guard cache.layerCount == layers.count, cache.rowWidth == kvWidth else {
            throw ModelError.badShape(what: index.map { "KV cache of decoder batch item \($0)" } ?? "KV cache",
                                      expected: "\(layers.count) layers of width \(kvWidth)",
                                      got: "\(cache.layerCount) layers of width \(cache.rowWidth)")
        }
        let requested = cache.length + item.hiddenStates.count / h
        guard requested <= cache.capacity else { throw ModelError.cacheFull(capacity: cache.capacity, requested: requested) }
    }

    /// Runs every item's rows through the stage's layers in one pass: each Linear multiplies the concatenated
    /// rows of all items (weights read once per call); RoPE (with each sequence's own dynamic-NTK base from its
    /// own total length) and causal attention run per sequence over its own cache. Returns each item's output
    /// [n_i, H], in order. Equal to calling forward(_:cache:) per item (up to matmul rounding).
    ///
    /// Throws before touching any cache when an item has no rows or a width other than H, when a cache was made
    /// for other layers or appears twice, or when a cache cannot hold its new positions.
    public func forward(batch: [DecoderBatchItem]) throws -> [[Float]] {
        guard !batch.isEmpty else { return [] }
        let h = configuration.hiddenSize
        var totalRows = 0
        for (index, item) in batch.enumerated() {
            try validate(item, index: batch.count == 1 ? nil : index)
            if batch[..<index].contains(where: { $0.cache === item.cache }) {
                throw ModelError.badParameter(name: "batch[\(index)].cache", value: "the cache of an earlier item",
                                              rule: "each sequence may appear once per call")
            }
            totalRows += item.hiddenStates.count / h
        }

        let s = scratchFor(rows: totalRows)
        s.itemFirstRow.removeAll(keepingCapacity: true)
        s.itemRows.removeAll(keepingCapacity: true)
        s.itemPast.removeAll(keepingCapacity: true)
        s.itemTables.removeAll(keepingCapacity: true)
        var row = 0
        for item in batch {
            let n = item.hiddenStates.count / h
            let past = item.cache.length
            s.itemTables.append(try ropeTables.table(kvLength: past + n))
            s.itemFirstRow.append(row)
            s.itemRows.append(n)
            s.itemPast.append(past)
            item.hiddenStates.withUnsafeBufferPointer {
                (s.residual.pointer + row * h).update(from: $0.baseAddress!, count: n * h)
            }
            for r in 0..<n { s.positions[row + r] = Int32(past + r) }
            row += n
        }
        runLayers(batch, rows: totalRows, scratch: s)
        return batch.indices.map { index in
            let item = batch[index]
            item.cache.length += s.itemRows[index]
            let start = s.residual.pointer + s.itemFirstRow[index] * h
            return Array(UnsafeBufferPointer(start: start, count: s.itemRows[index] * h))
        }
    }

    /// Logits [vocab] of the last row of each item's hidden states (one head matmul for all): last stage only.
    public func logits(lastRowsOf hiddenStates: [[Float]]) throws -> [[Float]] {
        guard let output, let finalNorm else { throw ModelError.stageLacks(part: "output head", layers: layers) }
        guard !hiddenStates.isEmpty else { return [] }
        let h = configuration.hiddenSize
        let vocabulary = configuration.vocabularySize
        let rows = hiddenStates.count
        let lastRows = FloatBuffer(count: rows * h)
        for (index, states) in hiddenStates.enumerated() {
            guard !states.isEmpty, states.count % h == 0 else {
                throw ModelError.badShape(what: "hidden states \(index) for logits", expected: "[n > 0, \(h)]",
                                          got: "\(states.count) values")
            }
            states.withUnsafeBufferPointer {
                (lastRows.pointer + index * h).update(from: $0.baseAddress! + $0.count - h, count: h)
            }
        }
        ParallelOps.rmsNorm(lastRows.pointer, rows: rows, width: h, weight: finalNorm,
                            epsilon: Float(configuration.rmsNormEpsilon), into: lastRows.pointer)
        let logits = FloatBuffer(count: rows * vocabulary)
        linear(lastRows.pointer, rows: rows, output, logits.pointer)
        return (0..<rows).map { Array(UnsafeBufferPointer(start: logits.pointer + $0 * vocabulary, count: vocabulary)) }
    }
}

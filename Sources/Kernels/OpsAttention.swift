import CKernels

/// Which keys a query row may attend to.
public enum AttentionMask: Sendable, Equatable {
    /// Query t sees keys 0 ... queryOffset + t: causal prefill after `queryOffset` cached tokens; decode is one
    /// query with `queryOffset = keys - 1`.
    case causal(queryOffset: Int)
    /// Every query sees every key (the vision encoder).
    case bidirectional
}

/// Shapes, strides and mask of one attention call: q [queries, heads, headDim], k/v [keys, kvHeads, headDim]
/// (rows `kStride` / `vStride` floats apart, so a KV cache with spare capacity can be passed as is),
/// out [queries, heads, headDim]. Query head h uses kv head h / (heads / kvHeads).
public struct AttentionShape: Sendable, Equatable {
    public var queries: Int
    public var keys: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var mask: AttentionMask
    /// Floats between consecutive query rows (default heads * headDim).
    public var qStride: Int
    /// Floats between consecutive key rows (default kvHeads * headDim).
    public var kStride: Int
    /// Floats between consecutive value rows (default kvHeads * headDim).
    public var vStride: Int
    /// Floats between consecutive output rows (default heads * headDim).
    public var outStride: Int
    /// Score scale (default 1 / sqrt(headDim)).
    public var scale: Float

    /// A shape with packed rows unless strides are given, and the standard 1 / sqrt(headDim) scale.
    public init(
        queries: Int, keys: Int, heads: Int, kvHeads: Int, headDim: Int, mask: AttentionMask,
        qStride: Int? = nil, kStride: Int? = nil, vStride: Int? = nil, outStride: Int? = nil, scale: Float? = nil
    ) {
        self.queries = queries
        self.keys = keys
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.mask = mask
        self.qStride = qStride ?? heads * headDim
        self.kStride = kStride ?? kvHeads * headDim
        self.vStride = vStride ?? kvHeads * headDim
        self.outStride = outStride ?? heads * headDim
        self.scale = scale ?? Float(1.0 / Double(headDim).squareRoot())
    }
}

extension Ops {
    /// Floats of scratch one attention call needs (per thread), for
    /// ``attention(q:k:v:out:shape:heads:queries:scratch:)`` and
    /// ``attentionPartial(q:k:v:shape:heads:queries:keys:partial:stats:scratch:)``.
    public static func attentionScratchCount(headDim: Int) -> Int {
        Int(ck_attention_scratch_floats(headDim))
    }

    /// Scaled dot-product attention for query heads `heads` and query rows `queries` (defaults: all), f32,
    /// tiled with an online softmax so no score matrix is built. Different (heads, queries) ranges write
    /// disjoint outputs, so threads can split either. A query that sees no key gets zeros.
    public static func attention(
        q: UnsafeBufferPointer<Float>, k: UnsafeBufferPointer<Float>, v: UnsafeBufferPointer<Float>,
        out: UnsafeMutableBufferPointer<Float>, shape: AttentionShape, heads: Range<Int>? = nil,
        queries: Range<Int>? = nil, scratch: UnsafeMutableBufferPointer<Float>
    ) throws(OpsError) {
        let op = "attention"
        let (hr, tr) = try validate(op, shape, heads, queries)
        try checkInputs(op, q: q, k: k, v: v, shape: shape, queries: tr)
        try check(op, "out", count: out.count,
                  needed: floatsNeeded(rows: tr, stride: shape.outStride, width: shape.heads * shape.headDim))
        try check(op, "scratch", count: scratch.count, needed: attentionScratchCount(headDim: shape.headDim))
        if hr.isEmpty || tr.isEmpty { return }
        var args = arguments(shape, q: q, k: k, v: v, out: out.baseAddress)
        ck_attention_f32(&args, hr.lowerBound, hr.upperBound, tr.lowerBound, tr.upperBound, scratch.baseAddress)
    }

    /// Floats of `partial` (first) and `stats` (second) one split-key part needs for `rows` (query, head) rows.
    public static func attentionPartialCounts(rows: Int, headDim: Int) -> (partial: Int, stats: Int) {
        (rows * headDim, 2 * rows)
    }

    /// Split-key attention, step 1 (long KV caches, more threads than heads): attention of the rows
    /// `queries` x `heads` over keys `keys` only. Row (t, h) is numbered `(t - queries.lowerBound) * heads.count
    /// + (h - heads.lowerBound)`; it gets `headDim` unnormalised outputs in `partial` and its running max and sum in
    /// `stats`. Merge the parts of disjoint key ranges with
    /// ``attentionCombine(out:shape:heads:queries:partials:stats:parts:)``.
    public static func attentionPartial(
        q: UnsafeBufferPointer<Float>, k: UnsafeBufferPointer<Float>, v: UnsafeBufferPointer<Float>,
        shape: AttentionShape, heads: Range<Int>? = nil, queries: Range<Int>? = nil, keys: Range<Int>,
        partial: UnsafeMutableBufferPointer<Float>, stats: UnsafeMutableBufferPointer<Float>,
        scratch: UnsafeMutableBufferPointer<Float>
    ) throws(OpsError) {
        let op = "attentionPartial"
        let (hr, tr) = try validate(op, shape, heads, queries)
        try require(keys.lowerBound >= 0 && keys.upperBound <= shape.keys, op, "keys.upperBound", keys.upperBound,
                    "within 0...\(shape.keys)")
        try checkInputs(op, q: q, k: k, v: v, shape: shape, queries: tr)
        let counts = attentionPartialCounts(rows: hr.count * tr.count, headDim: shape.headDim)
        try check(op, "partial", count: partial.count, needed: counts.partial)
        try check(op, "stats", count: stats.count, needed: counts.stats)
        try check(op, "scratch", count: scratch.count, needed: attentionScratchCount(headDim: shape.headDim))
        if hr.isEmpty || tr.isEmpty { return }
        var args = arguments(shape, q: q, k: k, v: v, out: nil)
        ck_attention_partial_f32(
            &args, hr.lowerBound, hr.upperBound, tr.lowerBound, tr.upperBound, keys.lowerBound, keys.upperBound,
            partial.baseAddress, stats.baseAddress, scratch.baseAddress)
    }

    /// Split-key attention, step 2: merges `parts` partials of the same rows (each laid out as
    /// ``attentionPartial(q:k:v:shape:heads:queries:keys:partial:stats:scratch:)`` writes them, part after part in
    /// `partials` and in `stats`) into `out`. Rows no part saw a key for get zeros.
    public static func attentionCombine(
        out: UnsafeMutableBufferPointer<Float>, shape: AttentionShape, heads: Range<Int>? = nil,
        queries: Range<Int>? = nil, partials: UnsafeBufferPointer<Float>, stats: UnsafeBufferPointer<Float>, parts: Int
    ) throws(OpsError) {
        let op = "attentionCombine"
        let (hr, tr) = try validate(op, shape, heads, queries)
        try require(parts >= 1, op, "parts", parts, ">= 1")
        try check(op, "out", count: out.count,
                  needed: floatsNeeded(rows: tr, stride: shape.outStride, width: shape.heads * shape.headDim))
        let counts = attentionPartialCounts(rows: hr.count * tr.count, headDim: shape.headDim)
        try check(op, "partials", count: partials.count, needed: parts * counts.partial)
        try check(op, "stats", count: stats.count, needed: parts * counts.stats)
        if hr.isEmpty || tr.isEmpty { return }
        var args = ck_attention_args()
        args.out = out.baseAddress
        args.out_stride = shape.outStride
        args.head_dim = shape.headDim
        ck_attention_combine_f32(
            &args, hr.lowerBound, hr.upperBound, tr.lowerBound, tr.upperBound, partials.baseAddress,
            stats.baseAddress, parts)
    }

    /// Checks the shape and resolves the default head and query ranges.
    private static func validate(_ op: String, _ s: AttentionShape, _ heads: Range<Int>?, _ queries: Range<Int>?)
        throws(OpsError) -> (Range<Int>, Range<Int>)
    {
        try require(s.headDim >= 1, op, "headDim", s.headDim, ">= 1")
        try require(s.kvHeads >= 1, op, "kvHeads", s.kvHeads, ">= 1")
        try require(s.heads >= s.kvHeads && s.heads % s.kvHeads == 0, op, "heads", s.heads,
                    "a multiple of kvHeads (\(s.kvHeads))")
        try require(s.queries >= 0, op, "queries", s.queries, ">= 0")
        try require(s.keys >= 0, op, "keys", s.keys, ">= 0")
        if case .causal(let offset) = s.mask {
            try require(offset >= 0, op, "queryOffset", offset, ">= 0")
        }
        let hr = heads ?? 0..<s.heads, tr = queries ?? 0..<s.queries
        try require(hr.lowerBound >= 0 && hr.upperBound <= s.heads, op, "heads.upperBound", hr.upperBound,
                    "within 0...\(s.heads)")
        try require(tr.lowerBound >= 0 && tr.upperBound <= s.queries, op, "queries.upperBound", tr.upperBound,
                    "within 0...\(s.queries)")
        let qWidth = s.heads * s.headDim
        try require(s.outStride >= qWidth, op, "outStride", s.outStride, ">= heads * headDim (\(qWidth))")
        return (hr, tr)
    }

    /// Checks the query, key and value buffers against the shape.
    private static func checkInputs(
        _ op: String, q: UnsafeBufferPointer<Float>, k: UnsafeBufferPointer<Float>, v: UnsafeBufferPointer<Float>,
        shape s: AttentionShape, queries: Range<Int>
    ) throws(OpsError) {
        let qWidth = s.heads * s.headDim, kvWidth = s.kvHeads * s.headDim
        try require(s.qStride >= qWidth, op, "qStride", s.qStride, ">= heads * headDim (\(qWidth))")
        try require(s.kStride >= kvWidth, op, "kStride", s.kStride, ">= kvHeads * headDim (\(kvWidth))")
        try require(s.vStride >= kvWidth, op, "vStride", s.vStride, ">= kvHeads * headDim (\(kvWidth))")
        try check(op, "q", count: q.count, needed: floatsNeeded(rows: queries, stride: s.qStride, width: qWidth))
        try check(op, "k", count: k.count, needed: floatsNeeded(rows: 0..<s.keys, stride: s.kStride, width: kvWidth))
        try check(op, "v", count: v.count, needed: floatsNeeded(rows: 0..<s.keys, stride: s.vStride, width: kvWidth))
    }

    /// The C argument block of a checked shape.
    private static func arguments(
        _ s: AttentionShape, q: UnsafeBufferPointer<Float>, k: UnsafeBufferPointer<Float>,
        v: UnsafeBufferPointer<Float>, out: UnsafeMutablePointer<Float>?
    ) -> ck_attention_args {
        var args = ck_attention_args()
        args.q = q.baseAddress
        args.q_stride = s.qStride
        args.k = k.baseAddress
        args.k_stride = s.kStride
        args.v = v.baseAddress
        args.v_stride = s.vStride
        args.out = out
        args.out_stride = s.outStride
        args.n_queries = s.queries
        args.n_keys = s.keys
        args.n_heads = s.heads
        args.n_kv_heads = s.kvHeads
        args.head_dim = s.headDim
        switch s.mask {
        case .causal(let offset):
            args.causal = 1
            args.q_offset = offset
        case .bidirectional:
            args.causal = 0
            args.q_offset = 0
        }
        args.scale = s.scale
        return args
    }
}

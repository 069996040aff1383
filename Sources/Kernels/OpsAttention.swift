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
    /// Floats of scratch one ``attention(q:k:v:out:shape:heads:queries:scratch:)`` call needs (per thread).
    public static func attentionScratchCount(headDim: Int) -> Int {
        Int(ck_attention_scratch_floats(headDim))
    }

    /// Scaled dot-product attention for query heads `heads` and query rows `queries` (defaults: all), f32,
    /// tiled with an online softmax so no score matrix is built. Different (heads, queries) ranges write
    /// disjoint outputs, so threads can split either. A query that sees no key gets zeros.
    public static func attention(
        q: UnsafeBufferPointer<Float>, k: UnsafeBufferPointer<Float>, v: UnsafeBufferPointer<Float>,
        out: UnsafeMutableBufferPointer<Float>, shape s: AttentionShape, heads: Range<Int>? = nil,
        queries: Range<Int>? = nil, scratch: UnsafeMutableBufferPointer<Float>
    ) throws(OpsError) {
        let op = "attention"
        try require(s.headDim >= 1, op, "headDim", s.headDim, ">= 1")
        try require(s.kvHeads >= 1, op, "kvHeads", s.kvHeads, ">= 1")
        try require(s.heads >= s.kvHeads && s.heads % s.kvHeads == 0, op, "heads", s.heads,
                    "a multiple of kvHeads (\(s.kvHeads))")
        try require(s.queries >= 0, op, "queries", s.queries, ">= 0")
        try require(s.keys >= 0, op, "keys", s.keys, ">= 0")
        let hr = heads ?? 0..<s.heads, tr = queries ?? 0..<s.queries
        try require(hr.lowerBound >= 0 && hr.upperBound <= s.heads, op, "heads.upperBound", hr.upperBound,
                    "within 0...\(s.heads)")
        try require(tr.lowerBound >= 0 && tr.upperBound <= s.queries, op, "queries.upperBound", tr.upperBound,
                    "within 0...\(s.queries)")
        let qWidth = s.heads * s.headDim, kvWidth = s.kvHeads * s.headDim
        try require(s.qStride >= qWidth, op, "qStride", s.qStride, ">= heads * headDim (\(qWidth))")
        try require(s.outStride >= qWidth, op, "outStride", s.outStride, ">= heads * headDim (\(qWidth))")
        try require(s.kStride >= kvWidth, op, "kStride", s.kStride, ">= kvHeads * headDim (\(kvWidth))")
        try require(s.vStride >= kvWidth, op, "vStride", s.vStride, ">= kvHeads * headDim (\(kvWidth))")
        try check(op, "q", count: q.count, needed: floatsNeeded(rows: tr, stride: s.qStride, width: qWidth))
        try check(op, "out", count: out.count, needed: floatsNeeded(rows: tr, stride: s.outStride, width: qWidth))
        try check(op, "k", count: k.count, needed: floatsNeeded(rows: 0..<s.keys, stride: s.kStride, width: kvWidth))
        try check(op, "v", count: v.count, needed: floatsNeeded(rows: 0..<s.keys, stride: s.vStride, width: kvWidth))
        try check(op, "scratch", count: scratch.count, needed: attentionScratchCount(headDim: s.headDim))
        if hr.isEmpty || tr.isEmpty { return }

        var args = ck_attention_args()
        args.q = q.baseAddress
        args.q_stride = s.qStride
        args.k = k.baseAddress
        args.k_stride = s.kStride
        args.v = v.baseAddress
        args.v_stride = s.vStride
        args.out = out.baseAddress
        args.out_stride = s.outStride
        args.n_queries = s.queries
        args.n_keys = s.keys
        args.n_heads = s.heads
        args.n_kv_heads = s.kvHeads
        args.head_dim = s.headDim
        switch s.mask {
        case .causal(let offset):
            try require(offset >= 0, op, "queryOffset", offset, ">= 0")
            args.causal = 1
            args.q_offset = offset
        case .bidirectional:
            args.causal = 0
            args.q_offset = 0
        }
        args.scale = s.scale
        ck_attention_f32(&args, hr.lowerBound, hr.upperBound, tr.lowerBound, tr.upperBound, scratch.baseAddress)
    }
}

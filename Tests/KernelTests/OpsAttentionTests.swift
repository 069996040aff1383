import CKernels
import Testing

@testable import Kernels

#if canImport(Glibc)
import Glibc
#endif

extension OpsKernelTests {
    @Suite struct Attention {
        struct Case: CustomStringConvertible, Sendable {
            var queries: Int, keys: Int, heads: Int, kvHeads: Int, headDim: Int
            var mask: AttentionMask
            var kvCapacityPad = 0  // extra floats per k/v row, as a KV cache with more heads' room would have
            var description: String { "T \(queries) Tk \(keys) H \(heads)/\(kvHeads) D \(headDim) \(mask)" }
        }

        static let cases: [Case] = [
            // causal prefill, T not a multiple of the key tile, several head layouts and head sizes
            Case(queries: 37, keys: 37, heads: 4, kvHeads: 2, headDim: 64, mask: .causal(queryOffset: 0)),
            Case(queries: 19, keys: 19, heads: 8, kvHeads: 8, headDim: 5, mask: .causal(queryOffset: 0)),
            Case(queries: 3, keys: 3, heads: 6, kvHeads: 3, headDim: 63, mask: .causal(queryOffset: 0)),
            // prefill after cached tokens (offset > 0), keys in a cache with spare row capacity
            Case(queries: 23, keys: 34, heads: 6, kvHeads: 3, headDim: 130, mask: .causal(queryOffset: 11),
                 kvCapacityPad: 9),
            Case(queries: 17, keys: 50, heads: 4, kvHeads: 2, headDim: 128, mask: .causal(queryOffset: 33)),
            // decode: one query over the whole cache
            Case(queries: 1, keys: 53, heads: 8, kvHeads: 2, headDim: 128, mask: .causal(queryOffset: 52),
                 kvCapacityPad: 5),
            Case(queries: 1, keys: 1, heads: 4, kvHeads: 2, headDim: 64, mask: .causal(queryOffset: 0)),
            Case(queries: 1, keys: 300, heads: 6, kvHeads: 3, headDim: 17, mask: .causal(queryOffset: 299)),
            // bidirectional (vision)
            Case(queries: 41, keys: 41, heads: 4, kvHeads: 4, headDim: 64, mask: .bidirectional),
            Case(queries: 5, keys: 33, heads: 6, kvHeads: 3, headDim: 130, mask: .bidirectional),
            // more rows than one block holds: one kv group at a time, several token blocks
            Case(queries: 100, keys: 130, heads: 8, kvHeads: 2, headDim: 64, mask: .causal(queryOffset: 30)),
            Case(queries: 70, keys: 70, heads: 6, kvHeads: 3, headDim: 24, mask: .bidirectional),
            // many query heads per kv head
            Case(queries: 70, keys: 70, heads: 16, kvHeads: 1, headDim: 8, mask: .causal(queryOffset: 0)),
        ]

        struct Inputs {
            var q: [Float], k: [Float], v: [Float]
            var shape: AttentionShape
        }

        static func inputs(_ c: Case, seed: UInt64) -> Inputs {
            var rng = OpsRandom(seed: seed)
            let kvStride = c.kvHeads * c.headDim + c.kvCapacityPad
            let shape = AttentionShape(queries: c.queries, keys: c.keys, heads: c.heads, kvHeads: c.kvHeads,
                                       headDim: c.headDim, mask: c.mask, kStride: kvStride, vStride: kvStride)
            // Large queries make the softmax peaky, so a wrong key or scale changes the output a lot.
            return Inputs(q: rng.floats(c.queries * c.heads * c.headDim, -4, 4),
                          k: rng.floats(c.keys * kvStride), v: rng.floats(c.keys * kvStride), shape: shape)
        }

        static func reference(_ x: Inputs) -> [Double] {
            let s = x.shape, d = s.headDim, group = s.heads / s.kvHeads
            var out = [Double](repeating: 0, count: s.queries * s.heads * d)
            for t in 0..<s.queries {
                var visible = s.keys
                if case .causal(let offset) = s.mask { visible = min(s.keys, offset + t + 1) }
                for h in 0..<s.heads {
                    let g = h / group
                    let q = (0..<d).map { Double(x.q[t * s.qStride + h * d + $0]) }
                    var scores = (0..<visible).map { j -> Double in
                        var dot = 0.0
                        for i in 0..<d { dot += q[i] * Double(x.k[j * s.kStride + g * d + i]) }
                        return dot / Double(d).squareRoot()
                    }
                    let m = scores.max() ?? 0
                    scores = scores.map { exp($0 - m) }
                    let sum = scores.reduce(0, +)
                    for i in 0..<d {
                        var acc = 0.0
                        for j in 0..<visible { acc += scores[j] * Double(x.v[j * s.vStride + g * d + i]) }
                        out[t * s.outStride + h * d + i] = acc / sum
                    }
                }
            }
            return out
        }

        static func run(_ x: Inputs, heads: Range<Int>? = nil, queries: Range<Int>? = nil, into out: inout [Float]) throws {
            var scratch = [Float](repeating: .nan, count: Ops.attentionScratchCount(headDim: x.shape.headDim))
            try x.q.withUnsafeBufferPointer { q in
                try x.k.withUnsafeBufferPointer { k in
                    try x.v.withUnsafeBufferPointer { v in
                        try out.withUnsafeMutableBufferPointer { o in
                            try scratch.withUnsafeMutableBufferPointer { sc in
                                try Ops.attention(q: q, k: k, v: v, out: o, shape: x.shape, heads: heads,
                                                  queries: queries, scratch: sc)
                            }
                        }
                    }
                }
            }
        }

        @Test(arguments: cases.indices)
        func matchesDoubleReferenceOnEveryLevel(index: Int) throws {
            let c = Self.cases[index]
            let x = Self.inputs(c, seed: UInt64(100 + index))
            let ref = Self.reference(x)
            try forEachOpsLevel { level in
                var out = [Float](repeating: .nan, count: c.queries * c.heads * c.headDim)
                try Self.run(x, into: &out)
                let ratio = worstRatio(out, ref, atol: 2e-6, rtol: 1e-5)
                #expect(ratio <= 1, "\(c) at \(levelName(level)): \(ratio)")
            }
        }

        @Test func splitRangesGiveTheSameBitsAsOneCall() throws {
            // Whole call: per-group blocks (29 x 12 rows > one block); the pieces: a mix of both paths.
            let c = Case(queries: 29, keys: 40, heads: 12, kvHeads: 3, headDim: 64, mask: .causal(queryOffset: 11))
            let x = Self.inputs(c, seed: 7)
            try forEachOpsLevel { level in
                var whole = [Float](repeating: .nan, count: c.queries * c.heads * c.headDim)
                try Self.run(x, into: &whole)
                var split = [Float](repeating: .nan, count: whole.count)
                for heads in [0..<1, 1..<4, 4..<12] {
                    for queries in [0..<5, 5..<29] {
                        try Self.run(x, heads: heads, queries: queries, into: &split)
                    }
                }
                #expect(mismatches(split, whole) == 0, "split ranges at \(levelName(level))")
            }
        }

        /// Split-key attention over `ranges` of keys, then combined.
        static func runSplit(_ x: Inputs, keyRanges: [Range<Int>], into out: inout [Float]) throws {
            let s = x.shape
            let counts = Ops.attentionPartialCounts(rows: s.queries * s.heads, headDim: s.headDim)
            var partials = [Float](repeating: .nan, count: keyRanges.count * counts.partial)
            var stats = [Float](repeating: .nan, count: keyRanges.count * counts.stats)
            var scratch = [Float](repeating: .nan, count: Ops.attentionScratchCount(headDim: s.headDim))
            for (p, keys) in keyRanges.enumerated() {
                try x.q.withUnsafeBufferPointer { q in
                    try x.k.withUnsafeBufferPointer { k in
                        try x.v.withUnsafeBufferPointer { v in
                            try partials.withUnsafeMutableBufferPointer { pb in
                                try stats.withUnsafeMutableBufferPointer { sb in
                                    try scratch.withUnsafeMutableBufferPointer { sc in
                                        let part = UnsafeMutableBufferPointer(rebasing: pb[(p * counts.partial)...])
                                        let stat = UnsafeMutableBufferPointer(rebasing: sb[(p * counts.stats)...])
                                        try Ops.attentionPartial(q: q, k: k, v: v, shape: s, keys: keys,
                                                                 partial: part, stats: stat, scratch: sc)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            try partials.withUnsafeBufferPointer { pb in
                try stats.withUnsafeBufferPointer { sb in
                    try out.withUnsafeMutableBufferPointer { o in
                        try Ops.attentionCombine(out: o, shape: s, partials: pb, stats: sb, parts: keyRanges.count)
                    }
                }
            }
        }

        @Test func splitKeysThenCombineMatchesDoubleReference() throws {
            let decode = Case(queries: 1, keys: 300, heads: 8, kvHeads: 2, headDim: 64, mask: .causal(queryOffset: 299))
            // Prefill after a cache: the last key range is beyond what the early queries see (empty partials).
            let prefill = Case(queries: 20, keys: 50, heads: 6, kvHeads: 3, headDim: 33, mask: .causal(queryOffset: 30))
            for (c, ranges) in [(decode, [0..<100, 100..<101, 101..<300, 300..<300]), (prefill, [0..<7, 7..<45, 45..<50])] {
                let x = Self.inputs(c, seed: 21)
                let ref = Self.reference(x)
                try forEachOpsLevel { level in
                    var out = [Float](repeating: .nan, count: c.queries * c.heads * c.headDim)
                    try Self.runSplit(x, keyRanges: ranges, into: &out)
                    let ratio = worstRatio(out, ref, atol: 2e-6, rtol: 1e-5)
                    #expect(ratio <= 1, "split \(ranges) of \(c) at \(levelName(level)): \(ratio)")
                }
            }
        }

        @Test func noKeysGivesZeros() throws {
            let c = Case(queries: 2, keys: 0, heads: 4, kvHeads: 2, headDim: 8, mask: .bidirectional)
            let x = Self.inputs(c, seed: 3)
            try forEachOpsLevel { level in
                var out = [Float](repeating: .nan, count: 2 * 4 * 8)
                try Self.run(x, into: &out)
                #expect(out.allSatisfy { $0 == 0 }, "no keys at \(levelName(level))")
            }
        }

        @Test func rejectsHeadsNotAMultipleOfKVHeads() {
            let x = Self.inputs(Case(queries: 1, keys: 1, heads: 4, kvHeads: 4, headDim: 4, mask: .bidirectional), seed: 1)
            var bad = x
            bad.shape.heads = 6
            bad.shape.kvHeads = 4
            var out = [Float](repeating: 0, count: 64)
            #expect(throws: OpsError.invalidArgument(op: "attention", argument: "heads", value: 6,
                                                     requirement: "a multiple of kvHeads (4)")) {
                try Self.run(bad, into: &out)
            }
        }
    }
}

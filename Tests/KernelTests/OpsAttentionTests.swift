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
            // AVX-512 tiles of 32 keys, 8-row groups: key counts around the tile size, head sizes 64/80/128/odd
            Case(queries: 45, keys: 45, heads: 8, kvHeads: 2, headDim: 80, mask: .causal(queryOffset: 0)),
            Case(queries: 33, keys: 97, heads: 8, kvHeads: 1, headDim: 128, mask: .causal(queryOffset: 64),
                 kvCapacityPad: 3),
            Case(queries: 31, keys: 31, heads: 3, kvHeads: 3, headDim: 33, mask: .bidirectional),
            Case(queries: 12, keys: 65, heads: 4, kvHeads: 4, headDim: 64, mask: .causal(queryOffset: 53)),
            // decode: few rows per kv head (the direct path on AVX-512), GQA 1 / 4 / 8, odd and small head sizes,
            // key counts that leave partial 16- and 32-key tiles
            Case(queries: 1, keys: 100, heads: 32, kvHeads: 8, headDim: 128, mask: .causal(queryOffset: 99),
                 kvCapacityPad: 7),
            Case(queries: 1, keys: 47, heads: 5, kvHeads: 5, headDim: 80, mask: .causal(queryOffset: 46)),
            Case(queries: 1, keys: 17, heads: 8, kvHeads: 1, headDim: 64, mask: .causal(queryOffset: 16)),
            Case(queries: 1, keys: 70, heads: 6, kvHeads: 2, headDim: 21, mask: .causal(queryOffset: 69)),
            Case(queries: 1, keys: 9, heads: 4, kvHeads: 2, headDim: 5, mask: .causal(queryOffset: 8)),
            Case(queries: 2, keys: 130, heads: 4, kvHeads: 2, headDim: 127, mask: .causal(queryOffset: 128)),
            Case(queries: 3, keys: 3, heads: 2, kvHeads: 2, headDim: 16, mask: .bidirectional),
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

        @Test(arguments: [1, 33, 8191])
        func decodeSplitByKeyRangesAtAwkwardLengthsMatchesDoubleReference(keys: Int) throws {
            // The scheduler's own key ranges (whole tiles, the last part short or empty) for several part counts,
            // including more parts than the cache has tiles.
            let c = Case(queries: 1, keys: keys, heads: 8, kvHeads: 2, headDim: 40, mask: .causal(queryOffset: keys - 1),
                         kvCapacityPad: 3)
            let x = Self.inputs(c, seed: UInt64(400 + keys))
            let ref = Self.reference(x)
            try forEachOpsLevel { level in
                for parts in [1, 2, 3, 8] {
                    let ranges = (0..<parts).map { AttentionScheduler.keyRange(x.shape, part: $0, of: parts) }
                    var out = [Float](repeating: .nan, count: c.queries * c.heads * c.headDim)
                    try Self.runSplit(x, keyRanges: ranges, into: &out)
                    let ratio = worstRatio(out, ref, atol: 2e-6, rtol: 1e-5)
                    #expect(ratio <= 1, "keys \(keys) in \(parts) parts \(ranges) at \(levelName(level)): \(ratio)")
                }
            }
        }

        @Test func schedulerDecodeAtAwkwardLengthsMatchesDoubleReference() throws {
            // InternLM2's decode shape (32/8 heads x 128) over caches split into 0, 2 ... 8 key parts, on 1-3 threads.
            let cases = [1, 33, 257, 1000, 2049].map {
                Case(queries: 1, keys: $0, heads: 32, kvHeads: 8, headDim: 128, mask: .causal(queryOffset: $0 - 1))
            }
            try Self.expectScheduledMatchesReference(cases, seed: 500, threads: [1, 2, 3])
        }

        /// Runs `cases` through the scheduler on each of `threads` pool sizes at every dispatch level and expects
        /// every output within float rounding of the Double reference.
        static func expectScheduledMatchesReference(_ cases: [Case], seed: UInt64, threads: [Int]) throws {
            let inputs = cases.enumerated().map { Self.inputs($1, seed: seed + UInt64($0)) }
            let refs = inputs.map(Self.reference)
            for threads in threads {
                let pool = try ThreadPool(threads: threads)
                forEachOpsLevel { level in
                    let outs = Self.runScheduled(inputs, pool: pool)
                    for i in cases.indices {
                        let ratio = worstRatio(outs[i], refs[i], atol: 2e-6, rtol: 1e-5)
                        #expect(ratio <= 1, "\(cases[i]) scheduled on \(threads) threads at \(levelName(level)): \(ratio)")
                    }
                }
            }
        }

        /// Runs `jobs` (inputs with their outputs) through an ``AttentionScheduler`` on `pool`.
        static func runScheduled(_ inputs: [Inputs], pool: ThreadPool) -> [[Float]] {
            let scheduler = AttentionScheduler(headDim: inputs[0].shape.headDim)
            var outs = inputs.map { [Float](repeating: .nan, count: $0.shape.queries * $0.shape.outStride) }
            var keep: [UnsafeMutablePointer<Float>] = []
            defer { keep.forEach { $0.deallocate() } }
            func copy(_ a: [Float]) -> UnsafeMutablePointer<Float> {
                let p = UnsafeMutablePointer<Float>.allocate(capacity: max(a.count, 1))
                p.initialize(from: a, count: a.count)
                keep.append(p)
                return p
            }
            let outPointers = outs.map(copy)
            for (x, out) in zip(inputs, outPointers) {
                scheduler.jobs.append(AttentionJob(queries: copy(x.q), keys: copy(x.k), values: copy(x.v), output: out,
                                                   shape: x.shape))
            }
            scheduler.run(pool: pool)
            #expect(scheduler.jobs.isEmpty)
            for i in outs.indices { outs[i] = Array(UnsafeBufferPointer(start: outPointers[i], count: outs[i].count)) }
            return outs
        }

        @Test func schedulerSplitsKeysAndRowsAndMatchesDoubleReference() throws {
            // One batch: a decode over a long cache (split by keys, then combined), a short decode (not split),
            // a causal prefill after a cache (rows split by work), a vision-style bidirectional job.
            let cases = [
                Case(queries: 1, keys: 2100, heads: 8, kvHeads: 2, headDim: 64, mask: .causal(queryOffset: 2099),
                     kvCapacityPad: 4),
                Case(queries: 1, keys: 40, heads: 4, kvHeads: 1, headDim: 32, mask: .causal(queryOffset: 39)),
                Case(queries: 150, keys: 170, heads: 2, kvHeads: 1, headDim: 48, mask: .causal(queryOffset: 20)),
                Case(queries: 70, keys: 70, heads: 2, kvHeads: 2, headDim: 24, mask: .bidirectional),
                Case(queries: 3, keys: 1500, heads: 4, kvHeads: 2, headDim: 40, mask: .causal(queryOffset: 1497)),
            ]
            try Self.expectScheduledMatchesReference(cases, seed: 300, threads: [1, 3])
        }

        @Test func causalChunksCoverEveryRowOnceWithEvenWork() {
            for (queries, offset, chunks) in [(4096, 0, 8), (37, 5, 4), (100, 1000, 3), (5, 0, 5), (64, 0, 2)] {
                let shape = AttentionShape(queries: queries, keys: offset + queries, heads: 1, kvHeads: 1, headDim: 1,
                                           mask: .causal(queryOffset: offset))
                var next = 0
                var works: [Int] = []
                for i in 0..<chunks {
                    let rows = AttentionScheduler.chunk(shape, i, of: chunks)
                    #expect(rows.lowerBound == next, "chunk \(i) of \(chunks), T \(queries)")
                    next = rows.upperBound
                    works.append(rows.reduce(0) { $0 + offset + $1 + 1 })
                }
                #expect(next == queries)
                if queries >= 64 * chunks {
                    let most = works.max()!, least = works.min()!
                    #expect(Double(most - least) <= 0.05 * Double(most), "uneven causal chunks \(works)")
                }
            }
        }

        @Test func keyPartsCoverTheKeysInWholeTiles() {
            let shape = AttentionShape(queries: 1, keys: 8192 + 13, heads: 32, kvHeads: 8, headDim: 128,
                                       mask: .causal(queryOffset: 8192 + 12))
            let parts = AttentionScheduler.keyParts(shape, wanted: 8)
            #expect(parts == 8)
            var next = 0
            for p in 0..<parts {
                let keys = AttentionScheduler.keyRange(shape, part: p, of: parts)
                #expect(keys.lowerBound == next)
                #expect(keys.lowerBound % Int(CK_ATTENTION_KEY_TILE) == 0)
                next = keys.upperBound
            }
            #expect(next == shape.keys)
            // Many rows (prefill) or a short cache: not split by keys.
            #expect(AttentionScheduler.keyParts(AttentionShape(queries: 64, keys: 8192, heads: 32, kvHeads: 8,
                                                               headDim: 128, mask: .causal(queryOffset: 8128)),
                                                wanted: 8) == 1)
            #expect(AttentionScheduler.keyParts(AttentionShape(queries: 1, keys: 500, heads: 32, kvHeads: 8,
                                                               headDim: 128, mask: .causal(queryOffset: 499)),
                                                wanted: 8) == 1)
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

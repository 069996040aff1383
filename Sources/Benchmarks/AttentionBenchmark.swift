import CKernels
import Kernels

/// One attention measurement of `internvl bench kernels --ops attention`: the attention time of one InternLM2-7B
/// layer (through ``AttentionScheduler``, as the model runs it), its rate against the machine's ceiling, and its
/// share of the layer's time next to the layer's Linears at the same M.
public struct AttentionRecord: Sendable, Equatable {
    /// "prefill" (causal, `queries` tokens from position 0) or "decode" (1 token over `keys` cached ones).
    public var phase: String
    public var queries: Int
    public var keys: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var threads: Int
    /// Median seconds of one layer's attention.
    public var seconds: Double
    /// GFLOP/s (prefill: 4·D·H per visible (query, key) pair) or GB/s of K and V read (decode).
    public var rate: Double
    public var unit: String
    /// `rate` over the sgemm ceiling (prefill) or the read-bandwidth ceiling (decode).
    public var fraction: Double
    /// Median seconds of the layer's five Linears (wqkv, wo, w1, w3, w2) at M = queries, bf16 weights.
    public var linearSeconds: Double
    /// Decode: median seconds for the bandwidth probe (8 interleaved streams per thread) to read the same K and V
    /// bytes, timed alternately with the attention runs, so both see the same load on the machine (the read-
    /// bandwidth ceiling is the best of its passes, at another moment). nil for prefill.
    public var readSeconds: Double? = nil
    /// readSeconds / seconds: attention's rate as a fraction of reading its bytes alone.
    public var readFraction: Double? { readSeconds.map { $0 / seconds } }
    /// attention / (attention + Linears); norms, RoPE, SiLU and residual adds are not counted.
    public var share: Double { seconds / (seconds + linearSeconds) }

    public var text: String {
        let what = phase == "prefill" ? "causal \(queries) tokens from position 0" : "1 token over \(keys) cached"
        let ceiling = phase == "prefill" ? "sgemm" : "read bandwidth"
        return "attention \(phase): \(what), \(heads)/\(kvHeads) heads x \(headDim), \(threads) threads: "
            + "\(fixed(seconds * 1000, 3)) ms, \(fixed(rate, 1)) \(unit) (\(fixed(fraction, 2)) of \(ceiling)); "
            + "layer Linears bf16 M=\(queries): \(fixed(linearSeconds * 1000, 3)) ms; "
            + "attention share of layer \(fixed(share * 100, 1))% (attention + Linears; norms, RoPE, SiLU excluded)"
            + (readSeconds.map { "; same K/V bytes read alone, alternated: \(fixed($0 * 1000, 3)) ms, attention at "
                + "\(fixed(readFraction!, 2)) of that rate" } ?? "")
    }

    public var json: String {
        "{\"kind\":\"attention\",\"phase\":\(jsonQuoted(phase)),\"queries\":\(queries),\"keys\":\(keys),"
            + "\"heads\":\(heads),\"kv_heads\":\(kvHeads),\"head_dim\":\(headDim),\"threads\":\(threads),"
            + "\"ms\":\(fixed(seconds * 1000, 4)),\"rate\":\(fixed(rate, 3)),\"unit\":\(jsonQuoted(unit)),"
            + "\"fraction\":\(fixed(fraction, 4)),\"linear_ms\":\(fixed(linearSeconds * 1000, 4)),"
            + "\"share\":\(fixed(share, 4))"
            + (readSeconds.map { ",\"read_ms\":\(fixed($0 * 1000, 4)),\"read_fraction\":\(fixed(readFraction!, 4))" } ?? "")
            + "}"
    }
}

/// `internvl bench kernels --ops attention`: one InternLM2-7B layer (hidden 4096, 32 query heads, 8 KV heads,
/// head_dim 128, FFN 14336) at prefill of 4096 tokens and at decode over 1024, 4096, 8192 (the target)
/// and 16384 cached tokens.
struct AttentionBenchmark {
    static let hidden = 4096, heads = 32, kvHeads = 8, headDim = 128, ffn = 14336
    static let prefillTokens = 4096, decodeLengths = [1024, 4096, 8192, 16384]
    /// Bytes of copies (KV caches, weights) decode cycles through, so every run reads DRAM, not the L3.
    static let decodeWorkingSetBytes = 640 << 20

    /// The layer's Linears as (name, in, out).
    static let linears: [(name: String, k: Int, n: Int)] = [
        ("attention.wqkv", hidden, (heads + 2 * kvHeads) * headDim), ("attention.wo", hidden, hidden),
        ("feed_forward.w1", hidden, ffn), ("feed_forward.w3", hidden, ffn), ("feed_forward.w2", ffn, hidden),
    ]

    let pool: ThreadPool
    let bandwidth: Double
    let gemm: Double

    func run(emit: (BenchmarkRecord) -> Void) throws {
        let prefill = measurePrefillAttention()
        let decodes = Self.decodeLengths.map { measureDecodeAttention(keys: $0) }
        let prefillLinears = try measureLinears(rows: Self.prefillTokens, emit: emit)
        let decodeLinears = try measureLinears(rows: 1, emit: emit)
        let pairs = Double(Self.prefillTokens) * Double(Self.prefillTokens + 1) / 2
        let flops = 4 * Double(Self.headDim * Self.heads) * pairs
        let prefillRate = flops / prefill / 1e9
        emit(.attention(AttentionRecord(
            phase: "prefill", queries: Self.prefillTokens, keys: Self.prefillTokens, heads: Self.heads,
            kvHeads: Self.kvHeads, headDim: Self.headDim, threads: pool.threadCount, seconds: prefill,
            rate: prefillRate, unit: "GFLOP/s", fraction: prefillRate / gemm, linearSeconds: prefillLinears)))
        for (keys, decode) in zip(Self.decodeLengths, decodes) {
            let bytes = Double(2 * keys * Self.kvHeads * Self.headDim * 4)
            let decodeRate = bytes / decode.attention / 1e9
            emit(.attention(AttentionRecord(
                phase: "decode", queries: 1, keys: keys, heads: Self.heads, kvHeads: Self.kvHeads,
                headDim: Self.headDim, threads: pool.threadCount, seconds: decode.attention, rate: decodeRate,
                unit: "GB/s", fraction: decodeRate / bandwidth, linearSeconds: decodeLinears, readSeconds: decode.read)))
        }
    }

    /// Median seconds of causal attention over 4096 tokens, q read from packed qkv rows and k/v from a cache, as
    /// InternLM2's forward pass lays them out.
    private func measurePrefillAttention() -> Double {
        let t = Self.prefillTokens, qkvWidth = (Self.heads + 2 * Self.kvHeads) * Self.headDim
        let kvWidth = Self.kvHeads * Self.headDim, outWidth = Self.heads * Self.headDim
        let qkv = allocateRandom(t * qkvWidth, seed: 11, scale: 1)
        let keys = allocateRandom(t * kvWidth, seed: 12, scale: 1)
        let values = allocateRandom(t * kvWidth, seed: 13, scale: 1)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: t * outWidth)
        defer {
            qkv.deallocate()
            keys.deallocate()
            values.deallocate()
            out.deallocate()
        }
        let scheduler = AttentionScheduler(headDim: Self.headDim)
        let shape = AttentionShape(queries: t, keys: t, heads: Self.heads, kvHeads: Self.kvHeads, headDim: Self.headDim,
                                   mask: .causal(queryOffset: 0), qStride: qkvWidth, kStride: kvWidth,
                                   vStride: kvWidth, outStride: outWidth)
        let timer = BenchmarkTimer(minRuns: 3, maxRuns: 5, minTotalSeconds: 1)
        return timer.measure {
            scheduler.jobs.append(AttentionJob(queries: qkv, keys: keys, values: values, output: out, shape: shape))
            scheduler.run(pool: pool)
        }.median
    }

    /// Median seconds of one decode step's attention over `n` cached tokens, cycling through enough caches (one per
    /// layer, as in the model) that each run reads them from DRAM; and the median seconds for the bandwidth probe
    /// to read the same K and V bytes (each thread its share of K, then of V, as 8 interleaved streams), the two
    /// runs alternated so both meet the same load. The probe reads the cache half the cycle away from the one
    /// attention reads, so every cache is used again only after about the whole working set has been read.
    private func measureDecodeAttention(keys n: Int) -> (attention: Double, read: Double) {
        let qkvWidth = (Self.heads + 2 * Self.kvHeads) * Self.headDim
        let kvWidth = Self.kvHeads * Self.headDim, outWidth = Self.heads * Self.headDim
        let cacheFloats = n * kvWidth
        let copies = max(2, Self.decodeWorkingSetBytes / (2 * cacheFloats * 4) + 1)
        var caches: [(UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)] = []
        for c in 0..<copies {
            let seed = UInt64(20 + 2 * c)
            caches.append((allocateRandom(cacheFloats, seed: seed, scale: 1),
                           allocateRandom(cacheFloats, seed: seed + 1, scale: 1)))
        }
        let qkv = allocateRandom(qkvWidth, seed: 19, scale: 1)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: outWidth)
        defer {
            for (k, v) in caches {
                k.deallocate()
                v.deallocate()
            }
            qkv.deallocate()
            out.deallocate()
        }
        let scheduler = AttentionScheduler(headDim: Self.headDim)
        let shape = AttentionShape(queries: 1, keys: n, heads: Self.heads, kvHeads: Self.kvHeads, headDim: Self.headDim,
                                   mask: .causal(queryOffset: n - 1), qStride: qkvWidth, kStride: kvWidth,
                                   vStride: kvWidth, outStride: outWidth)
        let threads = pool.threadCount
        let shareBytes = cacheFloats * 4 / threads / 4096 * 4096
        var checksums = [UInt64](repeating: 0, count: threads)
        func attend(_ c: Int) {
            let (k, v) = caches[c]
            scheduler.jobs.append(AttentionJob(queries: qkv, keys: k, values: v, output: out, shape: shape))
            scheduler.run(pool: pool)
        }
        func read(_ c: Int) {
            let k = UnsafeRawPointer(caches[c].0), v = UnsafeRawPointer(caches[c].1)
            checksums.withUnsafeMutableBufferPointer { sums in
                pool.run(tasks: threads) { task, _ in
                    sums[task] ^= ck_bandwidth_read(k + task * shareBytes, shareBytes, 8)
                    sums[task] ^= ck_bandwidth_read(v + task * shareBytes, shareBytes, 8)
                }
            }
        }
        var next = 0
        let timer = BenchmarkTimer(minRuns: 20, maxRuns: 200, minTotalSeconds: 0.5)
        let (attention, probe) = timer.measureAlternating({ attend(next) }, {
            read((next + copies / 2) % copies)
            next = (next + 1) % copies
        })
        // The probe read whole pages per thread: scale to the cache's bytes (equal when they divide evenly).
        let scale = Double(cacheFloats * 4) / Double(shareBytes * threads)
        return (attention, probe * scale)
    }

    /// Median seconds of the layer's five Linears at M = `rows` (bf16 weights, default path); emits each Linear's
    /// own record too. Below 512 rows each Linear cycles through enough weight copies that every run reads DRAM.
    private func measureLinears(rows: Int, emit: (BenchmarkRecord) -> Void) throws -> Double {
        let maxK = Self.linears.map(\.k).max()!, maxN = Self.linears.map(\.n).max()!
        let x = allocateRandom(rows * maxK, seed: 31, scale: 1)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: rows * maxN)
        defer {
            x.deallocate()
            y.deallocate()
        }
        var total = 0.0
        for (index, linear) in Self.linears.enumerated() {
            let source = UnsafeMutablePointer<UInt16>.allocate(capacity: linear.n * linear.k)
            defer { source.deallocate() }
            let copies = rows >= 512 ? 1 : max(2, Self.decodeWorkingSetBytes / (2 * linear.n * linear.k) + 1)
            BenchmarkRandom.fillBF16(source, count: linear.n * linear.k, pool: pool, seed: UInt64(200 + index))
            var weights: [WeightMatrix] = []
            for _ in 0..<copies {
                weights.append(try WeightMatrix(rows: linear.n, cols: linear.k, format: .bf16, bf16: source, pool: pool))
            }
            var next = 0
            let timer = rows >= 512 ? BenchmarkTimer(minRuns: 1, maxRuns: 3, minTotalSeconds: 0)
                                    : BenchmarkTimer(minRuns: 10, maxRuns: 50, minTotalSeconds: 0.25)
            let time = timer.measure {
                matmul(x, rows: rows, weights[next], into: y, pool: pool)
                next = (next + 1) % copies
            }.median
            total += time
            let op = rows == 1 ? "decode" : "prefill"
            if rows == 1 {
                let rate = Double(weights[0].byteCount) / time / 1e9
                emit(.kernel(op: op, format: "bf16", m: rows, k: linear.k, n: linear.n, seconds: time, rate: rate,
                             unit: "GB/s", fraction: rate / bandwidth))
            } else {
                let rate = 2 * Double(rows) * Double(linear.n) * Double(linear.k) / time / 1e9
                emit(.kernel(op: op, format: "bf16", m: rows, k: linear.k, n: linear.n, seconds: time, rate: rate,
                             unit: "GFLOP/s", fraction: rate / gemm))
            }
        }
        return total
    }

    /// `count` uniform floats in [-scale, scale), filled in parallel (pages land near the pool's threads).
    private func allocateRandom(_ count: Int, seed: UInt64, scale: Float) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
        BenchmarkRandom.fillFloats(p, count: count, pool: pool, seed: seed, scale: scale)
        return p
    }
}

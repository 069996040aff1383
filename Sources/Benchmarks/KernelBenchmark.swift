import CKernels
import Kernels

#if canImport(Glibc)
import Glibc
#endif

/// `internvl bench kernels`: measures this machine's ceilings, then every matmul format on InternVL2-8B's
/// Linear shapes, and reports each as time, rate and fraction of the ceiling.
public struct KernelBenchmark {
    /// One Linear layer shape W[n, k] and the ops (with their M values) measured on it.
    struct Shape {
        let name: String
        let k: Int
        let n: Int
        let ops: [(op: String, ms: [Int])]
    }

    /// InternLM2-7B (the LLM of InternVL2-8B) and InternViT-300M shapes.
    static let shapes: [Shape] = {
        let decode = ("decode", [1, 4, 16]), prefill = ("prefill", [512, 2048])
        return [
            Shape(name: "attention.wqkv", k: 4096, n: 6144, ops: [decode, prefill]),
            Shape(name: "attention.wo", k: 4096, n: 4096, ops: [decode, prefill]),
            Shape(name: "feed_forward.w1", k: 4096, n: 14336, ops: [decode, prefill]),
            Shape(name: "feed_forward.w2", k: 14336, n: 4096, ops: [decode, prefill]),
            Shape(name: "output", k: 4096, n: 92553, ops: [decode]),
            Shape(name: "vit.attn.qkv", k: 1024, n: 3072, ops: [("vit", [1025])]),
            Shape(name: "vit.mlp.fc1", k: 1024, n: 4096, ops: [("vit", [1025])]),
            Shape(name: "vit.mlp.fc2", k: 4096, n: 1024, ops: [("vit", [1025])]),
        ]
    }()

    /// Pool threads (the `--threads` value).
    public var threads: Int
    /// Weight formats measured, in order.
    public var formats: [WeightFormat]

    /// Ops measured ("decode", "prefill", "vit", "attention").
    public var ops: Set<String>

    /// Every op name the benchmark knows.
    public static let allOps: [String] = ["decode", "prefill", "vit", "attention"]

    /// Matmul precisions measured. Decode rows of quantized formats under ``MatmulPath/Precision/fast`` (int8
    /// activations) are labelled `<format>/fast`; bf16 prefill/vit rows (the bf16 GEMM) carry their precision;
    /// every other row runs ``MatmulPath/Precision/exact``, unlabelled.
    public var precisions: [MatmulPath.Precision]

    /// The smallest working set of a decode measurement: each timed call reads a different copy of the weights,
    /// cycling through enough copies that no call finds its matrix in the last-level cache (at least 1 GiB, or
    /// twice the L3 size from sysfs, whichever is larger).
    public static var decodeWorkingSetBytes: Int { max(1 << 30, 2 * (lastLevelCacheBytes ?? 0)) }

    /// A benchmark with `threads` threads over the given weight formats, ops and precisions (default: all).
    public init(threads: Int, formats: [WeightFormat] = [.bf16, .q8_0, .q4_0, .f32],
                ops: Set<String> = Set(KernelBenchmark.allOps), precisions: [MatmulPath.Precision] = [.exact, .fast]) {
        self.threads = threads
        self.formats = formats
        self.ops = ops
        self.precisions = precisions
    }

    /// Runs everything, handing each record to `emit` as soon as it is measured.
    public func run(emit: (BenchmarkRecord) -> Void) throws {
        let pool = try ThreadPool(threads: threads)

        let bufferBytes = 1 << 30
        let buffer = MachineCeilings.makeReadBuffer(pool: pool, bytes: bufferBytes)
        let bandwidth = MachineCeilings.readBandwidth(pool: pool, buffer: buffer, bytes: bufferBytes, streams: 8)
        let oneStream = MachineCeilings.readBandwidth(pool: pool, buffer: buffer, bytes: bufferBytes, streams: 1)
        buffer.deallocate()
        emit(.ceiling(name: "read bandwidth", detail: "8 interleaved streams per thread over 1 GiB", threads: threads,
                      value: bandwidth, unit: "GB/s"))
        emit(.ceiling(name: "read bandwidth, 1 stream", detail: "one sequential stream per thread (reference only)",
                      threads: threads, value: oneStream, unit: "GB/s"))
        let gemm = MachineCeilings.sgemmRate(pool: pool)
        emit(.ceiling(name: "sgemm", detail: "OpenBLAS \(MachineCeilings.openBLASCore), 1024x1024x2048 per thread; "
                      + "kernels at level \(MatmulPath.Level.active.name)", threads: threads, value: gemm, unit: "GFLOP/s"))
        let level = MatmulPath.Level.active
        let bf16Peak = MachineCeilings.bf16TilePeak(pool: pool, level: level)
        if bf16Peak > 0 {
            let instruction = level >= .amx ? "AMX TDPBF16PS, 4 C tiles" : "AVX512-BF16 vdpbf16ps, 16 accumulators"
            emit(.ceiling(name: "bf16 tile peak", detail: "\(instruction) from registers, no memory", threads: threads,
                          value: bf16Peak, unit: "GFLOP/s"))
        }

        if ops.contains("attention") {
            try AttentionBenchmark(pool: pool, bandwidth: bandwidth, gemm: gemm).run(emit: emit)
        }

        let maxXFloats = Self.shapes.flatMap { s in s.ops.flatMap { $0.ms.map { $0 * s.k } } }.max()!
        let maxYFloats = Self.shapes.flatMap { s in s.ops.flatMap { $0.ms.map { $0 * s.n } } }.max()!
        let x = UnsafeMutablePointer<Float>.allocate(capacity: maxXFloats)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: maxYFloats)
        defer {
            x.deallocate()
            y.deallocate()
        }
        BenchmarkRandom.fillFloats(x, count: maxXFloats, pool: pool, seed: 1, scale: 1)

        for (index, shape) in Self.shapes.enumerated() where shape.ops.contains(where: { ops.contains($0.op) }) {
            let source = UnsafeMutablePointer<UInt16>.allocate(capacity: shape.n * shape.k)
            defer { source.deallocate() }
            BenchmarkRandom.fillBF16(source, count: shape.n * shape.k, pool: pool, seed: UInt64(100 + index))
            for format in formats {
                let w = try WeightMatrix(rows: shape.n, cols: shape.k, format: format, bf16: source, pool: pool)
                for (op, ms) in shape.ops where ops.contains(op) {
                    if op == "decode" {
                        try measureDecode(w, ms: ms, x: x, y: y, pool: pool, bandwidth: bandwidth, gemm: gemm, emit: emit)
                        continue
                    }
                    for m in ms {
                        let timer = m >= 512 ? BenchmarkTimer(minRuns: 3, maxRuns: 5, minTotalSeconds: 0.5)
                                             : BenchmarkTimer()
                        if op != "decode" && format == .bf16 {
                            for precision in precisions {
                                var path = MatmulPath.automatic
                                path.precision = precision
                                let time = timer.measure { matmul(x, rows: m, w, into: y, pool: pool, path: path) }.median
                                let rate = 2 * Double(m) * Double(shape.n) * Double(shape.k) / time / 1e9
                                emit(.gemm(op: op, format: format.rawValue, precision: precision.name, m: m, k: shape.k,
                                           n: shape.n, threads: threads, seconds: time, gflops: rate,
                                           sgemmFraction: rate / gemm, peakFraction: bf16Peak > 0 ? rate / bf16Peak : 0))
                            }
                            continue
                        }
                        let time = timer.measure { matmul(x, rows: m, w, into: y, pool: pool) }.median
                        let rate = 2 * Double(m) * Double(shape.n) * Double(shape.k) / time / 1e9
                        emit(.kernel(op: op, format: format.rawValue, m: m, k: shape.k, n: shape.n, seconds: time,
                                     rate: rate, unit: "GFLOP/s", fraction: rate / gemm))
                    }
                }
            }
        }
    }

    /// Decode (M = 1, 4, 16) on `w`, from memory rather than cache: every timed call reads the next of enough
    /// copies of `w` to fill ``decodeWorkingSetBytes`` (capped by free memory), so each copy has left the L3
    /// before it is read again. Emits one record per M and precision (FAST only for quantized formats).
    private func measureDecode(_ w: WeightMatrix, ms: [Int], x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                               pool: ThreadPool, bandwidth: Double, gemm: Double,
                               emit: (BenchmarkRecord) -> Void) throws {
        var copies = [w]
        let wanted = (Self.decodeWorkingSetBytes + w.byteCount - 1) / w.byteCount
        let affordable = max(1, Self.spareMemoryBytes / 2 / w.byteCount)
        for _ in 1..<max(1, min(wanted, affordable)) {
            copies.append(try WeightMatrix(rows: w.rows, cols: w.cols, format: w.format, values: w.rawValues,
                                           scales: w.format.isQuantized ? w.rawScales : nil))
        }
        let runs = precisions.filter { $0 == .exact || w.format.isQuantized }
        for precision in runs {
            var path = MatmulPath.automatic
            path.precision = precision
            let label = precision == .exact ? w.format.rawValue : "\(w.format.rawValue)/\(precision.name)"
            for m in ms {
                var next = 0
                let time = BenchmarkTimer().measure {
                    matmul(x, rows: m, copies[next], into: y, pool: pool, path: path)
                    next = (next + 1) % copies.count
                }.median
                let bytes = Double(w.byteCount)
                let flops = 2 * Double(m) * Double(w.rows) * Double(w.cols)
                let roofline = BenchmarkRecord.Roofline(bytes: bytes, flops: flops, seconds: time,
                                                        bandwidthGBs: bandwidth, gemmGFLOPs: gemm)
                let rate = bytes / time / 1e9
                emit(.kernel(op: "decode", format: label, m: m, k: w.cols, n: w.rows, seconds: time, rate: rate,
                             unit: "GB/s", fraction: rate / bandwidth, roofline: roofline))
            }
        }
    }

    /// The L3 (last-level) cache size of CPU 0 from sysfs, if the kernel reports one.
    static var lastLevelCacheBytes: Int? {
        guard let text = readSmallFile("/sys/devices/system/cpu/cpu0/cache/index3/size") else { return nil }
        let trimmed = text.filter { !$0.isWhitespace }
        let multipliers: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        if let last = trimmed.last, let multiplier = multipliers[last], let value = Int(trimmed.dropLast()) {
            return value * multiplier
        }
        return Int(trimmed)
    }

    /// MemAvailable from /proc/meminfo (4 GiB if it cannot be read).
    static var spareMemoryBytes: Int {
        guard let text = readSmallFile("/proc/meminfo"),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
              let kib = line.split(separator: " ").compactMap({ Int($0) }).first
        else { return 4 << 30 }
        return kib * 1024
    }

    private static func readSmallFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = fread(&bytes, 1, bytes.count - 1, file)
        return String(decoding: bytes[0..<count], as: UTF8.self)
    }
}

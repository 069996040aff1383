/// One line of `internvl bench kernels` output: a measured machine ceiling or one kernel at one shape.
public enum BenchmarkRecord: Sendable, Equatable {
    /// A ceiling of this machine measured in the same process: `value` in `unit` ("GB/s" or "GFLOP/s").
    case ceiling(name: String, detail: String, threads: Int, value: Double, unit: String)
    /// One matmul: `op` (decode, prefill, vit), weight format, Y[m, n] = X[m, k] · W[n, k]^T, the median time,
    /// its rate in `unit` and the fraction of the matching ceiling; decode records also carry their ``Roofline``.
    case kernel(op: String, format: String, m: Int, k: Int, n: Int, seconds: Double, rate: Double, unit: String,
                fraction: Double, roofline: Roofline? = nil)
    /// One layer's attention against its Linears (`--ops attention`).
    case attention(AttentionRecord)
    /// One bf16-weight GEMM (prefill, vit) in one precision ("exact" or "fast"): the median time, the total rate,
    /// the rate per thread, and the rate as a fraction of the sgemm ceiling and of the bf16 tile peak (0 when
    /// the machine has no bf16 instruction).
    case gemm(op: String, format: String, precision: String, m: Int, k: Int, n: Int, threads: Int, seconds: Double,
              gflops: Double, sgemmFraction: Double, peakFraction: Double)

    /// Where a decode matmul stands against both ceilings: it must read every weight byte (read bandwidth) and
    /// do 2·M·N·K flops (the GEMM rate); the slower of the two is its bound.
    public struct Roofline: Sendable, Equatable {
        /// The flop rate reached, in GFLOP/s.
        public var gflops: Double
        /// `gflops` as a fraction of the measured GEMM ceiling.
        public var gemmFraction: Double
        /// "memory" when reading the weights at the measured bandwidth takes longer than the flops at the GEMM
        /// ceiling, else "compute".
        public var bound: String
        /// max(bandwidth time, GEMM-ceiling time) / measured time: 1 means at the bound.
        public var boundFraction: Double

        /// The roofline of a run of `seconds` that read `bytes` and did `flops`, against the two ceilings.
        public init(bytes: Double, flops: Double, seconds: Double, bandwidthGBs: Double, gemmGFLOPs: Double) {
            gflops = flops / seconds / 1e9
            gemmFraction = gflops / gemmGFLOPs
            let memoryTime = bytes / (bandwidthGBs * 1e9), computeTime = flops / (gemmGFLOPs * 1e9)
            bound = memoryTime >= computeTime ? "memory" : "compute"
            boundFraction = max(memoryTime, computeTime) / seconds
        }
    }

    /// The header line of the text table of kernel records.
    public static let textHeader = "op       format   M      K      N        time ms   rate                of ceiling"
        + "   GFLOP/s   of gemm   bound     of bound"

    /// A human-readable line.
    public var text: String {
        switch self {
        case .ceiling(let name, let detail, let threads, let value, let unit):
            return "ceiling  \(name): \(fixed(value, 1)) \(unit)  (\(threads) threads, \(detail))"
        case .kernel(let op, let format, let m, let k, let n, let seconds, let rate, let unit, let fraction,
                     let roofline):
            let line = pad(op, 9) + pad(format, 9) + pad("\(m)", 7) + pad("\(k)", 7) + pad("\(n)", 9)
                + pad(fixed(seconds * 1000, 3), 10) + pad("\(fixed(rate, 1)) \(unit)", 20) + fixed(fraction, 2)
            guard let roofline else { return line }
            return pad(line, 93) + pad(fixed(roofline.gflops, 1), 10) + pad(fixed(roofline.gemmFraction, 2), 10)
                + pad(roofline.bound, 10) + fixed(roofline.boundFraction, 2)
        case .attention(let record):
            return record.text
        case .gemm(let op, let format, let precision, let m, let k, let n, let threads, let seconds, let gflops,
                   let sgemmFraction, let peakFraction):
            let line = pad(op, 9) + pad(format, 9) + pad("\(m)", 7) + pad("\(k)", 7) + pad("\(n)", 9)
                + pad(fixed(seconds * 1000, 3), 10) + pad("\(fixed(gflops, 1)) GFLOP/s", 20) + fixed(sgemmFraction, 2)
            return pad(line, 93) + "precision \(precision), \(fixed(gflops / Double(max(threads, 1)), 1)) GFLOP/s per "
                + "thread, \(fixed(peakFraction, 2)) of bf16 tile peak"
        }
    }

    /// The same content as one JSON object (one line, keys in a fixed order).
    public var json: String {
        switch self {
        case .ceiling(let name, let detail, let threads, let value, let unit):
            return "{\"kind\":\"ceiling\",\"name\":\(jsonQuoted(name)),\"detail\":\(jsonQuoted(detail)),\"threads\":\(threads),"
                + "\"value\":\(fixed(value, 3)),\"unit\":\(jsonQuoted(unit))}"
        case .kernel(let op, let format, let m, let k, let n, let seconds, let rate, let unit, let fraction,
                     let roofline):
            let fields = "{\"kind\":\"kernel\",\"op\":\(jsonQuoted(op)),\"format\":\(jsonQuoted(format)),\"m\":\(m),\"k\":\(k),"
                + "\"n\":\(n),\"ms\":\(fixed(seconds * 1000, 4)),\"rate\":\(fixed(rate, 3)),\"unit\":\(jsonQuoted(unit)),"
                + "\"fraction\":\(fixed(fraction, 4))"
            guard let roofline else { return fields + "}" }
            return fields + ",\"gflops\":\(fixed(roofline.gflops, 3)),\"gemm_fraction\":\(fixed(roofline.gemmFraction, 4)),"
                + "\"bound\":\(jsonQuoted(roofline.bound)),\"bound_fraction\":\(fixed(roofline.boundFraction, 4))}"
        case .attention(let record):
            return record.json
        case .gemm(let op, let format, let precision, let m, let k, let n, let threads, let seconds, let gflops,
                   let sgemmFraction, let peakFraction):
            return "{\"kind\":\"kernel\",\"op\":\(jsonQuoted(op)),\"format\":\(jsonQuoted(format)),"
                + "\"precision\":\(jsonQuoted(precision)),\"m\":\(m),\"k\":\(k),\"n\":\(n),\"threads\":\(threads),"
                + "\"ms\":\(fixed(seconds * 1000, 4)),\"rate\":\(fixed(gflops, 3)),\"unit\":\"GFLOP/s\","
                + "\"fraction\":\(fixed(sgemmFraction, 4)),\"gflops_per_thread\":\(fixed(gflops / Double(max(threads, 1)), 3)),"
                + "\"peak_fraction\":\(fixed(peakFraction, 4))}"
        }
    }
}

/// `value` with `digits` decimals (no Foundation needed).
func fixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "0" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = Int(scaled / scale)
    let fraction = Int(scaled - Double(whole) * scale)
    let sign = value < 0 && scaled != 0 ? "-" : ""
    guard digits > 0 else { return sign + "\(whole)" }
    let fractionText = String(fraction)
    return sign + "\(whole)." + String(repeating: "0", count: digits - fractionText.count) + fractionText
}

private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

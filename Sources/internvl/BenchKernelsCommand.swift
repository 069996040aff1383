import ArgumentParser
import Benchmarks
import Kernels
import SystemInfo

#if canImport(Glibc)
import Glibc
#endif

/// `internvl bench kernels`: this machine's read bandwidth and sgemm ceilings, then every matmul weight format
/// on InternVL2-8B's shapes (decode M = 1, 4, 16; prefill M = 512, 2048; ViT M = 1025) as time, rate and
/// fraction of the ceiling. Build with `-c release`.
struct BenchKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Measure matmul kernels against this machine's read bandwidth and sgemm rate (release build).")

    @Option(name: .long, help: "Threads in the pool (env INTERNVL_THREADS).")
    var threads: Int?

    @Flag(name: .long, help: "Print one JSON object per line instead of a table.")
    var json = false

    @Option(name: .long, parsing: .upToNextOption,
            help: "Weight formats to measure: f32, bf16, q8_0, q4_0 (default: all).")
    var formats: [String] = []

    @Option(name: .long, parsing: .upToNextOption, help: "Ops to measure: decode, prefill, vit (default: all).")
    var ops: [String] = []

    @Option(name: .long, help: "Precision of the bf16 prefill/vit GEMM rows: exact, fast or both (default: both).")
    var precision = "both"

    func validate() throws {
        if precision != "both" && MatmulPath.Precision(name: precision) == nil {
            throw ValidationError("--precision: unknown precision '\(precision)' (use exact, fast, both)")
        }
        for name in ops where !KernelBenchmark.allOps.contains(name) {
            throw ValidationError("--ops: unknown op '\(name)' (use decode, prefill, vit)")
        }
        if let threads = resolvedThreads, threads < 1 {
            throw ValidationError("--threads must be at least 1 (got \(threads))")
        }
        for name in formats where WeightFormat(rawValue: name) == nil {
            throw ValidationError("--formats: unknown format '\(name)' (use f32, bf16, q8_0, q4_0)")
        }
    }

    /// The flag, else INTERNVL_THREADS, else nil (meaning: every core).
    private var resolvedThreads: Int? {
        if let threads { return threads }
        if let env = getenv("INTERNVL_THREADS"), let value = Int(String(cString: env)) { return value }
        return nil
    }

    func run() throws {
        let count = resolvedThreads ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let chosen = formats.isEmpty ? [.bf16, .q8_0, .q4_0, .f32] : formats.compactMap(WeightFormat.init(rawValue:))
        Self.reexecWithRecognisedOpenBLASCoreIfNeeded()
        var benchmark = KernelBenchmark(threads: count, formats: chosen,
                                        ops: ops.isEmpty ? Set(KernelBenchmark.allOps) : Set(ops))
        if let one = MatmulPath.Precision(name: precision) { benchmark.precisions = [one] }
        var headerPrinted = false
        do {
            try benchmark.run { record in
                if !json, !headerPrinted, case .kernel = record {
                    print(BenchmarkRecord.textHeader)
                    headerPrinted = true
                }
                print(json ? record.json : record.text)
                fflush(stdout)
            }
        } catch {
            var stderr = StandardErrorStream()
            print("internvl bench kernels: \(error)", to: &stderr)
            throw ExitCode(1)
        }
    }
}

extension BenchKernelsCommand {
    /// OpenBLAS 0.3.21 does not recognise some newer CPUs and falls back to its slow SSE3 `Prescott` kernels; it
    /// reads `OPENBLAS_CORETYPE` only at start-up. If that happened (and the variable is unset), run this same
    /// command again with the variable naming the widest kernels this CPU can run.
    static func reexecWithRecognisedOpenBLASCoreIfNeeded() {
        guard getenv("OPENBLAS_CORETYPE") == nil, SystemInfo.openBLASCore.lowercased() == "prescott" else { return }
        let core: String
        switch MatmulPath.Level.machineMaximum {
        case .scalar: return
        case .avx2: core = "Haswell"
        case .avx512, .avx512bf16, .amx: core = "SkylakeX"
        }
        setenv("OPENBLAS_CORETYPE", core, 1)
        fputs("internvl bench kernels: OpenBLAS chose Prescott kernels; re-running with OPENBLAS_CORETYPE=\(core)\n", stderr)
        var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", argv)
        // execv returned: keep going with the kernels OpenBLAS chose.
    }
}

/// Lets `print(_:to:)` write to standard error.
private struct StandardErrorStream: TextOutputStream {
    mutating func write(_ string: String) { fputs(string, stderr) }
}

import Kernels
import SystemInfo

#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS 0.3.21 does not recognise some newer CPUs (Sapphire Rapids among them) and falls back to its slow
/// SSE3 `Prescott` kernels, which makes every f32 GEMM (prefill and vision with f32 or quantized weights) several
/// times slower. It reads `OPENBLAS_CORETYPE` only when the library loads, so the fix has to happen before this
/// process computes anything: if OpenBLAS chose Prescott and the variable is unset, run this same command again
/// with the variable naming the widest kernels this CPU can run. Child processes (cluster workers) inherit the
/// variable and never re-execute.
enum OpenBLASCoreSelection {
    static func reexecWithRecognisedCoreIfNeeded() {
        guard getenv("OPENBLAS_CORETYPE") == nil, SystemInfo.openBLASCore.lowercased() == "prescott" else { return }
        let core: String
        switch MatmulPath.Level.machineMaximum {
        case .scalar: return
        case .avx2: core = "Haswell"
        case .avx512, .avx512bf16, .amx: core = "SkylakeX"
        }
        setenv("OPENBLAS_CORETYPE", core, 1)
        if CommandLine.arguments.dropFirst().first == "bench" {
            fputs("internvl: OpenBLAS chose Prescott kernels; re-running with OPENBLAS_CORETYPE=\(core)\n", stderr)
        }
        var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", argv)
        // execv returned: keep going with the kernels OpenBLAS chose.
    }
}

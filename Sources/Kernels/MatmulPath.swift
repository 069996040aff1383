import CKernels

/// Which code path a matmul takes: the CPU instruction level and the M from which the panel + GEMM
/// strategy replaces the streaming (GEMV / small-M) kernels. The default follows the machine.
public struct MatmulPath: Sendable, Equatable {
    /// A CPU code path, from the portable fallback up; each implies those below it.
    public enum Level: Int, CaseIterable, Sendable, Comparable {
        case scalar = 0, avx2, avx512, avx512bf16, amx

        /// The highest level this machine supports.
        public static var machineMaximum: Level { Level(rawValue: Int(ck_cpu_max_level().rawValue)) ?? .scalar }

        /// The level kernels use by default: the machine's maximum capped by `INTERNVL_CPU`.
        public static var active: Level { Level(rawValue: Int(ck_active_level().rawValue)) ?? .scalar }

        /// The name used by `INTERNVL_CPU` ("scalar", "avx2", "avx512", "avx512bf16", "amx").
        public var name: String { String(cString: ck_level_name(cLevel)) }

        var cLevel: ck_level { ck_level(rawValue: UInt32(rawValue)) }

        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    /// The CPU level (clamped to the machine's maximum); nil means ``Level/active``.
    public var level: Level?
    /// The smallest M that uses the panel + GEMM strategy.
    public var gemmMinRows: Int

    /// The default: the active CPU level, GEMM from M = 32.
    public static let automatic = MatmulPath(level: nil, gemmMinRows: Int(CK_MATMUL_GEMM_MIN_ROWS))

    /// A path with an explicit level and GEMM threshold (for tests and benchmarks).
    public init(level: Level?, gemmMinRows: Int = Int(CK_MATMUL_GEMM_MIN_ROWS)) {
        self.level = level
        self.gemmMinRows = gemmMinRows
    }
}

import CKernels

/// Which code path a matmul takes: the CPU instruction level, the largest M on the fused small-M ("skinny")
/// kernels, and the M from which the panel + GEMM strategy replaces the streaming kernels. The default
/// follows the machine.
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

    /// How exactly a matmul uses X (weights are always used exactly as stored).
    public enum Precision: Int, CaseIterable, Sendable {
        /// X in full f32 precision: results equal decode-then-multiply in f32 up to float rounding (what the
        /// float32 reference and the golden fixtures require). bf16 kernels carry X as a sum of bf16 terms.
        case exact = 0
        /// X may be rounded where that is faster: to bf16 for bf16 GEMMs, to int8 blocks of 32 against quantized
        /// weights (as bf16 and llama.cpp-style deployments do). Opt-in.
        case fast = 1

        /// The process-wide default: ``exact`` unless `INTERNVL_PRECISION=fast` or ``setActive(_:)`` chose otherwise.
        public static var active: Precision { Precision(rawValue: Int(ck_active_precision().rawValue)) ?? .exact }

        /// Sets the process-wide default used by every matmul whose path leaves the precision open.
        public static func setActive(_ precision: Precision) {
            _ = ck_set_precision(ck_precision(rawValue: UInt32(precision.rawValue)))
        }

        /// "exact" or "fast" (the spelling of `INTERNVL_PRECISION`, `--precision` and cluster.yaml).
        public var name: String { String(cString: ck_precision_name(cPrecision)) }

        /// The precision spelled `name`, or nil.
        public init?(name: String) {
            guard let match = Precision.allCases.first(where: { $0.name == name }) else { return nil }
            self = match
        }

        var cPrecision: ck_precision { ck_precision(rawValue: UInt32(rawValue)) }
    }

    /// The CPU level (clamped to the machine's maximum); nil means ``Level/active``.
    public var level: Level?
    /// The precision; nil means ``Precision/active``.
    public var precision: Precision? = nil
    /// The smallest M that uses the panel + GEMM strategy.
    public var gemmMinRows: Int
    /// The largest M (from 2, below ``gemmMinRows``) that runs on the fused small-M kernels, which stream each
    /// weight row once for all M rows of X; 0 turns them off (M then takes the older decode-panel path). At most
    /// ``skinnyLimit``. The scalar level has no skinny kernel and ignores it.
    public var skinnyMaxRows: Int

    /// The smallest M on our bf16 GEMM (bf16 weights at a level that has one: AMX); nil means ``gemmMinRows``. ``automatic`` sets ``defaultBF16GEMMMinRows``.
    public var bf16GEMMMinRows: Int? = nil

    /// The default smallest M on the bf16 GEMM (16: the AMX tiles beat the skinny kernels from about there).
    public static let defaultBF16GEMMMinRows = Int(CK_MATMUL_BF16_GEMM_MIN_ROWS)

    /// The largest ``skinnyMaxRows`` the kernels accept.
    public static let skinnyLimit = 32

    /// The default largest M on the skinny kernels (32: they beat the panel + sgemm path at every M measured up
    /// to there, so every M below ``gemmMinRows`` takes them).
    public static let defaultSkinnyMaxRows = Int(CK_MATMUL_SKINNY_MAX_ROWS)

    /// The default: the active CPU level, skinny kernels for M = 2...31, GEMM from M = 32 (bf16 weights on a
    /// level with a bf16 GEMM: from M = 16).
    public static let automatic: MatmulPath = {
        var path = MatmulPath(level: nil, gemmMinRows: Int(CK_MATMUL_GEMM_MIN_ROWS))
        path.bf16GEMMMinRows = defaultBF16GEMMMinRows
        return path
    }()

    /// A path with an explicit level and GEMM threshold (for tests and benchmarks).
    public init(level: Level?, gemmMinRows: Int = Int(CK_MATMUL_GEMM_MIN_ROWS)) {
        self.init(level: level, gemmMinRows: gemmMinRows, skinnyMaxRows: Self.defaultSkinnyMaxRows)
    }

    /// A path with an explicit level, GEMM threshold and skinny-kernel limit (for tests and benchmarks).
    public init(level: Level?, gemmMinRows: Int, skinnyMaxRows: Int, precision: Precision? = nil) {
        precondition((0...Self.skinnyLimit).contains(skinnyMaxRows),
                     "MatmulPath: skinnyMaxRows must be in 0...\(Self.skinnyLimit) (got \(skinnyMaxRows))")
        self.level = level
        self.gemmMinRows = gemmMinRows
        self.skinnyMaxRows = skinnyMaxRows
        self.precision = precision
    }

    /// The C description of this path.
    var cPath: ck_matmul_path {
        ck_matmul_path(level: (level ?? .active).cLevel, gemm_min_rows: Int64(gemmMinRows),
                       skinny_max_rows: Int64(skinnyMaxRows), precision: (precision ?? .active).cPrecision,
                       bf16_gemm_min_rows: Int64(bf16GEMMMinRows ?? 0))
    }
}

extension MatmulPath.Level {
    /// Runs `iterations` rounds of this level's bf16 multiply-add instruction from registers only (AMX
    /// TDPBF16PS, or AVX512-BF16 vdpbf16ps) on every thread of `pool` and returns the floating-point operations
    /// done, 0 when the level (clamped to the machine) has none. For the benchmark's bf16 tile peak: time it.
    public func bf16PeakRun(pool: ThreadPool, iterations: Int) -> Double {
        ck_bf16_peak_run(pool.handle, cLevel, Int64(iterations))
    }
}

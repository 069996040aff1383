import CKernels
import COpenBLAS

/// Y[m, N] = X[m, K] · W[N, K]^T, or Y += X · W^T with `accumulate` (for residual adds).
///
/// `x` holds `m * w.cols` floats and `y` holds `m * w.rows` floats, both row-major and dense. Any `m` works:
/// m = 1 streams the weights at memory speed, m = 2...31 (``MatmulPath/skinnyMaxRows``) streams them once and
/// applies each decoded chunk to every row of X, and large m
/// (``MatmulPath/gemmMinRows`` and up) decodes weight panels to f32 and runs OpenBLAS sgemm on them, one
/// panel per pool thread, except bf16 weights on AMX, which run our own tile GEMM from
/// ``MatmulPath/bf16GEMMMinRows`` (16 by default) on (X split into three bf16
/// terms in ``MatmulPath/Precision/exact``, rounded to bf16 in ``MatmulPath/Precision/fast``). In exact precision (the default) results equal
/// decode-then-multiply in f32 up to float rounding. Allocates nothing in steady state (per-thread and shared
/// pool scratch grows on first use).
public func matmul(_ x: UnsafePointer<Float>, rows m: Int, _ w: WeightMatrix, into y: UnsafeMutablePointer<Float>,
                   pool: ThreadPool, accumulate: Bool = false, path: MatmulPath = .automatic) {
    precondition(m >= 0, "matmul: rows must be >= 0 (got \(m))")
    let status = w.withCWeights { cw in
        var cPath = path.cPath
        return ck_matmul_on_path(pool.handle, x, Int64(m), cw, y, accumulate ? 1 : 0, &cPath)
    }
    precondition(status == CK_MATMUL_OK, "matmul: [\(m), \(w.cols)] x [\(w.rows), \(w.cols)]^T \(w.format.rawValue) failed (\(status.rawValue))")
}

/// Installs OpenBLAS sgemm as the large-M GEMM of the C kernels (once per process).
enum MatmulSetup {
    /// OpenBLAS runs single-threaded inside each pool thread, so the pool alone decides the parallelism.
    private static let installed: Void = {
        openblas_set_num_threads(1)
        ck_matmul_set_sgemm { m, n, k, a, lda, b, ldb, beta, c, ldc in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
        }
    }()

    static func installGEMM() { _ = installed }
}

import Kernels

/// The model's attention over `ComputeThreads.pool`: jobs (one per sequence) are collected in `jobs`, then `run()`
/// hands them to the ``AttentionScheduler`` of the Kernels module, which splits them over the pool's threads (the
/// same scheduler `internvl bench kernels --ops attention` measures). Scratch and job storage are reused.
final class ParallelAttention {
    let headDim: Int
    private let scheduler: AttentionScheduler

    init(headDim: Int) {
        self.headDim = headDim
        scheduler = AttentionScheduler(headDim: headDim)
    }

    /// The jobs of the current call.
    var jobs: [AttentionJob] {
        get { scheduler.jobs }
        _modify { yield &scheduler.jobs }
    }

    /// Runs every job in `jobs`, then empties the list (keeping its storage).
    func run() {
        scheduler.run(pool: ComputeThreads.pool)
    }
}

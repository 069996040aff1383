/// One sequence's attention inside an ``AttentionScheduler`` call: where its queries, keys, values and outputs
/// live, and their shape (mask, strides). Pointers are into buffers the caller keeps alive for the call.
public struct AttentionJob {
    public var queries: UnsafePointer<Float>
    public var keys: UnsafePointer<Float>
    public var values: UnsafePointer<Float>
    public var output: UnsafeMutablePointer<Float>
    public var shape: AttentionShape
    /// Tasks before this job's first one (filled by `AttentionScheduler.run`).
    var firstTask = 0
    /// Query rows per task.
    var chunkRows = 1
    /// Query chunks of this job.
    var chunks = 1

    public init(queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                output: UnsafeMutablePointer<Float>, shape: AttentionShape) {
        self.queries = queries
        self.keys = keys
        self.values = values
        self.output = output
        self.shape = shape
    }
}

/// Attention of several sequences at once on the tiled C kernel, split over a pool's threads in tasks of
/// (sequence, query head, block of query rows); a sequence's rows are split only when there are too few
/// (sequence, head) tasks to keep every thread busy. Holds the per-thread kernel scratch and the job list, both
/// reused from call to call, so a decode step allocates nothing here. The model (`ParallelAttention`) and
/// `internvl bench kernels --ops attention` both run attention through this type.
public final class AttentionScheduler {
    /// Fewest query rows a task gets when a sequence's rows are split.
    static let minimumRowsPerTask = 32
    /// Tasks wanted per thread, so threads that finish early find more.
    static let tasksPerThread = 4

    public let headDim: Int
    private let scratchPerThread: Int
    private var scratch: UnsafeMutableBufferPointer<Float>
    /// The jobs of the current call (capacity kept between calls).
    public var jobs: [AttentionJob] = []

    public init(headDim: Int) {
        self.headDim = headDim
        scratchPerThread = Ops.attentionScratchCount(headDim: headDim)
        scratch = .allocate(capacity: 0)
    }

    deinit { scratch.deallocate() }

    /// Runs every job in `jobs` on `pool`, then empties the list (keeping its storage).
    public func run(pool: ThreadPool) {
        if scratch.count < scratchPerThread * pool.threadCount {
            scratch.deallocate()
            scratch = .allocate(capacity: scratchPerThread * pool.threadCount)
            scratch.initialize(repeating: 0)
        }
        let headTasks = jobs.reduce(0) { $0 + $1.shape.heads }
        let splits = max(1, (Self.tasksPerThread * pool.threadCount + headTasks - 1) / max(headTasks, 1))
        var tasks = 0
        for index in jobs.indices {
            let queries = jobs[index].shape.queries
            let chunkRows = max(min(queries, Self.minimumRowsPerTask), (queries + splits - 1) / splits, 1)
            jobs[index].chunkRows = chunkRows
            jobs[index].chunks = (queries + chunkRows - 1) / chunkRows
            jobs[index].firstTask = tasks
            tasks += jobs[index].chunks * jobs[index].shape.heads
        }
        let perThread = scratchPerThread
        let workspace = scratch.baseAddress!
        jobs.withUnsafeBufferPointer { list in
            pool.run(tasks: tasks) { task, thread in
                var index = 0
                while index + 1 < list.count && list[index + 1].firstTask <= task { index += 1 }
                let job = list[index]
                let local = task - job.firstTask
                let head = local / job.chunks
                let firstRow = (local % job.chunks) * job.chunkRows
                let rows = firstRow..<min(job.shape.queries, firstRow + job.chunkRows)
                Self.attend(job, heads: head..<(head + 1), queries: rows,
                            scratch: UnsafeMutableBufferPointer(start: workspace + thread * perThread, count: perThread))
            }
        }
        jobs.removeAll(keepingCapacity: true)
    }

    /// One kernel call over the heads and query rows given.
    private static func attend(_ job: AttentionJob, heads: Range<Int>, queries: Range<Int>,
                               scratch: UnsafeMutableBufferPointer<Float>) {
        let s = job.shape
        let queryWidth = s.heads * s.headDim, kvWidth = s.kvHeads * s.headDim
        let q = UnsafeBufferPointer(start: job.queries, count: max(s.queries - 1, 0) * s.qStride + queryWidth)
        let k = UnsafeBufferPointer(start: job.keys, count: max(s.keys - 1, 0) * s.kStride + kvWidth)
        let v = UnsafeBufferPointer(start: job.values, count: max(s.keys - 1, 0) * s.vStride + kvWidth)
        let out = UnsafeMutableBufferPointer(start: job.output, count: max(s.queries - 1, 0) * s.outStride + queryWidth)
        do {
            try Ops.attention(q: q, k: k, v: v, out: out, shape: s, heads: heads, queries: queries, scratch: scratch)
        } catch {
            preconditionFailure("attention job: \(error)")
        }
    }
}

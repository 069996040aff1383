import CKernels

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
    /// Query chunks of this job (row-split jobs), each about the same work.
    var chunks = 1
    /// Key parts of this job: 0 for a job split by rows; for a job with few rows, 1 (one task over all heads) or
    /// more (split by keys, then combined).
    var keyParts = 0
    /// Where this job's partial results start in the scheduler's partial buffer (split-key jobs).
    var partialOffset = 0

    public init(queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                output: UnsafeMutablePointer<Float>, shape: AttentionShape) {
        self.queries = queries
        self.keys = keys
        self.values = values
        self.output = output
        self.shape = shape
    }
}

/// Attention of several sequences at once on the tiled C kernel, split over a pool's threads.
///
/// - A job with few (query, head) rows (decode, short chunks after a prompt) runs over all its heads in each
///   task, so the cache is read once, in address order; with a long cache it is split by keys over the threads
///   and a second, short pass merges the parts (online-softmax combine).
/// - Other jobs (prefill, vision) are split by (query head, chunk of query rows); causal chunks are cut so each
///   holds about the same work (a late row sees more keys than an early one), not the same number of rows.
///
/// Holds the per-thread kernel scratch, the partial buffers and the job list, all reused from call to call, so a
/// decode step allocates nothing here once they have grown. The model (`ParallelAttention`) and
/// `internvl bench kernels --ops attention` both run attention through this type.
public final class AttentionScheduler {
    /// Fewest query rows a task gets on average when a sequence's rows are split.
    static let minimumRowsPerTask = 32
    /// Tasks wanted per thread, so threads that finish early (or get descheduled) find more.
    static let tasksPerThread = 4
    /// Most (query, head) rows of a job split by keys (the kernel's row block).
    static let splitKeyMaximumRows = Int(CK_ATTENTION_ROW_BLOCK)
    /// Fewest keys per key part (a multiple of every level's key tile).
    static let minimumKeysPerPart = 256

    public let headDim: Int
    private let scratchPerThread: Int
    private var scratch: UnsafeMutableBufferPointer<Float>
    private var partials: UnsafeMutableBufferPointer<Float>
    /// Indices of the split-key jobs of the current call (capacity kept).
    private var splitJobs: [Int] = []
    /// The jobs of the current call (capacity kept between calls).
    public var jobs: [AttentionJob] = []

    public init(headDim: Int) {
        self.headDim = headDim
        scratchPerThread = Ops.attentionScratchCount(headDim: headDim)
        scratch = .allocate(capacity: 0)
        partials = .allocate(capacity: 0)
    }

    deinit {
        scratch.deallocate()
        partials.deallocate()
    }

    /// Runs every job in `jobs` on `pool`, then empties the list (keeping its storage).
    public func run(pool: ThreadPool) {
        if scratch.count < scratchPerThread * pool.threadCount {
            scratch.deallocate()
            scratch = .allocate(capacity: scratchPerThread * pool.threadCount)
            scratch.initialize(repeating: 0)
        }
        let wanted = Self.tasksPerThread * pool.threadCount
        var rowTasks = 0, fewRowJobs = 0
        for job in jobs {
            if Self.hasFewRows(job.shape) { fewRowJobs += 1 } else { rowTasks += job.shape.heads }
        }
        let splits = max(1, (wanted + rowTasks - 1) / max(rowTasks, 1))
        let partsWanted = max(1, (wanted + fewRowJobs - 1) / max(fewRowJobs, 1))
        var tasks = 0, partialFloats = 0
        splitJobs.removeAll(keepingCapacity: true)
        for index in jobs.indices {
            let s = jobs[index].shape
            jobs[index].firstTask = tasks
            if Self.hasFewRows(s) {
                let parts = Self.keyParts(s, wanted: partsWanted)
                jobs[index].keyParts = parts
                tasks += parts
                guard parts > 1 else { continue }
                let counts = Ops.attentionPartialCounts(rows: s.queries * s.heads, headDim: s.headDim)
                jobs[index].partialOffset = partialFloats
                partialFloats += parts * (counts.partial + counts.stats)
                splitJobs.append(index)
            } else {
                jobs[index].keyParts = 0
                jobs[index].chunks = max(1, min(splits, s.queries / Self.minimumRowsPerTask))
                tasks += jobs[index].chunks * s.heads
            }
        }
        if partials.count < partialFloats {
            partials.deallocate()
            partials = .allocate(capacity: partialFloats)
            partials.initialize(repeating: 0)
        }
        let perThread = scratchPerThread
        let workspace = scratch.baseAddress!, partialBase = partials.baseAddress!
        jobs.withUnsafeBufferPointer { list in
            pool.run(tasks: tasks) { task, thread in
                var index = 0
                while index + 1 < list.count && list[index + 1].firstTask <= task { index += 1 }
                let job = list[index]
                let local = task - job.firstTask
                let taskScratch = UnsafeMutableBufferPointer(start: workspace + thread * perThread, count: perThread)
                if job.keyParts == 1 {
                    Self.attend(job, heads: 0..<job.shape.heads, queries: 0..<job.shape.queries, scratch: taskScratch)
                } else if job.keyParts > 1 {
                    Self.attendPart(job, part: local, partials: partialBase + job.partialOffset, scratch: taskScratch)
                } else {
                    let head = local / job.chunks
                    let rows = Self.chunk(job.shape, local % job.chunks, of: job.chunks)
                    Self.attend(job, heads: head..<(head + 1), queries: rows, scratch: taskScratch)
                }
            }
            if !splitJobs.isEmpty {
                splitJobs.withUnsafeBufferPointer { split in
                    pool.run(tasks: split.count) { task, _ in
                        let job = list[split[task]]
                        Self.combine(job, partials: partialBase + job.partialOffset)
                    }
                }
            }
        }
        jobs.removeAll(keepingCapacity: true)
    }

    /// Whether a job has few enough (query, head) rows for tasks over all its heads (one kernel row block).
    static func hasFewRows(_ s: AttentionShape) -> Bool {
        s.queries >= 1 && s.queries * s.heads <= splitKeyMaximumRows
    }

    /// Key parts a job is split into: 1 unless it has few rows and enough keys for two parts.
    static func keyParts(_ s: AttentionShape, wanted: Int) -> Int {
        guard hasFewRows(s) else { return 1 }
        return max(1, min(wanted, s.keys / minimumKeysPerPart))
    }

    /// Keys of part `p` of `parts`: equal ranges, cut at multiples of the widest key tile.
    static func keyRange(_ s: AttentionShape, part p: Int, of parts: Int) -> Range<Int> {
        let tile = Int(CK_ATTENTION_KEY_TILE)
        let tiles = (s.keys + tile - 1) / tile
        let lower = min(s.keys, tiles * p / parts * tile), upper = min(s.keys, tiles * (p + 1) / parts * tile)
        return lower..<upper
    }

    /// Query rows of chunk `i` of `chunks`: bidirectional rows in equal counts; causal rows so that each chunk
    /// covers about the same number of (query, visible key) pairs.
    static func chunk(_ s: AttentionShape, _ i: Int, of chunks: Int) -> Range<Int> {
        func boundary(_ i: Int) -> Int {
            if i <= 0 { return 0 }
            if i >= chunks { return s.queries }
            guard case .causal(let offset) = s.mask else { return s.queries * i / chunks }
            // Row t costs offset + t + 1 keys; rows [0, t) cost offset * t + t (t + 1) / 2. Solve for the row where
            // that reaches i / chunks of the total.
            let n = Double(s.queries), o = Double(offset)
            let target = (o * n + n * (n + 1) / 2) * Double(i) / Double(chunks)
            let b = o + 0.5
            let t = (-b + (b * b + 2 * target).squareRoot()).rounded()
            return min(s.queries, max(0, Int(t)))
        }
        let lower = boundary(i), upper = max(lower, boundary(i + 1))
        return lower..<upper
    }

    /// Part `part` of a split-key job: all heads and queries over that part's keys, into its partial buffers.
    private static func attendPart(_ job: AttentionJob, part: Int, partials: UnsafeMutablePointer<Float>,
                                   scratch: UnsafeMutableBufferPointer<Float>) {
        let s = job.shape
        let counts = Ops.attentionPartialCounts(rows: s.queries * s.heads, headDim: s.headDim)
        let (q, k, v, _) = buffers(job)
        let partial = UnsafeMutableBufferPointer(start: partials + part * counts.partial, count: counts.partial)
        let stats = UnsafeMutableBufferPointer(start: partials + job.keyParts * counts.partial + part * counts.stats,
                                               count: counts.stats)
        do {
            try Ops.attentionPartial(q: q, k: k, v: v, shape: s, keys: keyRange(s, part: part, of: job.keyParts),
                                     partial: partial, stats: stats, scratch: scratch)
        } catch {
            preconditionFailure("attention job: \(error)")
        }
    }

    /// Merges the key parts of a split-key job into its output.
    private static func combine(_ job: AttentionJob, partials: UnsafeMutablePointer<Float>) {
        let s = job.shape
        let counts = Ops.attentionPartialCounts(rows: s.queries * s.heads, headDim: s.headDim)
        let (_, _, _, out) = buffers(job)
        let partial = UnsafeBufferPointer(start: partials, count: job.keyParts * counts.partial)
        let stats = UnsafeBufferPointer(start: partials + job.keyParts * counts.partial,
                                        count: job.keyParts * counts.stats)
        do {
            try Ops.attentionCombine(out: out, shape: s, partials: partial, stats: stats, parts: job.keyParts)
        } catch {
            preconditionFailure("attention job: \(error)")
        }
    }

    /// One kernel call over the heads and query rows given.
    private static func attend(_ job: AttentionJob, heads: Range<Int>, queries: Range<Int>,
                               scratch: UnsafeMutableBufferPointer<Float>) {
        if queries.isEmpty { return }
        let (q, k, v, out) = buffers(job)
        do {
            try Ops.attention(q: q, k: k, v: v, out: out, shape: job.shape, heads: heads, queries: queries,
                              scratch: scratch)
        } catch {
            preconditionFailure("attention job: \(error)")
        }
    }

    /// The job's pointers as buffers of the lengths its shape covers.
    private static func buffers(_ job: AttentionJob) -> (
        UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>,
        UnsafeMutableBufferPointer<Float>
    ) {
        let s = job.shape
        let queryWidth = s.heads * s.headDim, kvWidth = s.kvHeads * s.headDim
        return (UnsafeBufferPointer(start: job.queries, count: max(s.queries - 1, 0) * s.qStride + queryWidth),
                UnsafeBufferPointer(start: job.keys, count: max(s.keys - 1, 0) * s.kStride + kvWidth),
                UnsafeBufferPointer(start: job.values, count: max(s.keys - 1, 0) * s.vStride + kvWidth),
                UnsafeMutableBufferPointer(start: job.output, count: max(s.queries - 1, 0) * s.outStride + queryWidth))
    }
}

import CKernels

/// Why a thread pool could not be made.
public enum ThreadPoolError: Error, CustomStringConvertible, Equatable {
    /// The requested thread count is below 1.
    case invalidThreadCount(Int)
    /// The operating system refused to start the worker threads.
    case cannotStartThreads(Int)

    public var description: String {
        switch self {
        case .invalidThreadCount(let n): return "thread pool: --threads must be at least 1 (got \(n))"
        case .cannotStartThreads(let n): return "thread pool: could not start \(n) threads"
        }
    }
}

/// A persistent pool of threads that runs numbered tasks; the calling thread takes part.
///
/// Create one per process (sized by `--threads`) and pass it to every ``matmul(_:rows:_:into:pool:accumulate:path:)``.
/// Workers spin briefly and then sleep between calls; a call allocates nothing. Calls are serialised: do not
/// call ``run(tasks:_:)`` (or `matmul`) from inside a task of the same pool.
public final class ThreadPool: @unchecked Sendable {
    /// The C pool; only this module touches it.
    let handle: OpaquePointer

    /// The number of threads, counting the caller.
    public let threadCount: Int

    /// Starts `threads - 1` worker threads (the caller is the last one).
    public init(threads: Int) throws {
        guard threads >= 1 else { throw ThreadPoolError.invalidThreadCount(threads) }
        guard let pool = ck_pool_create(Int32(threads)) else { throw ThreadPoolError.cannotStartThreads(threads) }
        handle = pool
        threadCount = threads
        MatmulSetup.installGEMM()
    }

    deinit {
        ck_pool_destroy(handle)
    }

    /// Calls `body(task, thread)` once for every task in `0..<tasks`, spread over the pool's threads, and
    /// returns when all have finished. `thread` is in `0..<threadCount` (0 is the calling thread), so a
    /// task may use per-thread storage indexed by it. `body` runs concurrently on several threads.
    public func run(tasks: Int, _ body: (_ task: Int, _ thread: Int) -> Void) {
        guard tasks > 0 else { return }
        withoutActuallyEscaping(body) { escaping in
            var closure = escaping
            withUnsafeMutablePointer(to: &closure) { pointer in
                ck_pool_run(handle, threadPoolTrampoline, UnsafeMutableRawPointer(pointer), Int32(tasks))
            }
        }
    }
}

/// Calls the Swift closure that `ThreadPool.run` passed as the C context.
private func threadPoolTrampoline(_ context: UnsafeMutableRawPointer?, _ task: Int32, _ thread: Int32) {
    let closure = context!.assumingMemoryBound(to: ((Int, Int) -> Void).self)
    closure.pointee(Int(task), Int(thread))
}

// A persistent pool of worker threads that runs numbered tasks; the calling thread takes part.
#ifndef CK_POOL_H
#define CK_POOL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An opaque thread pool. Create once per process (or per worker), reuse for every call.
typedef struct ck_pool ck_pool;

/// One task: `task` is in 0..<ntasks, `thread` in 0..<ck_pool_size(pool) (0 is the calling thread).
typedef void (*ck_task_fn)(void *ctx, int task, int thread);

/// Creates a pool of `nthreads` threads in total: the caller of ck_pool_run plus `nthreads - 1` workers.
/// Values below 1 are treated as 1. Returns NULL if a thread could not be started.
ck_pool *ck_pool_create(int nthreads);

/// Stops and joins the workers and frees the pool and its scratch buffers.
void ck_pool_destroy(ck_pool *pool);

/// The number of threads, counting the caller.
int ck_pool_size(const ck_pool *pool);

/// Runs fn(ctx, i, thread) once for every i in 0..<ntasks, spread over the threads, and returns when all
/// are done. Workers spin briefly, then sleep, between calls. Allocates nothing. Calls are serialised by
/// a lock: do not call ck_pool_run from inside a task of the same pool (it would deadlock).
void ck_pool_run(ck_pool *pool, ck_task_fn fn, void *ctx, int ntasks);

/// A 64-byte-aligned scratch buffer of at least `bytes` bytes owned by thread `thread` of the pool, kept
/// between calls (it grows only when a larger size is asked for). Returns NULL if allocation fails.
/// Only thread `thread` may use it, and only while a task is running on it (or outside ck_pool_run).
void *ck_pool_scratch(ck_pool *pool, int thread, size_t bytes);

/// A 64-byte-aligned buffer of at least `bytes` bytes shared by every thread of the pool (for data one step
/// writes and the next step's tasks all read, such as a packed matmul input), kept between calls and grown
/// only when a larger size is asked for. Locks it for the caller until ck_pool_shared_release(); call both
/// outside ck_pool_run, from the same thread. Returns NULL (and holds no lock) if allocation fails.
void *ck_pool_shared_acquire(ck_pool *pool, size_t bytes);

/// Unlocks the buffer of ck_pool_shared_acquire.
void ck_pool_shared_release(ck_pool *pool);

#ifdef __cplusplus
}
#endif
#endif

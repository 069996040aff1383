// Persistent thread pool: a generation counter publishes each job; tasks are claimed with an atomic
// counter; workers and the caller wait by spinning a little, then sleeping on a condition variable.
#include "ck_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CK_PAUSE() _mm_pause()
#else
#define CK_PAUSE() ((void)0)
#endif

/// How many pause iterations a waiting thread spins before it sleeps (tens of microseconds).
#define CK_SPIN_ITERATIONS 2000

typedef struct {
    void *ptr;
    size_t bytes;
    char pad[64 - sizeof(void *) - sizeof(size_t)];
} ck_scratch;

struct ck_pool {
    int nthreads;
    pthread_t *threads;
    ck_scratch *scratch;

    // The current job (written by the caller before the generation is bumped).
    ck_task_fn fn;
    void *ctx;
    int ntasks;

    _Alignas(64) atomic_uint generation;
    _Alignas(64) atomic_int next_task;
    _Alignas(64) atomic_int busy_workers;   // workers that have not yet finished the current job
    atomic_int sleeping_workers;
    atomic_int caller_sleeping;
    atomic_int stop;

    pthread_mutex_t mutex;
    pthread_cond_t work_ready;
    pthread_cond_t work_done;
    pthread_mutex_t run_lock;                // serialises ck_pool_run callers

    pthread_mutex_t shared_lock;             // held between ck_pool_shared_acquire and _release
    void *shared;
    size_t shared_bytes;
};

typedef struct {
    ck_pool *pool;
    int index;
} ck_worker_arg;

static void ck_pool_drain(ck_pool *pool, int thread) {
    ck_task_fn fn = pool->fn;
    void *ctx = pool->ctx;
    int ntasks = pool->ntasks;
    for (;;) {
        int task = atomic_fetch_add_explicit(&pool->next_task, 1, memory_order_relaxed);
        if (task >= ntasks) break;
        fn(ctx, task, thread);
    }
}

static void *ck_worker_main(void *raw) {
    ck_worker_arg arg = *(ck_worker_arg *)raw;
    free(raw);
    ck_pool *pool = arg.pool;
    unsigned seen = 0;
    for (;;) {
        // Wait for a new generation: spin, then sleep.
        int spins = 0;
        while (atomic_load_explicit(&pool->generation, memory_order_acquire) == seen) {
            if (++spins < CK_SPIN_ITERATIONS) { CK_PAUSE(); continue; }
            pthread_mutex_lock(&pool->mutex);
            atomic_fetch_add(&pool->sleeping_workers, 1);
            while (atomic_load(&pool->generation) == seen) pthread_cond_wait(&pool->work_ready, &pool->mutex);
            atomic_fetch_sub(&pool->sleeping_workers, 1);
            pthread_mutex_unlock(&pool->mutex);
        }
        seen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (atomic_load(&pool->stop)) break;
        ck_pool_drain(pool, arg.index);
        if (atomic_fetch_sub(&pool->busy_workers, 1) == 1 && atomic_load(&pool->caller_sleeping)) {
            pthread_mutex_lock(&pool->mutex);
            pthread_cond_signal(&pool->work_done);
            pthread_mutex_unlock(&pool->mutex);
        }
    }
    return NULL;
}

// Publishes the job in pool->fn/ctx/ntasks to every worker.
static void ck_pool_publish(ck_pool *pool) {
    atomic_store(&pool->busy_workers, pool->nthreads - 1);
    atomic_fetch_add(&pool->generation, 1);
    if (atomic_load(&pool->sleeping_workers) > 0) {
        pthread_mutex_lock(&pool->mutex);
        pthread_cond_broadcast(&pool->work_ready);
        pthread_mutex_unlock(&pool->mutex);
    }
}

ck_pool *ck_pool_create(int nthreads) {
    if (nthreads < 1) nthreads = 1;
    ck_pool *pool = aligned_alloc(64, (sizeof(ck_pool) + 63) / 64 * 64);
    if (!pool) return NULL;
    memset(pool, 0, sizeof(*pool));
    pool->nthreads = nthreads;
    pool->scratch = calloc((size_t)nthreads, sizeof(ck_scratch));
    pool->threads = calloc((size_t)nthreads, sizeof(pthread_t));
    if (!pool->scratch || !pool->threads) {
        free(pool->scratch);
        free(pool->threads);
        free(pool);
        return NULL;
    }
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_mutex_init(&pool->run_lock, NULL);
    pthread_mutex_init(&pool->shared_lock, NULL);
    pthread_cond_init(&pool->work_ready, NULL);
    pthread_cond_init(&pool->work_done, NULL);
    for (int i = 1; i < nthreads; i++) {
        ck_worker_arg *arg = malloc(sizeof(ck_worker_arg));
        if (arg) {
            arg->pool = pool;
            arg->index = i;
        }
        if (!arg || pthread_create(&pool->threads[i], NULL, ck_worker_main, arg) != 0) {
            free(arg);
            pool->nthreads = i;  // only threads 1..<i exist
            ck_pool_destroy(pool);
            return NULL;
        }
    }
    return pool;
}

void ck_pool_destroy(ck_pool *pool) {
    if (!pool) return;
    atomic_store(&pool->stop, 1);
    ck_pool_publish(pool);
    pthread_mutex_lock(&pool->mutex);
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->mutex);
    for (int i = 1; i < pool->nthreads; i++) pthread_join(pool->threads[i], NULL);
    for (int i = 0; i < pool->nthreads; i++) free(pool->scratch[i].ptr);
    pthread_mutex_destroy(&pool->mutex);
    pthread_mutex_destroy(&pool->run_lock);
    pthread_mutex_destroy(&pool->shared_lock);
    free(pool->shared);
    pthread_cond_destroy(&pool->work_ready);
    pthread_cond_destroy(&pool->work_done);
    free(pool->scratch);
    free(pool->threads);
    free(pool);
}

int ck_pool_size(const ck_pool *pool) { return pool ? pool->nthreads : 1; }

void ck_pool_run(ck_pool *pool, ck_task_fn fn, void *ctx, int ntasks) {
    if (ntasks <= 0) return;
    if (!pool || pool->nthreads == 1 || ntasks == 1) {
        if (pool) pthread_mutex_lock(&pool->run_lock);
        for (int i = 0; i < ntasks; i++) fn(ctx, i, 0);
        if (pool) pthread_mutex_unlock(&pool->run_lock);
        return;
    }
    pthread_mutex_lock(&pool->run_lock);
    pool->fn = fn;
    pool->ctx = ctx;
    pool->ntasks = ntasks;
    atomic_store(&pool->next_task, 0);
    ck_pool_publish(pool);
    ck_pool_drain(pool, 0);
    // Wait until every worker has finished (so the job's ctx may be reused): spin, then sleep.
    int spins = 0;
    while (atomic_load_explicit(&pool->busy_workers, memory_order_acquire) > 0) {
        if (++spins < CK_SPIN_ITERATIONS) { CK_PAUSE(); continue; }
        pthread_mutex_lock(&pool->mutex);
        atomic_store(&pool->caller_sleeping, 1);
        while (atomic_load(&pool->busy_workers) > 0) pthread_cond_wait(&pool->work_done, &pool->mutex);
        atomic_store(&pool->caller_sleeping, 0);
        pthread_mutex_unlock(&pool->mutex);
    }
    pthread_mutex_unlock(&pool->run_lock);
}

void *ck_pool_scratch(ck_pool *pool, int thread, size_t bytes) {
    if (!pool || thread < 0 || thread >= pool->nthreads) return NULL;
    ck_scratch *s = &pool->scratch[thread];
    if (s->bytes >= bytes && s->ptr) return s->ptr;
    size_t rounded = (bytes + 63) / 64 * 64;
    void *fresh = aligned_alloc(64, rounded ? rounded : 64);
    if (!fresh) return NULL;
    free(s->ptr);
    s->ptr = fresh;
    s->bytes = rounded;
    return fresh;
}

void *ck_pool_shared_acquire(ck_pool *pool, size_t bytes) {
    if (!pool) return NULL;
    pthread_mutex_lock(&pool->shared_lock);
    if (pool->shared_bytes < bytes || !pool->shared) {
        size_t rounded = (bytes + 63) / 64 * 64;
        void *fresh = aligned_alloc(64, rounded ? rounded : 64);
        if (!fresh) {
            pthread_mutex_unlock(&pool->shared_lock);
            return NULL;
        }
        free(pool->shared);
        pool->shared = fresh;
        pool->shared_bytes = rounded;
    }
    return pool->shared;
}

void ck_pool_shared_release(ck_pool *pool) {
    if (pool) pthread_mutex_unlock(&pool->shared_lock);
}

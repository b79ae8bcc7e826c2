// A persistent pool of worker threads for the engine's parallel loops (Parallel.forEach and
// forRange in Swift, and with them every split GEMM).
//
// Why not DispatchQueue.concurrentPerform: on this 2-core machine a two-way GEMM split through
// it ran at ~200 GFLOP/s in some runs and little over one core in others (`bench gemm`), while
// the same split on plain pthreads (tools/gemm_split.c) ran at 190-215 every time. Here the
// caller always takes part in the job and the workers are ours: they spin briefly after a job
// (the next parallel loop usually follows within microseconds) and then sleep on a futex, so
// an idle engine costs no CPU.
//
// A job is `chunks` calls fn(ctx, i), i in [0, chunks), claimed dynamically: a worker that
// wakes late finds the chunks already taken and the caller never waits on it. The claim
// counter carries the job's generation, so a worker still leaving an old job can never take a
// chunk of the next one.
//
// Workers are pinned to their own cores (when the process may use enough of them), and a
// caller that finds itself on a worker's core moves off it for the job. Why: after a few
// milliseconds of idling, Linux's wake-up placement here put the woken worker on the caller's
// core, and both chunks then shared one core (measured: a 0.1 ms two-way GEMM split after
// 5 ms gaps ran at 90-100 GFLOP/s instead of 200-220).
#define _GNU_SOURCE
#include "ckernels.h"
#include <immintrin.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

// ticket = generation (bits 40-63) | chunks (bits 20-39) | next chunk to claim (bits 0-19).
#define IDX_BITS 20
#define IDX_MASK ((1ull << IDX_BITS) - 1)
#define MAX_CHUNKS ((long)IDX_MASK)
#define WORKER_SPINS 4000  // ~20-60 µs of `pause` before a worker sleeps

static struct {
  pthread_mutex_t busy;         // one job at a time; a second caller runs its job inline
  int threads;                  // worker threads besides the caller
  _Atomic uint64_t ticket;
  _Atomic long done;            // chunks of the current job finished
  _Atomic uint32_t wake_seq;    // futex word: bumped when a job is published
  _Atomic int sleepers;
  ck_task_fn fn;                // the current job; stable while any of its chunks is unclaimed
  void *ctx;
} pool = {.busy = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local int inside_job;  // nested parallel loops run inline
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static int pool_requested = 1;
static int pinned;              // workers pinned to the cores in worker_cpus
static cpu_set_t worker_cpus, caller_cpus;

static inline uint64_t generation(uint64_t t) { return t >> 40; }
static inline long chunk_count(uint64_t t) { return (long)((t >> IDX_BITS) & IDX_MASK); }
static inline long next_index(uint64_t t) { return (long)(t & IDX_MASK); }

// Claims and runs chunks of job `gen` until none is left (or the job is no longer current).
static void run_chunks(uint64_t gen) {
  uint64_t t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
  for (;;) {
    if (generation(t) != gen || next_index(t) >= chunk_count(t)) return;
    if (!atomic_compare_exchange_weak_explicit(&pool.ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire))
      continue;  // t now holds the fresh value
    pool.fn(pool.ctx, next_index(t));
    atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
    t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
  }
}

static void *worker_main(void *arg) {
  // Workers never take SIGINT: a signal handled inside oneDNN's JIT sgemm, which points rsp into
  // the heap, corrupts the heap (CLI.start(commandThread:) has the story).
  sigset_t sigint;
  sigemptyset(&sigint);
  sigaddset(&sigint, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigint, NULL);
  if (pinned) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET((int)(long)arg, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  }
  inside_job = 1;
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen;
    int spins = 0;
    while ((gen = generation(atomic_load_explicit(&pool.ticket, memory_order_acquire))) == seen) {
      if (++spins < WORKER_SPINS) { _mm_pause(); continue; }
      // Sleep until the next job is published. The re-check after announcing ourselves pairs
      // with the caller's check of `sleepers` after publishing (both sequentially consistent).
      uint32_t seq = atomic_load(&pool.wake_seq);
      atomic_fetch_add(&pool.sleepers, 1);
      if (generation(atomic_load(&pool.ticket)) == seen)
        syscall(SYS_futex, &pool.wake_seq, FUTEX_WAIT_PRIVATE, seq, NULL, NULL, 0);
      atomic_fetch_sub(&pool.sleepers, 1);
      spins = 0;
    }
    seen = gen;
    run_chunks(gen);
  }
  return NULL;
}

static void start_workers(void) {
  int n = pool_requested - 1;
  // The first allowed core is left to callers; worker i gets the (i+1)-th.
  int cpu_of[CPU_SETSIZE];
  cpu_set_t allowed;
  CPU_ZERO(&worker_cpus);
  CPU_ZERO(&caller_cpus);
  if (n > 0 && sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) >= n + 1) {
    int k = 0;
    for (int c = 0; c < CPU_SETSIZE && k <= n; c++) if (CPU_ISSET(c, &allowed)) cpu_of[k++] = c;
    for (int c = 0; c < CPU_SETSIZE; c++) if (CPU_ISSET(c, &allowed)) CPU_SET(c, &caller_cpus);
    for (int i = 1; i <= n; i++) { CPU_SET(cpu_of[i], &worker_cpus); CPU_CLR(cpu_of[i], &caller_cpus); }
    pinned = 1;
  }
  for (int i = 0; i < n; i++) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, worker_main, pinned ? (void *)(long)cpu_of[i + 1] : NULL) == 0) pool.threads++;
    pthread_attr_destroy(&attr);
  }
}

void ck_pool_init(int workers) {
  pool_requested = workers < 1 ? 1 : workers;
  pthread_once(&pool_once, start_workers);
}

void ck_pool_run(long chunks, ck_task_fn fn, void *ctx) {
  if (chunks <= 0) return;
  pthread_once(&pool_once, start_workers);
  if (chunks == 1 || pool.threads == 0 || inside_job || chunks > MAX_CHUNKS || pthread_mutex_trylock(&pool.busy) != 0) {
    for (long i = 0; i < chunks; i++) fn(ctx, i);
    return;
  }
  inside_job = 1;
  cpu_set_t saved;
  int moved = 0;
  int here = sched_getcpu();
  if (pinned && here >= 0 && CPU_ISSET(here, &worker_cpus) && pthread_getaffinity_np(pthread_self(), sizeof saved, &saved) == 0) {
    cpu_set_t target;
    CPU_AND(&target, &saved, &caller_cpus);
    moved = CPU_COUNT(&target) > 0 && pthread_setaffinity_np(pthread_self(), sizeof target, &target) == 0;
  }
  pool.fn = fn;
  pool.ctx = ctx;
  atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
  uint64_t gen = generation(atomic_load(&pool.ticket)) + 1;
  atomic_store(&pool.ticket, (gen << 40) | ((uint64_t)chunks << IDX_BITS));  // publishes fn, ctx
  atomic_fetch_add(&pool.wake_seq, 1);
  if (atomic_load(&pool.sleepers) > 0)
    syscall(SYS_futex, &pool.wake_seq, FUTEX_WAKE_PRIVATE, pool.threads, NULL, NULL, 0);
  run_chunks(gen);
  // Chunks a worker claimed may still be running.
  for (int spins = 0; atomic_load_explicit(&pool.done, memory_order_acquire) < chunks; spins++) {
    if (spins < 100000) _mm_pause(); else sched_yield();
  }
  if (moved) pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
  inside_job = 0;
  pthread_mutex_unlock(&pool.busy);
}

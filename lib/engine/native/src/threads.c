/* A tiny fork-join pool: one worker per extra core, parked on a condition
 * variable (no spinning, so it never fights other threads for a core). The work
 * is cut into chunks claimed from a shared counter; the caller claims chunks too,
 * so when a worker is slow to wake (a busy machine) the caller simply does more
 * of the chunks itself instead of waiting. Jobs come from the JS thread only. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "kernels.h"

#define MAX_WORKERS 7
#define CHUNKS_PER_THREAD 4
/* `work` is an estimate in nanoseconds of one core. Jobs below a threshold stay on the
 * caller: waking a worker costs ~10 us on an idle machine, but on a busy one the caller
 * may wait milliseconds for a worker the scheduler preempted mid-chunk. So the threshold
 * adapts: it doubles after a job whose caller waited longer than it worked, and decays
 * back towards the floor after jobs without such waits. */
#define MIN_PARALLEL_WORK 100000.0
#define MAX_PARALLEL_WORK 6400000.0
static double threshold = MIN_PARALLEL_WORK;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int nworkers = -1;

/* The current job. `next` holds (generation << 32 | next chunk): a worker that wakes
 * late, after its job finished, sees another generation and claims nothing. */
static range_fn job_fn;
static void *job_ctx;
static int64_t job_n, job_chunks;
static uint64_t job_gen;
static _Atomic uint64_t next;
static _Atomic int64_t finished;
/* Set on workers and on the caller during a job: a kernel that calls par_for from
 * inside a chunk (attention calls softmax) runs the inner loop inline. */
static __thread int inside_job;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Claim and run chunks of job `gen` until none are left; returns when done. */
static void run_chunks(uint64_t gen, range_fn fn, void *ctx, int64_t n, int64_t chunks) {
  for (;;) {
    uint64_t v = atomic_load(&next);
    if ((v >> 32) != (gen & 0xffffffffu) || (int64_t)(v & 0xffffffffu) >= chunks) return;
    if (!atomic_compare_exchange_weak(&next, &v, v + 1)) continue;
    int64_t c = (int64_t)(v & 0xffffffffu);
    fn(ctx, n * c / chunks, n * (c + 1) / chunks);
    atomic_fetch_add(&finished, 1);
  }
}

static void *worker(void *arg) {
  uint64_t seen = 0;
  inside_job = 1;
  for (;;) {
    pthread_mutex_lock(&mu);
    while (job_gen == seen) pthread_cond_wait(&wake, &mu);
    seen = job_gen;
    range_fn fn = job_fn;
    void *ctx = job_ctx;
    int64_t n = job_n, chunks = job_chunks;
    pthread_mutex_unlock(&mu);
    run_chunks(seen, fn, ctx, n, chunks);
  }
  return NULL;
}

int par_threads(void) {
  if (nworkers < 0) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const char *env = getenv("RLHF_THREADS"); /* e.g. 1 keeps every kernel on the JS thread */
    if (env && atoi(env) > 0) cores = atoi(env);
    nworkers = cores > 1 ? (int)(cores - 1 > MAX_WORKERS ? MAX_WORKERS : cores - 1) : 0;
    for (int i = 0; i < nworkers; i++) {
      pthread_t t;
      if (pthread_create(&t, NULL, worker, NULL) != 0) { nworkers = i; break; }
      pthread_detach(t);
    }
  }
  return nworkers + 1;
}

void par_for(int64_t n, double work, range_fn fn, void *ctx) {
  par_for_chunks(n, work, fn, ctx, CHUNKS_PER_THREAD);
}

void par_for_chunks(int64_t n, double work, range_fn fn, void *ctx, int perThread) {
  int threads = par_threads();
  if (threads <= 1 || n <= 1 || work < threshold || inside_job) { if (n > 0) fn(ctx, 0, n); return; }
  int64_t chunks = (int64_t)threads * perThread;
  if (chunks > n) chunks = n;
  pthread_mutex_lock(&mu);
  job_fn = fn; job_ctx = ctx; job_n = n; job_chunks = chunks;
  job_gen++;
  atomic_store(&finished, 0);
  atomic_store(&next, (job_gen & 0xffffffffu) << 32);
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&mu);
  double t0 = now_ns();
  inside_job = 1;
  run_chunks(job_gen, fn, ctx, n, chunks);
  inside_job = 0;
  double t1 = now_ns();
  /* Only chunks a worker is running right now remain: wait for them. */
  while (atomic_load(&finished) < chunks) sched_yield();
  double waited = now_ns() - t1;
  if (waited > t1 - t0) threshold = threshold * 2 > MAX_PARALLEL_WORK ? MAX_PARALLEL_WORK : threshold * 2;
  else threshold = threshold * 0.95 < MIN_PARALLEL_WORK ? MIN_PARALLEL_WORK : threshold * 0.95;
}

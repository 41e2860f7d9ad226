/* A tiny fork-join pool: one worker per extra core, parked on a condition
 * variable (no spinning, so it never fights OpenBLAS's own threads). The
 * caller runs chunk 0 itself. Jobs come from the JS thread only, one at a time. */
#include <pthread.h>
#include <unistd.h>
#include "kernels.h"

#define MAX_WORKERS 7
#define MIN_PARALLEL_WORK 60000.0 /* below ~20 us of work, waking a worker costs more */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
static int nworkers = -1, pending = 0;
static unsigned long generation = 0;
static range_fn job_fn;
static void *job_ctx;
static int64_t job_n;
static int job_parts;

static void run_part(int part) {
  int64_t begin = job_n * part / job_parts, end = job_n * (part + 1) / job_parts;
  if (begin < end) job_fn(job_ctx, begin, end);
}

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  unsigned long seen = 0;
  for (;;) {
    pthread_mutex_lock(&mu);
    while (generation == seen) pthread_cond_wait(&wake, &mu);
    seen = generation;
    int part = id + 1, active = part < job_parts;
    pthread_mutex_unlock(&mu);
    if (active) run_part(part);
    pthread_mutex_lock(&mu);
    if (--pending == 0) pthread_cond_signal(&done);
    pthread_mutex_unlock(&mu);
  }
  return NULL;
}

int par_threads(void) {
  if (nworkers < 0) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    nworkers = cores > 1 ? (int)(cores - 1 > MAX_WORKERS ? MAX_WORKERS : cores - 1) : 0;
    for (int i = 0; i < nworkers; i++) {
      pthread_t t;
      if (pthread_create(&t, NULL, worker, (void *)(intptr_t)i) != 0) { nworkers = i; break; }
      pthread_detach(t);
    }
  }
  return nworkers + 1;
}

void par_for(int64_t n, double work, range_fn fn, void *ctx) {
  int parts = par_threads();
  if (parts > n) parts = (int)n;
  if (parts <= 1 || work < MIN_PARALLEL_WORK) { if (n > 0) fn(ctx, 0, n); return; }
  pthread_mutex_lock(&mu);
  job_fn = fn; job_ctx = ctx; job_n = n; job_parts = parts;
  pending = nworkers;
  generation++;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&mu);
  run_part(0);
  pthread_mutex_lock(&mu);
  while (pending > 0) pthread_cond_wait(&done, &mu);
  pthread_mutex_unlock(&mu);
}

/* Batched matrix multiply on OpenBLAS, threaded by us: OpenBLAS runs single-
 * threaded (its idle threads spin for milliseconds after each call and starve
 * the next kernel on a 2-core machine) and par_for splits the work: the batch
 * when there are several products (attention: B*H products of 64x64x32), else
 * the rows (or columns) of the one product. */
#include <cblas.h>
#include "kernels.h"

/* Tiles of one product: on 2 cores, 4 row tiles (or 2 column tiles) per thread. */
#define GEMM_ROW_TILES 8
#define GEMM_COL_TILES 4

typedef struct {
  const float *a, *b;
  float *out;
  int64_t m, n, k;
  int transA, transB, rank;
  const int64_t *aBatch, *bBatch, *outBatch;
  int splitRows; /* single product: split rows (1) or columns (0) */
  int64_t tiles; /* single product: number of tiles (fixed by its shape, not by the threads) */
  float beta;    /* 0: out = product; 1: out += product */
} Bmm;

/* Offset (in matrices) of output batch index `i` inside an operand whose batch
 * dims are `dims` (1 = broadcast). */
static int64_t operand_index(int64_t i, int rank, const int64_t *dims, const int64_t *outDims) {
  int64_t idx = 0, stride = 1;
  for (int d = rank - 1; d >= 0; d--) {
    int64_t coord = i % outDims[d];
    i /= outDims[d];
    if (dims[d] != 1) idx += coord * stride;
    stride *= dims[d];
  }
  return idx;
}

/* out[r0:r1, c0:c1] of one product; a and b point at the product's matrices. */
static void gemm_block(const Bmm *p, const float *a, const float *b, float *out, int64_t r0,
                       int64_t r1, int64_t c0, int64_t c1) {
  int64_t m = p->m, n = p->n, k = p->k;
  const float *ab = p->transA ? a + r0 : a + r0 * k;     /* row r0 of op(a) */
  const float *bb = p->transB ? b + c0 * k : b + c0;     /* column c0 of op(b) */
  cblas_sgemm(CblasRowMajor, p->transA ? CblasTrans : CblasNoTrans,
              p->transB ? CblasTrans : CblasNoTrans, (int)(r1 - r0), (int)(c1 - c0), (int)k, 1.0f,
              ab, p->transA ? (int)m : (int)k, bb, p->transB ? (int)k : (int)n, p->beta,
              out + r0 * n + c0, (int)n);
}

static void bmm_batches(void *ctx, int64_t begin, int64_t end) {
  const Bmm *p = ctx;
  for (int64_t i = begin; i < end; i++) {
    const float *a = p->a + operand_index(i, p->rank, p->aBatch, p->outBatch) * p->m * p->k;
    const float *b = p->b + operand_index(i, p->rank, p->bBatch, p->outBatch) * p->k * p->n;
    gemm_block(p, a, b, p->out + i * p->m * p->n, 0, p->m, 0, p->n);
  }
}

/* Tiles `begin`..`end` of one product, one sgemm each. A tile is a run of 16-row (or
 * 16-column) blocks, a multiple of the SIMD width. The tiles are the same whether par_for runs
 * them on one thread or several: OpenBLAS rounds an element differently for different block
 * sizes, and par_for's choice depends on timing, so one call per split would make results
 * (and the tokens sampled from them) change from run to run. */
static void bmm_tiles(void *ctx, int64_t begin, int64_t end) {
  const Bmm *p = ctx;
  int64_t size = p->splitRows ? p->m : p->n;
  int64_t blocks = (size + 15) / 16;
  for (int64_t t = begin; t < end; t++) {
    int64_t lo = blocks * t / p->tiles * 16, hi = blocks * (t + 1) / p->tiles * 16;
    if (hi > size) hi = size;
    if (p->splitRows) gemm_block(p, p->a, p->b, p->out, lo, hi, 0, p->n);
    else gemm_block(p, p->a, p->b, p->out, 0, p->m, lo, hi);
  }
}

static void single_product(Bmm *p, double flops);

void gemm_single_threaded(void) {
  static int done = 0;
  if (!done) { openblas_set_num_threads(1); done = 1; }
}

void bmm(const float *a, const float *b, float *out, int64_t m, int64_t n, int64_t k,
         int transA, int transB, int rank, const int64_t *aBatch, const int64_t *bBatch,
         const int64_t *outBatch) {
  gemm_single_threaded();
  int64_t batch = 1, aCount = 1;
  for (int d = 0; d < rank; d++) { batch *= outBatch[d]; aCount *= aBatch[d]; }
  if (m == 0 || n == 0 || batch == 0) return;
  if (k == 0) { for (int64_t i = 0; i < batch * m * n; i++) out[i] = 0.0f; return; }
  int bBroadcast = 1;
  for (int d = 0; d < rank; d++) if (bBatch[d] != 1) bBroadcast = 0;
  /* [batch, m, k] @ [k, n] with a untransposed is one [batch*m, k] @ [k, n] product. */
  if (bBroadcast && !transA && aCount == batch) { m *= batch; batch = 1; }
  Bmm p = {a, b, out, m, n, k, transA, transB, rank, aBatch, bBatch, outBatch, m >= n, 1, 0.0f};
  double flops = 2.0 * m * n * k * batch / 50.0; /* ns at ~50 GFLOP/s (small GEMMs, one core) */
  if (batch > 1) { par_for(batch, flops, bmm_batches, &p); return; }
  single_product(&p, flops);
}

/* Row tiles only re-pack the small B operand, so cut finer (a stalled worker then holds
 * less of the work); column tiles re-pack A each, so cut coarser. */
static void single_product(Bmm *p, double flops) {
  int64_t blocks = ((p->splitRows ? p->m : p->n) + 15) / 16;
  int64_t tiles = p->splitRows ? GEMM_ROW_TILES : GEMM_COL_TILES;
  p->tiles = blocks < tiles ? blocks : tiles;
  par_for_chunks(p->tiles, flops, bmm_tiles, p, (int)p->tiles);
}

void bmm_acc(const float *a, const float *b, float *out, int64_t m, int64_t n, int64_t k,
             int transA, int transB) {
  gemm_single_threaded();
  if (m == 0 || n == 0 || k == 0) return;
  Bmm p = {a, b, out, m, n, k, transA, transB, 0, NULL, NULL, NULL, m >= n, 1, 1.0f};
  single_product(&p, 2.0 * m * n * k / 50.0);
}

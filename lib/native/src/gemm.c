/* Batched matrix multiply on OpenBLAS. Big products use OpenBLAS's threads;
 * many small ones (attention: B*H products of 64x64x32) are spread over the
 * cores one product per thread, with OpenBLAS pinned to one thread meanwhile. */
#include <cblas.h>
#include "kernels.h"

#define SMALL_GEMM_FLOPS (2.0 * 96 * 96 * 96) /* below this OpenBLAS runs single-threaded anyway */

typedef struct {
  const float *a, *b;
  float *out;
  int64_t m, n, k;
  int transA, transB, rank;
  const int64_t *aBatch, *bBatch, *outBatch;
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

static void bmm_range(void *ctx, int64_t begin, int64_t end) {
  const Bmm *p = ctx;
  int64_t m = p->m, n = p->n, k = p->k;
  for (int64_t i = begin; i < end; i++) {
    const float *a = p->a + operand_index(i, p->rank, p->aBatch, p->outBatch) * m * k;
    const float *b = p->b + operand_index(i, p->rank, p->bBatch, p->outBatch) * k * n;
    cblas_sgemm(CblasRowMajor, p->transA ? CblasTrans : CblasNoTrans,
                p->transB ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
                p->transA ? (int)m : (int)k, b, p->transB ? (int)k : (int)n, 0.0f, p->out + i * m * n,
                (int)n);
  }
}

void bmm(const float *a, const float *b, float *out, int64_t m, int64_t n, int64_t k,
         int transA, int transB, int rank, const int64_t *aBatch, const int64_t *bBatch,
         const int64_t *outBatch) {
  int64_t batch = 1, aCount = 1, bCount = 1;
  for (int d = 0; d < rank; d++) { batch *= outBatch[d]; aCount *= aBatch[d]; bCount *= bBatch[d]; }
  if (m == 0 || n == 0) return;
  if (k == 0) { for (int64_t i = 0; i < batch * m * n; i++) out[i] = 0.0f; return; }
  /* [batch, m, k] @ [k, n] with a untransposed is one [batch*m, k] @ [k, n] product. */
  if (bCount == 1 && !transA && aCount == batch) { m *= batch; batch = 1; }
  Bmm p = {a, b, out, m, n, k, transA, transB, rank, aBatch, bBatch, outBatch};
  double flops = 2.0 * m * n * k;
  if (batch == 1 || flops >= SMALL_GEMM_FLOPS) { bmm_range(&p, 0, batch); return; }
  int saved = openblas_get_num_threads();
  openblas_set_num_threads(1);
  par_for(batch, flops * batch, bmm_range, &p);
  openblas_set_num_threads(saved);
}

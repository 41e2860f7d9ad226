/* The output layer and its log-softmax fused, over blocks of rows that stay in cache:
 *   logp[r] = s z[r, label[r]] - logsumexp_v(s z[r, v]),   z = h W^T (W [V,C], tied
 * embeddings) or z = h W (W [C,V]), s = 1 / temperature,
 * without materialising z [N, V] (N = B*T rows, V = 4,067 in the course: 16 MB at
 * N = 1,024). Each block of ROWS rows is one sgemm into a per-thread scratch, then one pass
 * of exp over it while it is in cache. The backward recomputes a block's z (the forward kept
 * only lse), writes its dz = s g (onehot - softmax) into dZ [N, V] and multiplies dh for the
 * block; dW is one product dZ^T h (bmm's fixed tiles). Blocks have a fixed size and every
 * row is computed in one place, so results do not depend on the threads. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include "kernels.h"

#define ROWS 16

typedef struct {
  const float *h, *w, *lse, *dlogp;
  const int32_t *labels;
  float *logp, *lseOut, *dz, *dh;
  int64_t n, c, v;
  int wIsVC; /* W stored [V, C] (z = h W^T) rather than [C, V] */
  float s;
} HeadLogp;

/* z[rows, v] = s * h[r0 : r0 + rows] op(W) */
static void block_logits(const HeadLogp *p, int64_t r0, int64_t rows, float *z) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, p->wIsVC ? CblasTrans : CblasNoTrans, (int)rows,
              (int)p->v, (int)p->c, p->s, p->h + r0 * p->c, (int)p->c, p->w,
              p->wIsVC ? (int)p->c : (int)p->v, 0.0f, z, (int)p->v);
}

/* max of a row, then e[j] = exp(z[j] - max) and their sum: returns logsumexp(z). */
static float row_lse(const float *z, float *e, int64_t v) {
  float mx = -INFINITY, sum = 0.0f;
  for (int64_t j = 0; j < v; j++) mx = z[j] > mx ? z[j] : mx;
  for (int64_t j = 0; j < v; j++) e[j] = z[j] - mx;
  exp_inplace(e, v);
  for (int64_t j = 0; j < v; j++) sum += e[j];
  return mx + logf(sum);
}

static void fwd_range(void *ctx, int64_t begin, int64_t end) {
  const HeadLogp *p = ctx;
  float *z = malloc(sizeof(float) * (ROWS + 1) * p->v), *e = z + ROWS * p->v;
  if (!z) return;
  for (int64_t blk = begin; blk < end; blk++) {
    int64_t r0 = blk * ROWS, rows = p->n - r0 < ROWS ? p->n - r0 : ROWS;
    block_logits(p, r0, rows, z);
    for (int64_t i = 0; i < rows; i++) {
      const float *zr = z + i * p->v;
      float lse = row_lse(zr, e, p->v);
      p->lseOut[r0 + i] = lse;
      p->logp[r0 + i] = zr[p->labels[r0 + i]] - lse;
    }
  }
  free(z);
}

static void bwd_range(void *ctx, int64_t begin, int64_t end) {
  const HeadLogp *p = ctx;
  int64_t v = p->v;
  for (int64_t blk = begin; blk < end; blk++) {
    int64_t r0 = blk * ROWS, rows = p->n - r0 < ROWS ? p->n - r0 : ROWS;
    float *dz = p->dz + r0 * v;
    block_logits(p, r0, rows, dz);
    for (int64_t i = 0; i < rows; i++) {
      float *d = dz + i * v, lse = p->lse[r0 + i], g = p->s * p->dlogp[r0 + i];
      for (int64_t j = 0; j < v; j++) d[j] -= lse;
      exp_inplace(d, v);
      for (int64_t j = 0; j < v; j++) d[j] *= -g;
      d[p->labels[r0 + i]] += g;
    }
    /* dh[block] = dz[block] op(W)^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, p->wIsVC ? CblasNoTrans : CblasTrans, (int)rows,
                (int)p->c, (int)v, 1.0f, dz, (int)v, p->w, p->wIsVC ? (int)p->c : (int)v, 0.0f,
                p->dh + r0 * p->c, (int)p->c);
  }
}

int64_t head_logp_fwd(const float *h, const float *w, const int32_t *labels, float *logp,
                      float *lse, int64_t n, int64_t c, int64_t v, int wIsVC, float s) {
  for (int64_t r = 0; r < n; r++)
    if (labels[r] < 0 || labels[r] >= v) return r + 1;
  HeadLogp p = {.h = h, .w = w, .labels = labels, .logp = logp, .lseOut = lse, .n = n, .c = c,
                .v = v, .wIsVC = wIsVC, .s = s};
  gemm_single_threaded();
  int64_t blocks = (n + ROWS - 1) / ROWS;
  par_for(blocks, (2.0 * n * v * c / 50.0) + 4.0 * n * v, fwd_range, &p);
  return 0;
}

void head_logp_bwd(const float *h, const float *w, const int32_t *labels, const float *lse,
                   const float *dlogp, float *dz, float *dh, float *dw, int64_t n, int64_t c,
                   int64_t v, int wIsVC, float s) {
  HeadLogp p = {.h = h, .w = w, .labels = labels, .lse = lse, .dlogp = dlogp, .dz = dz, .dh = dh,
                .n = n, .c = c, .v = v, .wIsVC = wIsVC, .s = s};
  gemm_single_threaded();
  int64_t blocks = (n + ROWS - 1) / ROWS;
  par_for(blocks, (4.0 * n * v * c / 50.0) + 4.0 * n * v, bwd_range, &p);
  /* dW = dZ^T h [V, C], or h^T dZ [C, V] */
  if (wIsVC) bmm(dz, h, dw, v, c, n, 1, 0, 0, NULL, NULL, NULL);
  else bmm(h, dz, dw, c, v, n, 1, 0, 0, NULL, NULL, NULL);
}

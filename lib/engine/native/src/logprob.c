/* The output layer and its log-softmax fused, in tiles that stay in cache:
 *   logp[r] = s z[r, label[r]] - logsumexp_v(s z[r, v]),   z = h W^T (W [V,C], tied
 * embeddings) or z = h W (W [C,V]), s = 1 / temperature,
 * without materialising z [N, V] (N = B*T rows, V = 4,067 in the course: 16 MB at
 * N = 1,024). A block of ROWS rows walks the vocabulary in tiles of VTILE ids: one sgemm per
 * tile (128 x 512 floats, 256 KB: in L2), then exp over the tile while it is in cache, with a
 * running max and sum per row (online logsumexp). Tiles this size keep OpenBLAS's packing of
 * the operands small next to the product (with blocks of 16 rows and the whole vocabulary,
 * re-packing W for every block cost more than the product). The backward recomputes z tile by
 * tile into dZ [N, V] (the forward kept only lse), turns it into dz = s g (onehot - softmax),
 * then dh per block and dW = dZ^T h as one product (bmm's fixed tiles). Blocks and tiles have
 * fixed sizes and every row is computed in one place: results do not depend on the threads. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include "kernels.h"

#define ROWS 128
#define VTILE 512

typedef struct {
  const float *h, *w, *lse, *dlogp;
  const int32_t *labels;
  float *logp, *lseOut, *dz, *dh;
  int64_t n, c, v;
  int wIsVC; /* W stored [V, C] (z = h W^T) rather than [C, V] */
  float s;
} HeadLogp;

/* z[rows, v0 : v0 + cols] (row stride ldz) = s * h[r0 : r0 + rows] op(W)[:, v0 : v0 + cols] */
static void tile_logits(const HeadLogp *p, int64_t r0, int64_t rows, int64_t v0, int64_t cols,
                        float *z, int64_t ldz) {
  const float *w = p->wIsVC ? p->w + v0 * p->c : p->w + v0;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, p->wIsVC ? CblasTrans : CblasNoTrans, (int)rows,
              (int)cols, (int)p->c, p->s, p->h + r0 * p->c, (int)p->c, w,
              p->wIsVC ? (int)p->c : (int)p->v, 0.0f, z, (int)ldz);
}

static void fwd_range(void *ctx, int64_t begin, int64_t end) {
  const HeadLogp *p = ctx;
  float *z = malloc(sizeof(float) * (ROWS * VTILE + VTILE + 3 * ROWS));
  if (!z) return;
  float *e = z + ROWS * VTILE, *mx = e + VTILE, *sum = mx + ROWS, *picked = sum + ROWS;
  for (int64_t blk = begin; blk < end; blk++) {
    int64_t r0 = blk * ROWS, rows = p->n - r0 < ROWS ? p->n - r0 : ROWS;
    for (int64_t i = 0; i < rows; i++) { mx[i] = -INFINITY; sum[i] = 0.0f; }
    for (int64_t v0 = 0; v0 < p->v; v0 += VTILE) {
      int64_t cols = p->v - v0 < VTILE ? p->v - v0 : VTILE;
      tile_logits(p, r0, rows, v0, cols, z, cols);
      for (int64_t i = 0; i < rows; i++) {
        const float *zr = z + i * cols;
        float m = mx[i], acc = 0.0f;
        for (int64_t j = 0; j < cols; j++) m = zr[j] > m ? zr[j] : m;
        if (m > mx[i]) { sum[i] *= expf(mx[i] - m); mx[i] = m; }
        for (int64_t j = 0; j < cols; j++) e[j] = zr[j] - m;
        exp_inplace(e, cols);
        for (int64_t j = 0; j < cols; j++) acc += e[j];
        sum[i] += acc;
        int64_t label = p->labels[r0 + i];
        if (label >= v0 && label < v0 + cols) picked[i] = zr[label - v0];
      }
    }
    for (int64_t i = 0; i < rows; i++) {
      float lse = mx[i] + logf(sum[i]);
      p->lseOut[r0 + i] = lse;
      p->logp[r0 + i] = picked[i] - lse;
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
    for (int64_t v0 = 0; v0 < v; v0 += VTILE) {
      int64_t cols = v - v0 < VTILE ? v - v0 : VTILE;
      tile_logits(p, r0, rows, v0, cols, dz + v0, v);
      for (int64_t i = 0; i < rows; i++) {
        float *d = dz + i * v + v0, lse = p->lse[r0 + i], g = p->s * p->dlogp[r0 + i];
        for (int64_t j = 0; j < cols; j++) d[j] -= lse;
        exp_inplace(d, cols);
        for (int64_t j = 0; j < cols; j++) d[j] *= -g;
        int64_t label = p->labels[r0 + i];
        if (label >= v0 && label < v0 + cols) d[label - v0] += g;
      }
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

/* One transformer block (GPT-2's pre-norm block) forward and backward in one call each:
 *   a = LN1(x);  qkv = a Wqkv + bqkv;  att = attention(q, k, v; bias) (heads read straight out
 *   of qkv, merged straight into att);  x1 = x + att Wo + bo;
 *   m = LN2(x1);  hpre = m W1 + b1;  h = gelu(hpre);  y = x1 + h W2 + b2.
 * Rows are the B*T tokens. The forward keeps every activation the backward needs (a, LN
 * statistics, qkv, the attention probabilities P, att, x1, m, hpre, h). Through tfjs the same
 * block is ~25 kernels forward and ~45 backward, each a pass over memory and a dispatch through
 * the tape; here the bias and the residual are the starting value of the product (beta = 1),
 * and the bias gradients are column sums in fixed blocks of rows. Every element is computed in
 * one place whatever the threads (see gemm.c), so results do not depend on timing. */
#include <math.h>
#include <string.h>
#include "kernels.h"

/* Column sums in blocks of COLSUM_ROWS rows: partial sums per block, then the blocks added in
 * order. A fixed cut (not one per thread) keeps the result independent of the threads. */
#define COLSUM_ROWS 64

typedef struct { const float *x; float *partial; int64_t rows, cols; } ColSum;

static void colsum_blocks(void *ctx, int64_t begin, int64_t end) {
  const ColSum *p = ctx;
  for (int64_t blk = begin; blk < end; blk++) {
    float *acc = p->partial + blk * p->cols;
    int64_t r0 = blk * COLSUM_ROWS, r1 = r0 + COLSUM_ROWS < p->rows ? r0 + COLSUM_ROWS : p->rows;
    memcpy(acc, p->x + r0 * p->cols, sizeof(float) * p->cols);
    for (int64_t r = r0 + 1; r < r1; r++) {
      const float *row = p->x + r * p->cols;
      for (int64_t j = 0; j < p->cols; j++) acc[j] += row[j];
    }
  }
}

/* out[cols] = sum over rows of x [rows, cols]; scratch holds ceil(rows / 64) * cols floats. */
void colsum(const float *x, float *out, float *scratch, int64_t rows, int64_t cols) {
  int64_t blocks = (rows + COLSUM_ROWS - 1) / COLSUM_ROWS;
  if (blocks == 0) { memset(out, 0, sizeof(float) * cols); return; }
  ColSum p = {x, scratch, rows, cols};
  par_for(blocks, (double)rows * cols, colsum_blocks, &p);
  memcpy(out, scratch, sizeof(float) * cols);
  for (int64_t b = 1; b < blocks; b++)
    for (int64_t j = 0; j < cols; j++) out[j] += scratch[b * cols + j];
}

/* out [rows, n] = bias (broadcast over rows) + (res ? res : 0); the start of a beta = 1 product. */
typedef struct { const float *bias, *res; float *out; int64_t n; } Prefill;

static void prefill_rows(void *ctx, int64_t begin, int64_t end) {
  const Prefill *p = ctx;
  for (int64_t r = begin; r < end; r++) {
    float *o = p->out + r * p->n;
    if (p->res) {
      const float *s = p->res + r * p->n;
      for (int64_t j = 0; j < p->n; j++) o[j] = s[j] + p->bias[j];
    } else {
      memcpy(o, p->bias, sizeof(float) * p->n);
    }
  }
}

/* out [m, n] = (res) + bias + a [m, k] @ w [k, n] */
static void linear(const float *a, const float *w, const float *bias, const float *res, float *out,
                   int64_t m, int64_t n, int64_t k) {
  Prefill p = {bias, res, out, n};
  par_for(m, 2.0 * m * n, prefill_rows, &p);
  bmm_acc(a, w, out, m, n, k, 0, 0);
}

typedef struct { float *x; const float *y; int64_t n; } AddInto;

static void add_into_range(void *ctx, int64_t begin, int64_t end) {
  const AddInto *p = ctx;
  for (int64_t i = begin; i < end; i++) p->x[i] += p->y[i];
}

static void add_into(float *x, const float *y, int64_t n) {
  AddInto p = {x, y, n};
  par_for(n, 1.0 * n, add_into_range, &p);
}

/* Heads of the projection qkv [B, T, 3C] (q at column 0, k at C, v at 2C; head h at h*D) and of
 * a [B, T, C] tensor, as attention operands. */
static Operand qkv_part(const float *qkv, int part, int64_t T, int64_t C, int64_t D) {
  Operand o = {qkv + part * C, T * 3 * C, D, 3 * C};
  return o;
}
static Operand merged(const float *y, int64_t T, int64_t C, int64_t D) {
  Operand o = {y, T * C, D, C};
  return o;
}

int64_t block_scratch(int64_t N, int64_t C) {
  return N * 14 * C + (N + COLSUM_ROWS - 1) / COLSUM_ROWS * 4 * C;
}

void block_fwd(const BlockTensors *t, int64_t B, int64_t T, int64_t C, int64_t H,
               int64_t biasBatch, float eps) {
  int64_t N = B * T, D = C / H;
  float scale = 1.0f / sqrtf((float)D);
  layernorm_fwd(t->x, t->g1, t->b1, t->a, t->mean1, t->rstd1, N, C, eps);
  linear(t->a, t->wqkv, t->bqkv, NULL, t->qkv, N, 3 * C, C);
  attention_fwd(qkv_part(t->qkv, 0, T, C, D), qkv_part(t->qkv, 1, T, C, D),
                qkv_part(t->qkv, 2, T, C, D), t->bias, merged(t->att, T, C, D), t->p, B, H, T, T, D,
                biasBatch, scale);
  linear(t->att, t->wo, t->bo, t->x, t->x1, N, C, C);
  layernorm_fwd(t->x1, t->g2, t->b2, t->m, t->mean2, t->rstd2, N, C, eps);
  linear(t->m, t->w1, t->bm1, NULL, t->hpre, N, 4 * C, C);
  gelu_fwd(t->hpre, t->h, N * 4 * C);
  linear(t->h, t->w2, t->bm2, t->x1, t->y, N, C, 4 * C);
}

void block_bwd(const BlockTensors *t, const BlockGrads *g, int64_t B, int64_t T, int64_t C,
               int64_t H) {
  int64_t N = B * T, D = C / H;
  float scale = 1.0f / sqrtf((float)D);
  /* scratch (block_scratch floats): dh and dhpre [N, 4C], dm [N, C] (later da), dx1 [N, C],
   * datt [N, C], dqkv [N, 3C], colsum partials [ceil(N / 64), 4C] */
  float *dh = g->scratch, *dhpre = dh + N * 4 * C, *dm = dhpre + N * 4 * C, *dx1 = dm + N * C,
        *datt = dx1 + N * C, *dqkv = datt + N * C, *partial = dqkv + N * 3 * C;
  /* MLP: y = x1 + h W2 + b2 */
  colsum(g->dy, g->dbm2, partial, N, C);
  bmm(t->h, g->dy, g->dw2, 4 * C, C, N, 1, 0, 0, NULL, NULL, NULL);
  bmm(g->dy, t->w2, dh, N, 4 * C, C, 0, 1, 0, NULL, NULL, NULL);
  gelu_bwd(t->hpre, dh, dhpre, N * 4 * C);
  colsum(dhpre, g->dbm1, partial, N, 4 * C);
  bmm(t->m, dhpre, g->dw1, C, 4 * C, N, 1, 0, 0, NULL, NULL, NULL);
  bmm(dhpre, t->w1, dm, N, C, 4 * C, 0, 1, 0, NULL, NULL, NULL);
  layernorm_bwd(dm, t->x1, t->g2, t->mean2, t->rstd2, dx1, g->dg2, g->db2, N, C);
  add_into(dx1, g->dy, N * C);
  /* attention: x1 = x + att Wo + bo */
  colsum(dx1, g->dbo, partial, N, C);
  bmm(t->att, dx1, g->dwo, C, C, N, 1, 0, 0, NULL, NULL, NULL);
  bmm(dx1, t->wo, datt, N, C, C, 0, 1, 0, NULL, NULL, NULL);
  attention_bwd(qkv_part(t->qkv, 0, T, C, D), qkv_part(t->qkv, 1, T, C, D),
                qkv_part(t->qkv, 2, T, C, D), t->p, merged(datt, T, C, D),
                qkv_part(dqkv, 0, T, C, D), qkv_part(dqkv, 1, T, C, D), qkv_part(dqkv, 2, T, C, D),
                B, H, T, T, D, scale);
  colsum(dqkv, g->dbqkv, partial, N, 3 * C);
  bmm(t->a, dqkv, g->dwqkv, C, 3 * C, N, 1, 0, 0, NULL, NULL, NULL);
  bmm(dqkv, t->wqkv, dm, N, C, 3 * C, 0, 1, 0, NULL, NULL, NULL);
  layernorm_bwd(dm, t->x, t->g1, t->mean1, t->rstd1, g->dx, g->dg1, g->db1, N, C);
  add_into(g->dx, dx1, N * C);
}

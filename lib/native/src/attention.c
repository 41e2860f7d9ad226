/* Fused scaled-dot-product attention for q [B,H,T,D], k/v [B,H,Tk,D] and an
 * additive bias [Bb,1,T,Tk] (Bb = 1 or B: causal and padding masks):
 *   P = softmax(scale Q K^T + bias),  Y = P V.
 * The backward recomputes nothing: it takes the saved P. One (b,h) pair per
 * task, spread over the cores; OpenBLAS runs single-threaded inside. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include "kernels.h"

typedef struct {
  const float *q, *k, *v, *bias, *p, *dy;
  float *y, *pOut, *dq, *dk, *dv;
  int64_t H, T, Tk, D, biasBatch;
  float scale;
} Attn;

static void attn_fwd_range(void *ctx, int64_t begin, int64_t end) {
  const Attn *a = ctx;
  int64_t T = a->T, Tk = a->Tk, D = a->D;
  for (int64_t bh = begin; bh < end; bh++) {
    const float *q = a->q + bh * T * D, *k = a->k + bh * Tk * D, *v = a->v + bh * Tk * D;
    const float *bias = a->bias + (a->biasBatch > 1 ? bh / a->H : 0) * T * Tk;
    float *p = a->pOut + bh * T * Tk;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)Tk, (int)D, a->scale, q, (int)D,
                k, (int)D, 0.0f, p, (int)Tk);
    for (int64_t i = 0; i < T * Tk; i++) p[i] += bias[i];
    softmax_rows(p, p, T, Tk);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)D, (int)Tk, 1.0f, p, (int)Tk,
                v, (int)D, 0.0f, a->y + bh * T * D, (int)D);
  }
}

static void attn_bwd_range(void *ctx, int64_t begin, int64_t end) {
  const Attn *a = ctx;
  int64_t T = a->T, Tk = a->Tk, D = a->D;
  float *ds = malloc(sizeof(float) * T * Tk);
  if (!ds) return;
  for (int64_t bh = begin; bh < end; bh++) {
    const float *q = a->q + bh * T * D, *k = a->k + bh * Tk * D, *v = a->v + bh * Tk * D;
    const float *p = a->p + bh * T * Tk, *dy = a->dy + bh * T * D;
    /* dV = P^T dY; dP = dY V^T */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Tk, (int)D, (int)T, 1.0f, p, (int)Tk,
                dy, (int)D, 0.0f, a->dv + bh * Tk * D, (int)D);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)Tk, (int)D, 1.0f, dy, (int)D,
                v, (int)D, 0.0f, ds, (int)Tk);
    /* dS = P * (dP - rowsum(dP * P)) */
    for (int64_t t = 0; t < T; t++) {
      float *row = ds + t * Tk;
      const float *prow = p + t * Tk;
      float dot = 0.0f;
      for (int64_t j = 0; j < Tk; j++) dot += row[j] * prow[j];
      for (int64_t j = 0; j < Tk; j++) row[j] = prow[j] * (row[j] - dot);
    }
    /* dQ = scale dS K; dK = scale dS^T Q */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)D, (int)Tk, a->scale, ds,
                (int)Tk, k, (int)D, 0.0f, a->dq + bh * T * D, (int)D);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Tk, (int)D, (int)T, a->scale, ds,
                (int)Tk, q, (int)D, 0.0f, a->dk + bh * Tk * D, (int)D);
  }
  free(ds);
}

void attention_fwd(const float *q, const float *k, const float *v, const float *bias, float *y,
                   float *p, int64_t BH, int64_t H, int64_t T, int64_t Tk, int64_t D,
                   int64_t biasBatch, float scale) {
  Attn a = {.q = q, .k = k, .v = v, .bias = bias, .y = y, .pOut = p, .H = H, .T = T, .Tk = Tk,
            .D = D, .biasBatch = biasBatch, .scale = scale};
  gemm_single_threaded();
  par_for(BH, 4.0 * BH * T * Tk * D, attn_fwd_range, &a);
}

void attention_bwd(const float *q, const float *k, const float *v, const float *p, const float *dy,
                   float *dq, float *dk, float *dv, int64_t BH, int64_t T, int64_t Tk, int64_t D,
                   float scale) {
  Attn a = {.q = q, .k = k, .v = v, .p = p, .dy = dy, .dq = dq, .dk = dk, .dv = dv, .T = T,
            .Tk = Tk, .D = D, .scale = scale};
  gemm_single_threaded();
  par_for(BH, 8.0 * BH * T * Tk * D, attn_bwd_range, &a);
}

/* Fused scaled-dot-product attention, per (batch b, head h):
 *   P = softmax(scale Q K^T + bias),  Y = P V,
 * with Q [T,D], K/V [Tk,D] and an additive bias [Bb,1,T,Tk] (Bb = 1 or B: causal and
 * padding masks). Operands are addressed through strides, so the same code reads
 * [B,H,T,D] tensors or the heads straight out of a projection [B,T,3C] (no split and
 * no transposes). The backward takes the saved P. One (b,h) pair per task, spread
 * over the cores; OpenBLAS runs single-threaded inside. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include "kernels.h"

typedef struct {
  Operand q, k, v, y; /* y: the output forward, dy backward */
  const float *bias, *p;
  float *pOut;
  Operand dq, dk, dv;
  int64_t H, T, Tk, D, biasBatch;
  float scale;
} Attn;

static inline const float *at(const Operand *o, int64_t b, int64_t h) {
  return o->data + b * o->batch + h * o->head;
}
static inline float *at_mut(const Operand *o, int64_t b, int64_t h) {
  return (float *)o->data + b * o->batch + h * o->head;
}

static void attn_fwd_range(void *ctx, int64_t begin, int64_t end) {
  const Attn *a = ctx;
  int64_t T = a->T, Tk = a->Tk, D = a->D;
  for (int64_t bh = begin; bh < end; bh++) {
    int64_t b = bh / a->H, h = bh % a->H;
    const float *bias = a->bias + (a->biasBatch > 1 ? b : 0) * T * Tk;
    float *p = a->pOut + bh * T * Tk;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)Tk, (int)D, a->scale,
                at(&a->q, b, h), (int)a->q.row, at(&a->k, b, h), (int)a->k.row, 0.0f, p, (int)Tk);
    for (int64_t i = 0; i < T * Tk; i++) p[i] += bias[i];
    softmax_rows(p, p, T, Tk);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)D, (int)Tk, 1.0f, p, (int)Tk,
                at(&a->v, b, h), (int)a->v.row, 0.0f, at_mut(&a->y, b, h), (int)a->y.row);
  }
}

static void attn_bwd_range(void *ctx, int64_t begin, int64_t end) {
  const Attn *a = ctx;
  int64_t T = a->T, Tk = a->Tk, D = a->D;
  float *ds = malloc(sizeof(float) * T * Tk);
  if (!ds) return;
  for (int64_t bh = begin; bh < end; bh++) {
    int64_t b = bh / a->H, h = bh % a->H;
    const float *p = a->p + bh * T * Tk, *dy = at(&a->y, b, h);
    int ldy = (int)a->y.row;
    /* dV = P^T dY; dP = dY V^T */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Tk, (int)D, (int)T, 1.0f, p, (int)Tk,
                dy, ldy, 0.0f, at_mut(&a->dv, b, h), (int)a->dv.row);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)Tk, (int)D, 1.0f, dy, ldy,
                at(&a->v, b, h), (int)a->v.row, 0.0f, ds, (int)Tk);
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
                (int)Tk, at(&a->k, b, h), (int)a->k.row, 0.0f, at_mut(&a->dq, b, h), (int)a->dq.row);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Tk, (int)D, (int)T, a->scale, ds,
                (int)Tk, at(&a->q, b, h), (int)a->q.row, 0.0f, at_mut(&a->dk, b, h), (int)a->dk.row);
  }
  free(ds);
}

void attention_fwd(Operand q, Operand k, Operand v, const float *bias, Operand y, float *p,
                   int64_t B, int64_t H, int64_t T, int64_t Tk, int64_t D, int64_t biasBatch,
                   float scale) {
  Attn a = {.q = q, .k = k, .v = v, .y = y, .bias = bias, .pOut = p, .H = H, .T = T, .Tk = Tk,
            .D = D, .biasBatch = biasBatch, .scale = scale};
  gemm_single_threaded();
  par_for(B * H, 4.0 * B * H * T * Tk * D / 50.0, attn_fwd_range, &a);
}

void attention_bwd(Operand q, Operand k, Operand v, const float *p, Operand dy, Operand dq,
                   Operand dk, Operand dv, int64_t B, int64_t H, int64_t T, int64_t Tk, int64_t D,
                   float scale) {
  Attn a = {.q = q, .k = k, .v = v, .y = dy, .p = p, .dq = dq, .dk = dk, .dv = dv, .H = H, .T = T,
            .Tk = Tk, .D = D, .scale = scale};
  gemm_single_threaded();
  par_for(B * H, 8.0 * B * H * T * Tk * D / 50.0, attn_bwd_range, &a);
}

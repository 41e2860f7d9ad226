/* Elementwise kernels: broadcasting binary ops and unary math, split over cores.
 * exp is a vectorisable polynomial (relative error ~2e-7) because libm's expf
 * is scalar and dominated softmax and GELU time. */
#include <math.h>
#include <string.h>
#include "kernels.h"

static inline float fast_exp(float x) {
  /* exp(x) = 2^n * exp(r), r = x - n ln2 in [-ln2/2, ln2/2]; NaN passes through (every
   * comparison is false). Selects only, no `if`, and binding.gyp's -fno-trapping-math: with
   * either missing gcc did not vectorise the loops calling it and exp ran at scalar speed in
   * softmax, GELU, attention and cross-entropy (7x slower; the results are the same bits). */
  float clamped = x < -87.33f ? -87.33f : x;
  clamped = clamped > 88.72f ? 88.72f : clamped;
  float n = floorf(clamped * 1.44269504f + 0.5f);
  float r = clamped - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  union { float f; int32_t i; } scale = {.i = ((int32_t)n + 127) << 23};
  float y = p * scale.f;
  y = x < -87.33f ? 0.0f : y;
  return x > 88.72f ? INFINITY : y;
}

void exp_inplace(float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = fast_exp(x[i]);
}

/* ---- binary with broadcasting ------------------------------------------ */

typedef struct {
  int op, rank;
  const float *a, *b;
  float *out;
  int64_t shape[MAX_RANK], sa[MAX_RANK], sb[MAX_RANK]; /* collapsed; strides 0 = broadcast */
} Binary;

#define BIN_LOOP(EXPR)                                           \
  for (int64_t j = 0; j < n; j++) {                              \
    float x = a[j * ia], y = b[j * ib];                          \
    out[j] = (EXPR);                                             \
  }

static void binary_row(int op, const float *a, const float *b, float *out, int64_t n,
                       int64_t ia, int64_t ib) {
  switch (op) {
    case OP_ADD: BIN_LOOP(x + y) break;
    case OP_SUB: BIN_LOOP(x - y) break;
    case OP_MUL: BIN_LOOP(x * y) break;
    case OP_DIV: BIN_LOOP(x / y) break;
    case OP_MAX: BIN_LOOP(isnan(x) || x > y ? x : y) break;
    case OP_MIN: BIN_LOOP(isnan(x) || x < y ? x : y) break;
    case OP_SQDIFF: BIN_LOOP((x - y) * (x - y)) break;
  }
}

/* Rows are all dims but the last; row r's operand offsets come from its coordinates. */
static void binary_range(void *ctx, int64_t begin, int64_t end) {
  const Binary *p = ctx;
  int inner = p->rank - 1;
  int64_t n = p->shape[inner];
  for (int64_t r = begin; r < end; r++) {
    int64_t rem = r, oa = 0, ob = 0;
    for (int d = inner - 1; d >= 0; d--) {
      int64_t c = rem % p->shape[d];
      rem /= p->shape[d];
      oa += c * p->sa[d];
      ob += c * p->sb[d];
    }
    binary_row(p->op, p->a + oa, p->b + ob, p->out + r * n, n, p->sa[inner], p->sb[inner]);
  }
}

void binary(int op, const float *a, const float *b, float *out, int rank,
            const int64_t *aShape, const int64_t *bShape, const int64_t *outShape) {
  Binary p = {.op = op, .rank = 0, .a = a, .b = b, .out = out};
  int64_t sa = 1, sb = 1, total = 1;
  /* Walk dims from the innermost, merging a dim into the previous one when both
   * operands keep the same broadcast pattern across them. */
  int64_t shape[MAX_RANK], as[MAX_RANK], bs[MAX_RANK];
  int k = 0;
  for (int d = rank - 1; d >= 0; d--) {
    int64_t s = outShape[d];
    total *= s;
    if (s == 1) continue;
    int64_t da = aShape[d] == 1 ? 0 : sa, db = bShape[d] == 1 ? 0 : sb;
    if (k > 0 && ((da == 0) == (as[k - 1] == 0)) && ((db == 0) == (bs[k - 1] == 0))) {
      shape[k - 1] *= s;
    } else {
      shape[k] = s; as[k] = da; bs[k] = db; k++;
    }
    sa *= aShape[d];
    sb *= bShape[d];
  }
  if (total == 0) return;
  if (k == 0) { shape[0] = 1; as[0] = 0; bs[0] = 0; k = 1; }
  p.rank = k;
  for (int i = 0; i < k; i++) {
    p.shape[i] = shape[k - 1 - i]; p.sa[i] = as[k - 1 - i]; p.sb[i] = bs[k - 1 - i];
  }
  int64_t rows = total / p.shape[k - 1];
  par_for(rows, (double)total, binary_range, &p);
}

/* ---- unary ----------------------------------------------------------------- */

typedef struct { int op; const float *x; float *out; } Unary;

#define UN_LOOP(EXPR) for (int64_t i = begin; i < end; i++) { float v = x[i]; out[i] = (EXPR); }

static void unary_range(void *ctx, int64_t begin, int64_t end) {
  const Unary *p = ctx;
  const float *x = p->x;
  float *out = p->out;
  switch (p->op) {
    case OP_EXP: UN_LOOP(fast_exp(v)) break;
    case OP_LOG: UN_LOOP(logf(v)) break;
    case OP_TANH: UN_LOOP(v > 9.0f ? 1.0f : (v < -9.0f ? -1.0f : 1.0f - 2.0f / (fast_exp(2.0f * v) + 1.0f))) break;
    case OP_SQRT: UN_LOOP(sqrtf(v)) break;
    case OP_RSQRT: UN_LOOP(1.0f / sqrtf(v)) break;
    case OP_NEG: UN_LOOP(-v) break;
    case OP_SQUARE: UN_LOOP(v * v) break;
    case OP_RECIP: UN_LOOP(1.0f / v) break;
    case OP_RELU: UN_LOOP(v > 0.0f ? v : (isnan(v) ? v : 0.0f)) break;
    case OP_SIGMOID: UN_LOOP(1.0f / (1.0f + fast_exp(-v))) break;
    case OP_ABS: UN_LOOP(fabsf(v)) break;
  }
}

void unary(int op, const float *x, float *out, int64_t n) {
  Unary p = {op, x, out};
  par_for(n, op == OP_EXP || op == OP_TANH || op == OP_SIGMOID || op == OP_LOG ? 8.0 * n : n,
          unary_range, &p);
}

/* Reductions over the middle axis of [outer, r, inner] and row softmax. */
#include <math.h>
#include "kernels.h"

typedef struct { int op; const float *x; float *out; int64_t outer, r, inner; } Reduce;

/* inner == 1: each output is a contiguous run of r values. */
static void reduce_rows(void *ctx, int64_t begin, int64_t end) {
  const Reduce *p = ctx;
  int64_t r = p->r;
  for (int64_t o = begin; o < end; o++) {
    const float *x = p->x + o * r;
    float acc;
    if (p->op == RED_SUM || p->op == RED_MEAN) {
      acc = 0.0f;
      for (int64_t i = 0; i < r; i++) acc += x[i];
      if (p->op == RED_MEAN) acc /= (float)r;
    } else {
      acc = x[0];
      for (int64_t i = 1; i < r; i++)
        acc = p->op == RED_MAX ? (x[i] > acc || isnan(x[i]) ? x[i] : acc)
                               : (x[i] < acc || isnan(x[i]) ? x[i] : acc);
    }
    p->out[o] = acc;
  }
}

/* inner > 1: accumulate rows of length inner; split over columns so threads never share outputs. */
static void reduce_cols(void *ctx, int64_t begin, int64_t end) {
  const Reduce *p = ctx;
  int64_t r = p->r, inner = p->inner;
  for (int64_t o = 0; o < p->outer; o++) {
    const float *x = p->x + o * r * inner;
    float *out = p->out + o * inner;
    for (int64_t j = begin; j < end; j++) out[j] = x[j];
    for (int64_t i = 1; i < r; i++) {
      const float *row = x + i * inner;
      switch (p->op) {
        case RED_SUM: case RED_MEAN:
          for (int64_t j = begin; j < end; j++) out[j] += row[j];
          break;
        case RED_MAX:
          for (int64_t j = begin; j < end; j++) out[j] = row[j] > out[j] || isnan(row[j]) ? row[j] : out[j];
          break;
        case RED_MIN:
          for (int64_t j = begin; j < end; j++) out[j] = row[j] < out[j] || isnan(row[j]) ? row[j] : out[j];
          break;
      }
    }
    if (p->op == RED_MEAN)
      for (int64_t j = begin; j < end; j++) out[j] /= (float)r;
  }
}

void reduce(int op, const float *x, float *out, int64_t outer, int64_t r, int64_t inner) {
  Reduce p = {op, x, out, outer, r, inner};
  double work = (double)outer * r * inner;
  if (r == 0) {
    float fill = op == RED_MAX ? -INFINITY : op == RED_MIN ? INFINITY : op == RED_MEAN ? NAN : 0.0f;
    for (int64_t i = 0; i < outer * inner; i++) out[i] = fill;
  } else if (inner == 1) {
    par_for(outer, work, reduce_rows, &p);
  } else {
    par_for(inner, work, reduce_cols, &p);
  }
}

typedef struct { const float *x; float *out; int64_t cols; } Softmax;

static void softmax_range(void *ctx, int64_t begin, int64_t end) {
  const Softmax *p = ctx;
  int64_t c = p->cols;
  for (int64_t row = begin; row < end; row++) {
    const float *x = p->x + row * c;
    float *y = p->out + row * c;
    float mx = -INFINITY, sum = 0.0f;
    for (int64_t j = 0; j < c; j++) mx = x[j] > mx ? x[j] : mx;
    if (mx == -INFINITY) mx = 0.0f; /* a fully masked row gives NaN below, as tfjs does */
    for (int64_t j = 0; j < c; j++) y[j] = x[j] - mx;
    exp_inplace(y, c);
    for (int64_t j = 0; j < c; j++) sum += y[j];
    float inv = 1.0f / sum;
    for (int64_t j = 0; j < c; j++) y[j] *= inv;
  }
}

void softmax_rows(const float *x, float *out, int64_t rows, int64_t cols) {
  Softmax p = {x, out, cols};
  par_for(rows, 10.0 * rows * cols, softmax_range, &p);
}

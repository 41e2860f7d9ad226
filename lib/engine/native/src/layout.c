/* Data movement: transpose, gather and its gradient (segment sum), slice and pad, column copies. */
#include <string.h>
#include "kernels.h"

typedef struct {
  const float *x;
  float *out;
  int rank;
  int64_t outShape[MAX_RANK], inStride[MAX_RANK]; /* input stride of each output dim */
} Transpose;

/* Rows of the output (all dims but the last) are independent. */
static void transpose_range(void *ctx, int64_t begin, int64_t end) {
  const Transpose *p = ctx;
  int last = p->rank - 1;
  int64_t n = p->outShape[last], s = p->inStride[last];
  for (int64_t r = begin; r < end; r++) {
    int64_t rem = r, off = 0;
    for (int d = last - 1; d >= 0; d--) {
      off += (rem % p->outShape[d]) * p->inStride[d];
      rem /= p->outShape[d];
    }
    const float *x = p->x + off;
    float *out = p->out + r * n;
    if (s == 1) memcpy(out, x, n * sizeof(float));
    else for (int64_t j = 0; j < n; j++) out[j] = x[j * s];
  }
}

void transpose(const float *x, float *out, int rank, const int64_t *shape, const int64_t *perm) {
  int64_t stride[MAX_RANK], total = 1;
  for (int d = rank - 1; d >= 0; d--) { stride[d] = total; total *= shape[d]; }
  if (total == 0) return;
  Transpose p = {.x = x, .out = out, .rank = 0};
  /* Drop size-1 dims and merge output dims that stay adjacent in the input. */
  for (int d = 0; d < rank; d++) {
    int64_t size = shape[perm[d]], st = stride[perm[d]];
    if (size == 1) continue;
    if (p.rank > 0 && p.inStride[p.rank - 1] == st * size) {
      p.outShape[p.rank - 1] *= size;
      p.inStride[p.rank - 1] = st;
    } else {
      p.outShape[p.rank] = size; p.inStride[p.rank] = st; p.rank++;
    }
  }
  if (p.rank == 0) { out[0] = x[0]; return; }
  int64_t rows = total / p.outShape[p.rank - 1];
  par_for(rows, (double)total * 2, transpose_range, &p);
}

int64_t gather(const float *x, const int32_t *idx, float *out, int64_t outer, int64_t axis,
               int64_t inner, int64_t nIdx) {
  for (int64_t i = 0; i < nIdx; i++)
    if (idx[i] < 0 || idx[i] >= axis) return i + 1;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < nIdx; i++)
      memcpy(out + (o * nIdx + i) * inner, x + (o * axis + idx[i]) * inner, inner * sizeof(float));
  return 0;
}

void segment_sum(const float *x, const int32_t *ids, float *out, int64_t n, int64_t inner,
                 int64_t numSeg) {
  memset(out, 0, numSeg * inner * sizeof(float));
  for (int64_t i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= numSeg) continue;
    float *dst = out + (int64_t)ids[i] * inner;
    const float *src = x + i * inner;
    for (int64_t j = 0; j < inner; j++) dst[j] += src[j];
  }
}

/* The rows (runs along the last axis) of a block of shape `size` that starts at `at` inside a
 * tensor of shape `full` (C order): copied out of it into a dense block (slice), or from a dense
 * block into it (pad). */
static void block_rows(const float *src, float *dst, int rank, const int64_t *full, const int64_t *size,
                       const int64_t *at, int intoFull) {
  int64_t stride[MAX_RANK], total = 1, s = 1;
  for (int d = rank - 1; d >= 0; d--) { stride[d] = s; s *= full[d]; total *= size[d]; }
  if (total == 0) return;
  int64_t base = 0;
  for (int d = 0; d < rank; d++) base += at[d] * stride[d];
  int64_t n = rank > 0 ? size[rank - 1] : 1, rows = total / n;
  for (int64_t r = 0; r < rows; r++) {
    int64_t rem = r, off = base;
    for (int d = rank - 2; d >= 0; d--) { off += (rem % size[d]) * stride[d]; rem /= size[d]; }
    if (intoFull) memcpy(dst + off, src + r * n, n * sizeof(float));
    else memcpy(dst + r * n, src + off, n * sizeof(float));
  }
}

void slice(const float *x, float *out, int rank, const int64_t *shape, const int64_t *begin,
           const int64_t *size) {
  block_rows(x, out, rank, shape, size, begin, 0);
}

/* The inverse of slice: out (shape `outShape`) is `value` except the block at `before`, which
 * is x (shape `shape`). Slice's gradient (the log-prob pass drops the last position) runs on it. */
void pad(const float *x, float *out, int rank, const int64_t *shape, const int64_t *outShape,
         const int64_t *before, float value) {
  int64_t outTotal = 1;
  for (int d = 0; d < rank; d++) outTotal *= outShape[d];
  for (int64_t i = 0; i < outTotal; i++) out[i] = value;
  block_rows(x, out, rank, outShape, shape, before, 1);
}

void copy_cols(const float *x, float *out, int64_t outer, int64_t w, int64_t xStride,
               int64_t outStride) {
  for (int64_t o = 0; o < outer; o++) memcpy(out + o * outStride, x + o * xStride, w * sizeof(float));
}

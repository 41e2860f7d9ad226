/* Float32 kernels behind the N-API addon. Shapes are int64 element counts;
 * arrays are dense row-major. Every kernel writes all of its output (outputs
 * come from a reuse pool and hold stale values). */
#ifndef RLHF_KERNELS_H
#define RLHF_KERNELS_H
#include <stdint.h>

#define MAX_RANK 8

/* threads.c: split [0, n) into chunks run on every core; fn(ctx, begin, end).
 * `work` is the job's rough cost in nanoseconds on one core: small jobs stay on the caller. */
typedef void (*range_fn)(void *ctx, int64_t begin, int64_t end);
void par_for(int64_t n, double work, range_fn fn, void *ctx);
/* The same with `perThread` chunks per thread (fewer for GEMM: each chunk re-packs an operand). */
void par_for_chunks(int64_t n, double work, range_fn fn, void *ctx, int perThread);
int par_threads(void);

/* gemm.c: out[b] = op(a[ia(b)]) @ op(b[ib(b)]), op = transpose when flagged;
 * batch dims broadcast (aBatch/bBatch padded to outBatch's rank with 1s). */
void bmm(const float *a, const float *b, float *out, int64_t m, int64_t n, int64_t k,
         int transA, int transB, int rank, const int64_t *aBatch, const int64_t *bBatch,
         const int64_t *outBatch);

/* out [m, n] += op(a) @ op(b): one product (no batch), the same fixed tiles as bmm. */
void bmm_acc(const float *a, const float *b, float *out, int64_t m, int64_t n, int64_t k,
             int transA, int transB);

/* Keep OpenBLAS on the calling thread (we thread around it); idempotent. */
void gemm_single_threaded(void);

/* attention.c: P = softmax(scale q k^T + bias), y = P v for every (batch, head); bias
 * [biasBatch (1 or B), 1, T, Tk]. An Operand addresses head h of batch b at
 * data + b*batch + h*head, its rows `row` floats apart. The backward takes the saved P
 * [B,H,T,Tk] and writes dq, dk, dv through their operands. */
typedef struct { const float *data; int64_t batch, head, row; } Operand;
void attention_fwd(Operand q, Operand k, Operand v, const float *bias, Operand y, float *p,
                   int64_t B, int64_t H, int64_t T, int64_t Tk, int64_t D, int64_t biasBatch,
                   float scale);
void attention_bwd(Operand q, Operand k, Operand v, const float *p, Operand dy, Operand dq,
                   Operand dk, Operand dv, int64_t B, int64_t H, int64_t T, int64_t Tk, int64_t D,
                   float scale);

/* elementwise.c */
enum BinOp { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MAX, OP_MIN, OP_SQDIFF };
enum UnOp { OP_EXP, OP_LOG, OP_TANH, OP_SQRT, OP_RSQRT, OP_NEG, OP_SQUARE, OP_RECIP,
            OP_RELU, OP_SIGMOID, OP_ABS };
/* aShape/bShape are padded with leading 1s to outShape's rank. */
void binary(int op, const float *a, const float *b, float *out, int rank,
            const int64_t *aShape, const int64_t *bShape, const int64_t *outShape);
void unary(int op, const float *x, float *out, int64_t n);
void exp_inplace(float *x, int64_t n);

/* reduce.c: x viewed as [outer, r, inner] reduced over r -> [outer, inner]. */
enum RedOp { RED_SUM, RED_MEAN, RED_MAX, RED_MIN };
void reduce(int op, const float *x, float *out, int64_t outer, int64_t r, int64_t inner);
void softmax_rows(const float *x, float *out, int64_t rows, int64_t cols);

/* layout.c */
void transpose(const float *x, float *out, int rank, const int64_t *shape, const int64_t *perm);
/* x [outer, axis, inner] gathered at idx -> [outer, nIdx, inner]; returns the
 * first bad index position + 1, or 0. */
int64_t gather(const float *x, const int32_t *idx, float *out, int64_t outer, int64_t axis,
               int64_t inner, int64_t nIdx);
/* x [n, inner] summed into out [numSeg, inner] by ids; ids out of range are dropped. */
void segment_sum(const float *x, const int32_t *ids, float *out, int64_t n, int64_t inner,
                 int64_t numSeg);
void pad(const float *x, float *out, int rank, const int64_t *shape, const int64_t *outShape,
         const int64_t *before, float value);
void slice(const float *x, float *out, int rank, const int64_t *shape, const int64_t *begin,
           const int64_t *size);
/* copy rows: out[o, off:off+w] = x[o, 0:w] for each outer row o (concat and split). */
void copy_cols(const float *x, float *out, int64_t outer, int64_t w, int64_t xStride,
               int64_t outStride);

/* fused.c */
void layernorm_fwd(const float *x, const float *g, const float *b, float *y, float *mean,
                   float *rstd, int64_t rows, int64_t c, float eps);
void layernorm_bwd(const float *dy, const float *x, const float *g, const float *mean,
                   const float *rstd, float *dx, float *dg, float *db, int64_t rows, int64_t c);
void gelu_fwd(const float *x, float *y, int64_t n);
void gelu_bwd(const float *x, const float *dy, float *dx, int64_t n);
/* loss[i] = logsumexp(logits[i]) - logits[i, label[i]]; lse saved for the backward. */
int64_t xent_fwd(const float *logits, const int32_t *labels, float *loss, float *lse,
                 int64_t rows, int64_t v);
void xent_bwd(const float *logits, const int32_t *labels, const float *lse, const float *dloss,
              float *dlogits, int64_t rows, int64_t v);
/* One AdamW step (decoupled weight decay) on g * scale; outputs may alias inputs.
 * bc = 1 - beta^t. */
void adamw(const float *p, const float *g, const float *m, const float *v, float *pOut, float *mOut,
           float *vOut, int64_t n, float lr, float b1, float b2, float eps, float wd, float bc1,
           float bc2, float scale);
/* logprob.c: the output layer fused with log-softmax at the labels, in blocks of rows:
 * logp[r] = s z[r, label[r]] - logsumexp(s z[r]), z = h W^T (wIsVC, W [V,C]) or h W (W [C,V]);
 * lse saved for the backward, which writes dz [n, v] (scratch), dh [n, c] and dw (W's shape).
 * The forward returns 0, or 1 + the first row whose label is outside [0, v). */
int64_t head_logp_fwd(const float *h, const float *w, const int32_t *labels, float *logp,
                      float *lse, int64_t n, int64_t c, int64_t v, int wIsVC, float s);
void head_logp_bwd(const float *h, const float *w, const int32_t *labels, const float *lse,
                   const float *dlogp, float *dz, float *dh, float *dw, int64_t n, int64_t c,
                   int64_t v, int wIsVC, float s);
/* block.c: one transformer block forward and backward (see block.c for the maths). Inputs
 * x [N, C] (N = B*T), bias [biasBatch, 1, T, T] and the block's parameters; the forward writes
 * y and the activations the backward reads. */
typedef struct {
  const float *x, *bias, *g1, *b1, *wqkv, *bqkv, *wo, *bo, *g2, *b2, *w1, *bm1, *w2, *bm2;
  float *y, *a, *mean1, *rstd1, *qkv, *p, *att, *x1, *m, *mean2, *rstd2, *hpre, *h;
} BlockTensors;
typedef struct {
  const float *dy;
  float *dx, *dg1, *db1, *dwqkv, *dbqkv, *dwo, *dbo, *dg2, *db2, *dw1, *dbm1, *dw2, *dbm2;
  float *scratch; /* block_scratch(N, C) floats */
} BlockGrads;
int64_t block_scratch(int64_t N, int64_t C);
void block_fwd(const BlockTensors *t, int64_t B, int64_t T, int64_t C, int64_t H,
               int64_t biasBatch, float eps);
void block_bwd(const BlockTensors *t, const BlockGrads *g, int64_t B, int64_t T, int64_t C,
               int64_t H);
/* x [rows, cols] summed over rows into out [cols] in fixed blocks of 64 rows; scratch holds
 * ceil(rows / 64) * cols floats. */
void colsum(const float *x, float *out, float *scratch, int64_t rows, int64_t cols);
#endif

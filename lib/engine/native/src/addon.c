/* N-API glue: unpack JS arguments (Float32Array/Int32Array views, numbers,
 * shape arrays) and call the kernels. Argument order mirrors kernels.h; the
 * TypeScript side (lib/native/addon.ts) is the only caller and checks shapes. */
#include <node_api.h>
#include <stdlib.h>
#include "kernels.h"

#define MAX_ARGS 32
#define CHECK(call) if ((call) != napi_ok) { napi_throw_error(env, NULL, "rlhf_native: bad argument"); return NULL; }
#define ARGS(n)                                                               \
  size_t argc = MAX_ARGS;                                                     \
  napi_value argv[MAX_ARGS];                                                  \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));                \
  if (argc < (n)) { napi_throw_error(env, NULL, "rlhf_native: too few arguments"); return NULL; } \
  int bad = 0;
#define DONE if (bad) { napi_throw_type_error(env, NULL, "rlhf_native: argument has the wrong type"); return NULL; }

static void *typed(napi_env env, napi_value v, napi_typedarray_type want, int *bad) {
  napi_typedarray_type type;
  size_t length;
  void *data = NULL;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok || type != want) {
    *bad = 1;
    return NULL;
  }
  return data;
}
#define F32(i) ((float *)typed(env, argv[i], napi_float32_array, &bad))
#define I32(i) ((int32_t *)typed(env, argv[i], napi_int32_array, &bad))

static int64_t num(napi_env env, napi_value v, int *bad) {
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok) *bad = 1;
  return (int64_t)d;
}
static double dbl(napi_env env, napi_value v, int *bad) {
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok) *bad = 1;
  return d;
}
#define NUM(i) num(env, argv[i], &bad)
#define DBL(i) dbl(env, argv[i], &bad)

/* A JS array of numbers into dims; returns its length (rank). */
static int dims(napi_env env, napi_value v, int64_t *out, int *bad) {
  uint32_t len = 0;
  if (napi_get_array_length(env, v, &len) != napi_ok || len > MAX_RANK) { *bad = 1; return 0; }
  for (uint32_t i = 0; i < len; i++) {
    napi_value e;
    if (napi_get_element(env, v, i, &e) != napi_ok) { *bad = 1; return 0; }
    out[i] = num(env, e, bad);
  }
  return (int)len;
}

static napi_value number(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

static napi_value js_bmm(napi_env env, napi_callback_info info) {
  ARGS(11);
  int64_t ab[MAX_RANK], bb[MAX_RANK], ob[MAX_RANK];
  int rank = dims(env, argv[8], ab, &bad);
  if (dims(env, argv[9], bb, &bad) != rank || dims(env, argv[10], ob, &bad) != rank) bad = 1;
  float *a = F32(0), *b = F32(1), *out = F32(2);
  int64_t m = NUM(3), n = NUM(4), k = NUM(5), ta = NUM(6), tb = NUM(7);
  DONE;
  bmm(a, b, out, m, n, k, (int)ta, (int)tb, rank, ab, bb, ob);
  return NULL;
}

static napi_value js_binary(napi_env env, napi_callback_info info) {
  ARGS(7);
  int64_t as[MAX_RANK], bs[MAX_RANK], os[MAX_RANK];
  int rank = dims(env, argv[6], os, &bad);
  if (dims(env, argv[4], as, &bad) != rank || dims(env, argv[5], bs, &bad) != rank) bad = 1;
  int64_t op = NUM(0);
  float *a = F32(1), *b = F32(2), *out = F32(3);
  DONE;
  binary((int)op, a, b, out, rank, as, bs, os);
  return NULL;
}

static napi_value js_unary(napi_env env, napi_callback_info info) {
  ARGS(4);
  int64_t op = NUM(0), n = NUM(3);
  float *x = F32(1), *out = F32(2);
  DONE;
  unary((int)op, x, out, n);
  return NULL;
}

static napi_value js_reduce(napi_env env, napi_callback_info info) {
  ARGS(6);
  int64_t op = NUM(0), outer = NUM(3), r = NUM(4), inner = NUM(5);
  float *x = F32(1), *out = F32(2);
  DONE;
  reduce((int)op, x, out, outer, r, inner);
  return NULL;
}

static napi_value js_softmax(napi_env env, napi_callback_info info) {
  ARGS(4);
  float *x = F32(0), *out = F32(1);
  int64_t rows = NUM(2), cols = NUM(3);
  DONE;
  softmax_rows(x, out, rows, cols);
  return NULL;
}

static napi_value js_transpose(napi_env env, napi_callback_info info) {
  ARGS(4);
  int64_t shape[MAX_RANK], perm[MAX_RANK];
  int rank = dims(env, argv[2], shape, &bad);
  if (dims(env, argv[3], perm, &bad) != rank) bad = 1;
  float *x = F32(0), *out = F32(1);
  DONE;
  transpose(x, out, rank, shape, perm);
  return NULL;
}

static napi_value js_gather(napi_env env, napi_callback_info info) {
  ARGS(7);
  float *x = F32(0), *out = F32(2);
  int32_t *idx = I32(1);
  int64_t outer = NUM(3), axis = NUM(4), inner = NUM(5), nIdx = NUM(6);
  DONE;
  return number(env, (double)gather(x, idx, out, outer, axis, inner, nIdx));
}

static napi_value js_segment_sum(napi_env env, napi_callback_info info) {
  ARGS(6);
  float *x = F32(0), *out = F32(2);
  int32_t *ids = I32(1);
  int64_t n = NUM(3), inner = NUM(4), numSeg = NUM(5);
  DONE;
  segment_sum(x, ids, out, n, inner, numSeg);
  return NULL;
}

/* Three JS arrays of one rank (a shape and a block's corner and size) into a, b, c; returns the rank. */
static int three_dims(napi_env env, const napi_value *v, int64_t *a, int64_t *b, int64_t *c, int *bad) {
  int rank = dims(env, v[0], a, bad);
  if (dims(env, v[1], b, bad) != rank || dims(env, v[2], c, bad) != rank) *bad = 1;
  return rank;
}

static napi_value js_slice(napi_env env, napi_callback_info info) {
  ARGS(5);
  int64_t shape[MAX_RANK], begin[MAX_RANK], size[MAX_RANK];
  int rank = three_dims(env, argv + 2, shape, begin, size, &bad);
  float *x = F32(0), *out = F32(1);
  DONE;
  slice(x, out, rank, shape, begin, size);
  return NULL;
}

static napi_value js_pad(napi_env env, napi_callback_info info) {
  ARGS(6);
  int64_t shape[MAX_RANK], outShape[MAX_RANK], before[MAX_RANK];
  int rank = three_dims(env, argv + 2, shape, outShape, before, &bad);
  float *x = F32(0), *out = F32(1);
  double value = DBL(5);
  DONE;
  pad(x, out, rank, shape, outShape, before, (float)value);
  return NULL;
}

static napi_value js_copy_cols(napi_env env, napi_callback_info info) {
  ARGS(8);
  float *x = F32(0), *out = F32(3);
  int64_t xOff = NUM(1), xStride = NUM(2), outOff = NUM(4), outStride = NUM(5), outer = NUM(6),
          w = NUM(7);
  DONE;
  copy_cols(x + xOff, out + outOff, outer, w, xStride, outStride);
  return NULL;
}

static napi_value js_layernorm_fwd(napi_env env, napi_callback_info info) {
  ARGS(9);
  float *x = F32(0), *g = F32(1), *b = F32(2), *y = F32(3), *mean = F32(4), *rstd = F32(5);
  int64_t rows = NUM(6), c = NUM(7);
  double eps = DBL(8);
  DONE;
  layernorm_fwd(x, g, b, y, mean, rstd, rows, c, (float)eps);
  return NULL;
}

static napi_value js_layernorm_bwd(napi_env env, napi_callback_info info) {
  ARGS(10);
  float *dy = F32(0), *x = F32(1), *g = F32(2), *mean = F32(3), *rstd = F32(4), *dx = F32(5),
        *dg = F32(6), *db = F32(7);
  int64_t rows = NUM(8), c = NUM(9);
  DONE;
  layernorm_bwd(dy, x, g, mean, rstd, dx, dg, db, rows, c);
  return NULL;
}

static napi_value js_gelu_fwd(napi_env env, napi_callback_info info) {
  ARGS(3);
  float *x = F32(0), *y = F32(1);
  int64_t n = NUM(2);
  DONE;
  gelu_fwd(x, y, n);
  return NULL;
}

static napi_value js_gelu_bwd(napi_env env, napi_callback_info info) {
  ARGS(4);
  float *x = F32(0), *dy = F32(1), *dx = F32(2);
  int64_t n = NUM(3);
  DONE;
  gelu_bwd(x, dy, dx, n);
  return NULL;
}

static napi_value js_xent_fwd(napi_env env, napi_callback_info info) {
  ARGS(6);
  float *logits = F32(0), *loss = F32(2), *lse = F32(3);
  int32_t *labels = I32(1);
  int64_t rows = NUM(4), v = NUM(5);
  DONE;
  return number(env, (double)xent_fwd(logits, labels, loss, lse, rows, v));
}

static napi_value js_xent_bwd(napi_env env, napi_callback_info info) {
  ARGS(7);
  float *logits = F32(0), *lse = F32(2), *dloss = F32(3), *dlogits = F32(4);
  int32_t *labels = I32(1);
  int64_t rows = NUM(5), v = NUM(6);
  DONE;
  xent_bwd(logits, labels, lse, dloss, dlogits, rows, v);
  return NULL;
}

/* h, w, labels, logp, lse, n, c, v, wIsVC, s */
static napi_value js_head_logp_fwd(napi_env env, napi_callback_info info) {
  ARGS(10);
  float *h = F32(0), *w = F32(1), *logp = F32(3), *lse = F32(4);
  int32_t *labels = I32(2);
  int64_t n = NUM(5), c = NUM(6), v = NUM(7), wIsVC = NUM(8);
  double s = DBL(9);
  DONE;
  return number(env, (double)head_logp_fwd(h, w, labels, logp, lse, n, c, v, (int)wIsVC, (float)s));
}

/* h, w, labels, lse, dlogp, dz, dh, dw, n, c, v, wIsVC, s */
static napi_value js_head_logp_bwd(napi_env env, napi_callback_info info) {
  ARGS(13);
  float *h = F32(0), *w = F32(1), *lse = F32(3), *dlogp = F32(4), *dz = F32(5), *dh = F32(6),
        *dw = F32(7);
  int32_t *labels = I32(2);
  int64_t n = NUM(8), c = NUM(9), v = NUM(10), wIsVC = NUM(11);
  double s = DBL(12);
  DONE;
  head_logp_bwd(h, w, labels, lse, dlogp, dz, dh, dw, n, c, v, (int)wIsVC, (float)s);
  return NULL;
}

static napi_value js_adamw(napi_env env, napi_callback_info info) {
  ARGS(16);
  float *p = F32(0), *g = F32(1), *m = F32(2), *v = F32(3), *pOut = F32(4), *mOut = F32(5),
        *vOut = F32(6);
  int64_t n = NUM(7);
  double lr = DBL(8), b1 = DBL(9), b2 = DBL(10), eps = DBL(11), wd = DBL(12), bc1 = DBL(13),
         bc2 = DBL(14), scale = DBL(15);
  DONE;
  adamw(p, g, m, v, pOut, mOut, vOut, n, (float)lr, (float)b1, (float)b2, (float)eps, (float)wd,
        (float)bc1, (float)bc2, (float)scale);
  return NULL;
}

/* Element i of a JS array of Float32Arrays. */
static float *f32_at(napi_env env, napi_value arr, uint32_t i, int *bad) {
  napi_value e;
  if (napi_get_element(env, arr, i, &e) != napi_ok) { *bad = 1; return NULL; }
  return (float *)typed(env, e, napi_float32_array, bad);
}

static int array_length(napi_env env, napi_value arr) {
  uint32_t len = 0;
  if (napi_get_array_length(env, arr, &len) != napi_ok) return -1;
  return (int)len;
}

/* [x, bias, g1, b1, wqkv, bqkv, wo, bo, g2, b2, w1, bm1, w2, bm2, y, a, mean1, rstd1, qkv, p,
 *  att, x1, m, mean2, rstd2, hpre, h] (27 Float32Arrays); the BlockTensors field order */
static void block_tensors(napi_env env, napi_value arr, BlockTensors *t, int *bad) {
  if (array_length(env, arr) != 27) { *bad = 1; return; }
  const float **f = (const float **)t;
  for (uint32_t i = 0; i < 27; i++) f[i] = f32_at(env, arr, i, bad);
}

/* tensors (as block_fwd), B, T, C, H, biasBatch, eps */
static napi_value js_block_fwd(napi_env env, napi_callback_info info) {
  ARGS(7);
  BlockTensors t;
  block_tensors(env, argv[0], &t, &bad);
  int64_t B = NUM(1), T = NUM(2), C = NUM(3), H = NUM(4), biasBatch = NUM(5);
  double eps = DBL(6);
  DONE;
  block_fwd(&t, B, T, C, H, biasBatch, (float)eps);
  return NULL;
}

/* tensors (as block_fwd), [dy, dx, dg1, db1, dwqkv, dbqkv, dwo, dbo, dg2, db2, dw1, dbm1, dw2,
 * dbm2, scratch] (the BlockGrads field order), B, T, C, H */
static napi_value js_block_bwd(napi_env env, napi_callback_info info) {
  ARGS(6);
  BlockTensors t;
  BlockGrads g;
  block_tensors(env, argv[0], &t, &bad);
  if (array_length(env, argv[1]) != 15) bad = 1;
  const float **f = (const float **)&g;
  for (uint32_t i = 0; i < 15 && !bad; i++) f[i] = f32_at(env, argv[1], i, &bad);
  int64_t B = NUM(2), T = NUM(3), C = NUM(4), H = NUM(5);
  DONE;
  block_bwd(&t, &g, B, T, C, H);
  return NULL;
}

static napi_value js_block_scratch(napi_env env, napi_callback_info info) {
  ARGS(2);
  int64_t n = NUM(0), c = NUM(1);
  DONE;
  return number(env, (double)block_scratch(n, c));
}

/* An operand: (Float32Array, offset, [batch, head, row] strides). */
static Operand operand(napi_env env, napi_value *argv, int i, int *bad) {
  Operand o = {0};
  int64_t s[MAX_RANK];
  float *base = typed(env, argv[i], napi_float32_array, bad);
  int64_t off = num(env, argv[i + 1], bad);
  if (dims(env, argv[i + 2], s, bad) != 3) { *bad = 1; return o; }
  o.data = base ? base + off : NULL;
  o.batch = s[0]; o.head = s[1]; o.row = s[2];
  return o;
}
#define OPERAND(i) operand(env, argv, i, &bad)

/* (q, k, v, y operands: 3 args each), bias, p, B, H, T, Tk, D, biasBatch, scale */
static napi_value js_attention_fwd(napi_env env, napi_callback_info info) {
  ARGS(21);
  Operand q = OPERAND(0), k = OPERAND(3), v = OPERAND(6), y = OPERAND(9);
  float *bias = F32(12), *p = F32(13);
  int64_t B = NUM(14), H = NUM(15), T = NUM(16), Tk = NUM(17), D = NUM(18), biasBatch = NUM(19);
  double scale = DBL(20);
  DONE;
  attention_fwd(q, k, v, bias, y, p, B, H, T, Tk, D, biasBatch, (float)scale);
  return NULL;
}

/* (q, k, v operands), p, (dy, dq, dk, dv operands), B, H, T, Tk, D, scale */
static napi_value js_attention_bwd(napi_env env, napi_callback_info info) {
  ARGS(28);
  Operand q = OPERAND(0), k = OPERAND(3), v = OPERAND(6);
  float *p = F32(9);
  Operand dy = OPERAND(10), dq = OPERAND(13), dk = OPERAND(16), dv = OPERAND(19);
  int64_t B = NUM(22), H = NUM(23), T = NUM(24), Tk = NUM(25), D = NUM(26);
  double scale = DBL(27);
  DONE;
  attention_bwd(q, k, v, p, dy, dq, dk, dv, B, H, T, Tk, D, (float)scale);
  return NULL;
}

static napi_value js_threads(napi_env env, napi_callback_info info) {
  return number(env, par_threads());
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default, NULL}
      FN("bmm", js_bmm), FN("binary", js_binary), FN("unary", js_unary),
      FN("reduce", js_reduce), FN("softmax", js_softmax), FN("transpose", js_transpose),
      FN("gather", js_gather), FN("segmentSum", js_segment_sum), FN("slice", js_slice), FN("pad", js_pad),
      FN("copyCols", js_copy_cols), FN("layerNormFwd", js_layernorm_fwd),
      FN("layerNormBwd", js_layernorm_bwd), FN("geluFwd", js_gelu_fwd),
      FN("geluBwd", js_gelu_bwd), FN("xentFwd", js_xent_fwd), FN("xentBwd", js_xent_bwd),
      FN("headLogpFwd", js_head_logp_fwd), FN("headLogpBwd", js_head_logp_bwd),
      FN("adamw", js_adamw), FN("attentionFwd", js_attention_fwd),
      FN("attentionBwd", js_attention_bwd), FN("blockFwd", js_block_fwd),
      FN("blockBwd", js_block_bwd), FN("blockScratch", js_block_scratch), FN("threads", js_threads),
#undef FN
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

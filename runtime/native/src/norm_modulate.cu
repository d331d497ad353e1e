// LayerNorm (optionally affine) fused with Wan's adaptive modulation: y = LN(x)·(1+scale)+shift.
// Reference: Turbo.Runtime.Native.FusedOps.LayerNormModulateReference. Each row's elements stay in registers so x is
// read once (two-pass mean/variance in fp32, as torch's LayerNorm). Rows of whole 16-byte vectors take the vector
// kernel: rows of up to 2,048 elements in multiples of 256 (Wan2.1-1.3B's 1,536) one warp each (a 256-thread block per
// row is too little work to hide memory latency there), other rows of up to 8,192 elements (14B's 5,120) one block of
// 128 threads each, every load of the row issued before any value is used. Other rows take the scalar block kernel.
// The quantizing variant (turbo_int8_layernorm_quantize) hands the normalized row, rounded to the model's dtype, to
// the W8A8 activation quantizer of each layer that reads it (a block's q, k and v share one input) while it is still
// in registers: the same numbers as this kernel followed by turbo_int8_quantize_rows, without writing and re-reading
// the row in the model's dtype (with smoothing, up to six IEEE divisions per element).
// Both can take a residual update first (turbo_residual_layernorm_modulate, turbo_int8_residual_layernorm_quantize): the
// row of x' = x + y·gate (gate omitted: x + y) is written to the residual stream as turbo_gate_residual writes it and
// normalized in x's place — a block's update and the next norm in one pass, x' never read back.
#include "int8_common.cuh"
#include "vector_rows.cuh"

namespace {
constexpr int kThreads = 256;
constexpr int kMaxPerThread = 32;  // dim <= 8192

// The update a norm can apply to its input first: x' = x + y·gate[b] (gate null: x + y), float32, written to out.
struct ResidualUpdate {
  const void* y;  // null: no update
  int y_dtype;
  const float* gate;  // [B, D] or null
  float* out;
};

// The W8A8 inputs made from each normalized row: count (1..3) outputs, each with its layer's smoothing (or none).
struct RowQuantizers {
  int count;
  int round_dtype;  // the model's dtype: the row is rounded to it first, as the unfused norm's output is
  const float* smooth[kMaxLayerNormQuantizers];
  int8_t* q[kMaxLayerNormQuantizers];
  float* scale[kMaxLayerNormQuantizers];
};

// The scalar kernel, for rows the vector kernel does not take: one block of 256 threads per row, element by element.
template <bool kQuantize>
__global__ void layernorm_modulate_kernel(const void* __restrict__ x, int x_dtype, ResidualUpdate residual,
                                          const float* __restrict__ weight, const float* __restrict__ bias,
                                          const float* __restrict__ shift, const float* __restrict__ scale,
                                          void* __restrict__ y, int y_dtype, int64_t tokens, int dim, float eps,
                                          RowQuantizers quant) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const int64_t base = row * dim;
  float v[kMaxPerThread];
  float sum = 0.f;
#pragma unroll
  for (int k = 0; k < kMaxPerThread; ++k) {
    const int c = threadIdx.x + k * kThreads;
    v[k] = c < dim ? load_as_float(x, x_dtype, base + c) : 0.f;
    if (residual.y && c < dim) {
      const float gate = residual.gate ? residual.gate[(row / tokens) * dim + c] : 1.f;
      v[k] = gated_residual(v[k], load_as_float(residual.y, residual.y_dtype, base + c), gate);
      residual.out[base + c] = v[k];
    }
    sum += v[k];
  }
  const float mean = block_sum(sum, scratch) / dim;
  float sq = 0.f;
#pragma unroll
  for (int k = 0; k < kMaxPerThread; ++k) {
    const int c = threadIdx.x + k * kThreads;
    const float d = c < dim ? v[k] - mean : 0.f;
    sq += d * d;
  }
  const float rstd = rsqrtf(block_sum(sq, scratch) / dim + eps);
  const int64_t b = row / tokens;
#pragma unroll
  for (int k = 0; k < kMaxPerThread; ++k) {
    const int c = threadIdx.x + k * kThreads;
    if (c >= dim) break;
    float n = (v[k] - mean) * rstd;
    if (weight) n = n * weight[c] + bias[c];
    if (scale) n = n * (1.f + scale[b * dim + c]) + shift[b * dim + c];
    if constexpr (kQuantize) v[k] = round_through(quant.round_dtype, n);
    else store_from_float(y, y_dtype, base + c, n);
  }
  if constexpr (kQuantize) {
    for (int o = 0; o < quant.count; ++o) {
      const float* smooth = quant.smooth[o];
      float amax = 0.f;
#pragma unroll
      for (int k = 0; k < kMaxPerThread; ++k) {
        const int c = threadIdx.x + k * kThreads;
        if (c < dim) amax = fmaxf(amax, fabsf(activation_smoothed(v[k], smooth, c)));
      }
      const float s = int8_row_scale(block_max(amax, scratch)), inverse = row_inverse(s);
#pragma unroll
      for (int k = 0; k < kMaxPerThread; ++k) {
        const int c = threadIdx.x + k * kThreads;
        if (c >= dim) break;
        quant.q[o][base + c] = static_cast<int8_t>(int8_encode(__fmul_rn(activation_smoothed(v[k], smooth, c), inverse)));
      }
      if (threadIdx.x == 0) quant.scale[o][row] = s;
    }
  }
}
// Rows of whole vectors, a warp or a block each (vector_rows.cuh; weight/bias and shift/scale rows are read the same
// way). Every load of the row (x and the update) is issued before any value is used, so a row's reads are in flight
// together.
template <int kVecs, int kRowThreads, bool kQuantize>
__global__ void __launch_bounds__(kRowBlockThreads<kRowThreads>)
    layernorm_modulate_rows_kernel(const void* __restrict__ x, int x_dtype, ResidualUpdate residual,
                                   const float* __restrict__ weight, const float* __restrict__ bias,
                                   const float* __restrict__ shift, const float* __restrict__ scale, void* __restrict__ y,
                                   int y_dtype, int64_t rows, int64_t tokens, int dim, float eps, RowQuantizers quant) {
  __shared__ float scratch[32];
  const VectorRow<kRowThreads> at(dim);
  if (at.row >= rows) return;  // whole warps leave together, so the shuffles below see full warps
  const int64_t base = at.row * dim, modulation = at.row / tokens * dim;
  float v[kVecs][kVectorWidth], update[kVecs][kVectorWidth];
  load_rows(at, base, x, x_dtype, v, residual.y, residual.y_dtype, update);
  float sum = 0.f;
#pragma unroll
  for (int k = 0; k < kVecs; ++k) {
    if (!at.live(k)) break;
    if (residual.y) {
      float gate[kVectorWidth];
      if (residual.gate) load8_f32(residual.gate, modulation + at.column(k), gate);
#pragma unroll
      for (int j = 0; j < kVectorWidth; ++j) v[k][j] = gated_residual(v[k][j], update[k][j], residual.gate ? gate[j] : 1.f);
      store8(residual.out, TURBO_F32, base + at.column(k), v[k]);
    }
#pragma unroll
    for (int j = 0; j < kVectorWidth; ++j) sum += v[k][j];
  }
  const float mean = row_sum<kRowThreads>(sum, scratch) / dim;
  float sq = 0.f;
#pragma unroll
  for (int k = 0; k < kVecs; ++k) {
    if (!at.live(k)) break;
#pragma unroll
    for (int j = 0; j < kVectorWidth; ++j) {
      const float d = v[k][j] - mean;
      sq += d * d;
    }
  }
  const float rstd = rsqrtf(row_sum<kRowThreads>(sq, scratch) / dim + eps);
#pragma unroll
  for (int k = 0; k < kVecs; ++k) {
    if (!at.live(k)) break;
    const int c = at.column(k);
    float n[kVectorWidth], w[kVectorWidth], b[kVectorWidth], sc[kVectorWidth], sh[kVectorWidth];
    if (weight) { load8_f32(weight, c, w); load8_f32(bias, c, b); }
    if (scale) { load8_f32(scale, modulation + c, sc); load8_f32(shift, modulation + c, sh); }
#pragma unroll
    for (int j = 0; j < kVectorWidth; ++j) {
      n[j] = (v[k][j] - mean) * rstd;
      if (weight) n[j] = n[j] * w[j] + b[j];
      if (scale) n[j] = n[j] * (1.f + sc[j]) + sh[j];
      if constexpr (kQuantize) v[k][j] = round_through(quant.round_dtype, n[j]);
    }
    if constexpr (!kQuantize) store8(y, y_dtype, base + c, n);
  }
  if constexpr (kQuantize) {
    for (int o = 0; o < quant.count; ++o) {
      const float* smooth = quant.smooth[o];
      float amax = 0.f;
#pragma unroll
      for (int k = 0; k < kVecs; ++k) {  // the smoothed row, kept in update: dividing again in the second pass measured slower
        if (!at.live(k)) break;
        float sm[kVectorWidth];
        if (smooth) load8_f32(smooth, at.column(k), sm);
#pragma unroll
        for (int j = 0; j < kVectorWidth; ++j) {
          update[k][j] = smooth ? __fdiv_rn(v[k][j], sm[j]) : v[k][j];
          amax = fmaxf(amax, fabsf(update[k][j]));
        }
      }
      const float s = int8_row_scale(row_max<kRowThreads>(amax, scratch)), inverse = row_inverse(s);
#pragma unroll
      for (int k = 0; k < kVecs; ++k) {
        if (!at.live(k)) break;
        uint32_t packed[2] = {0u, 0u};
#pragma unroll
        for (int j = 0; j < kVectorWidth; ++j) packed[j / 4] |= static_cast<uint32_t>(int8_encode(__fmul_rn(update[k][j], inverse))) << (8 * (j % 4));
        *reinterpret_cast<uint2*>(quant.q[o] + base + at.column(k)) = make_uint2(packed[0], packed[1]);
      }
      if (at.lane == 0) quant.scale[o][at.row] = s;
    }
  }
}

// The vector kernels take rows of whole 8-element vectors whose every pointer is 16-byte aligned (8-byte for the INT8
// outputs); rows and modulation rows are then too.
bool fits_vectors(const void* x, const ResidualUpdate& residual, const float* weight, const float* bias, const float* shift,
                  const float* scale, const void* y, int dim, const RowQuantizers& quant) {
  if (dim % kVectorWidth != 0 || dim > kMaxVectorRowWidth) return false;
  for (const void* p : {x, residual.y, static_cast<const void*>(residual.gate), static_cast<const void*>(residual.out),
                        static_cast<const void*>(weight), static_cast<const void*>(bias), static_cast<const void*>(shift),
                        static_cast<const void*>(scale), y})
    if (p && !aligned_to(p, 16)) return false;
  for (int o = 0; o < quant.count; ++o)
    if ((quant.smooth[o] && !aligned_to(quant.smooth[o], 16)) || !aligned_to(quant.q[o], 8)) return false;
  return true;
}

template <bool kQuantize>
int run(const char* fn, const void* x, int x_dtype, const ResidualUpdate& residual, const float* weight, const float* bias,
        const float* shift, const float* scale, void* y, int y_dtype, int64_t rows, int64_t tokens, int dim, float eps,
        const RowQuantizers& quant, void* stream) {
  if (!valid_dtype(x_dtype) || !valid_dtype(y_dtype)) { turbo_set_error(fn, "unsupported dtype"); return -1; }
  if (residual.y && (x_dtype != TURBO_F32 || !valid_dtype(residual.y_dtype) || !residual.out)) {
    turbo_set_error(fn, "a residual update needs x in float32, an update of a supported dtype and an output");
    return -1;
  }
  if (dim <= 0 || dim > kThreads * kMaxPerThread) { turbo_set_error(fn, "dim must be in 1..8192"); return -1; }
  if (rows <= 0 || tokens <= 0 || rows % tokens != 0) { turbo_set_error(fn, "rows must be a multiple of tokens"); return -1; }
  if ((weight == nullptr) != (bias == nullptr) || (shift == nullptr) != (scale == nullptr)) {
    turbo_set_error(fn, "weight/bias and shift/scale come in pairs");
    return -1;
  }
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (!fits_vectors(x, residual, weight, bias, shift, scale, y, dim, quant)) {
    layernorm_modulate_kernel<kQuantize><<<static_cast<unsigned>(rows), kThreads, 0, s>>>(
        x, x_dtype, residual, weight, bias, shift, scale, y, y_dtype, tokens, dim, eps, quant);
    return TURBO_LAUNCH_CHECK(fn);
  }
  launch_vector_rows(dim, rows, [&](auto vecs, auto row_threads, unsigned blocks, int threads) {
    layernorm_modulate_rows_kernel<decltype(vecs)::value, decltype(row_threads)::value, kQuantize><<<blocks, threads, 0, s>>>(
        x, x_dtype, residual, weight, bias, shift, scale, y, y_dtype, rows, tokens, dim, eps, quant);
  });
  return TURBO_LAUNCH_CHECK(fn);
}
}  // namespace

extern "C" int turbo_layernorm_modulate(const void* x, int x_dtype, const float* weight, const float* bias,
                                        const float* shift, const float* scale, void* y, int y_dtype,
                                        int64_t rows, int64_t tokens, int dim, float eps, void* stream) {
  return run<false>("turbo_layernorm_modulate", x, x_dtype, ResidualUpdate{}, weight, bias, shift, scale, y, y_dtype, rows,
                    tokens, dim, eps, RowQuantizers{}, stream);
}

extern "C" int turbo_residual_layernorm_modulate(const float* x, const void* update, int update_dtype, const float* gate,
                                                 float* x_out, const float* weight, const float* bias, const float* shift,
                                                 const float* scale, void* y, int y_dtype, int64_t rows, int64_t tokens,
                                                 int dim, float eps, void* stream) {
  const char* fn = "turbo_residual_layernorm_modulate";
  if (!update) { turbo_set_error(fn, "the update is required"); return -1; }
  return run<false>(fn, x, TURBO_F32, ResidualUpdate{update, update_dtype, gate, x_out}, weight, bias, shift, scale, y,
                    y_dtype, rows, tokens, dim, eps, RowQuantizers{}, stream);
}

namespace {
int layernorm_quantize(const char* fn, const void* x, int x_dtype, const ResidualUpdate& residual, const float* weight,
                       const float* bias, const float* shift, const float* scale, int round_dtype, int count,
                       const float* const* smooth, int8_t* const* q, float* const* q_scale, int64_t rows, int64_t tokens,
                       int dim, float eps, void* stream) {
  if (count < 1 || count > kMaxLayerNormQuantizers || !smooth || !q || !q_scale) {
    turbo_set_error(fn, "count must be in 1..3, with a smoothing (or NULL), an output and a scale array entry each");
    return -1;
  }
  RowQuantizers quant{count, round_dtype, {}, {}, {}};
  for (int o = 0; o < count; ++o) {
    if (!q[o] || !q_scale[o]) { turbo_set_error(fn, "every output needs its values and scales"); return -1; }
    quant.smooth[o] = smooth[o];
    quant.q[o] = q[o];
    quant.scale[o] = q_scale[o];
  }
  return run<true>(fn, x, x_dtype, residual, weight, bias, shift, scale, nullptr, round_dtype, rows, tokens, dim, eps, quant,
                   stream);
}
}  // namespace

extern "C" int turbo_int8_layernorm_quantize(const void* x, int x_dtype, const float* weight, const float* bias,
                                             const float* shift, const float* scale, int round_dtype, int count,
                                             const float* const* smooth, int8_t* const* q, float* const* q_scale,
                                             int64_t rows, int64_t tokens, int dim, float eps, void* stream) {
  return layernorm_quantize("turbo_int8_layernorm_quantize", x, x_dtype, ResidualUpdate{}, weight, bias, shift, scale,
                            round_dtype, count, smooth, q, q_scale, rows, tokens, dim, eps, stream);
}

extern "C" int turbo_int8_residual_layernorm_quantize(const float* x, const void* update, int update_dtype, const float* gate,
                                                      float* x_out, const float* weight, const float* bias,
                                                      const float* shift, const float* scale, int round_dtype, int count,
                                                      const float* const* smooth, int8_t* const* q, float* const* q_scale,
                                                      int64_t rows, int64_t tokens, int dim, float eps, void* stream) {
  const char* fn = "turbo_int8_residual_layernorm_quantize";
  if (!update) { turbo_set_error(fn, "the update is required"); return -1; }
  return layernorm_quantize(fn, x, TURBO_F32, ResidualUpdate{update, update_dtype, gate, x_out}, weight, bias, shift, scale,
                            round_dtype, count, smooth, q, q_scale, rows, tokens, dim, eps, stream);
}

// The middle of a W8A8 feed-forward block in one pass, where the first Linear's product comes from cuBLASLt as INT32
// (on Hopper the wgmma kernel writes the hidden activations with its epilogue instead, and the GELU variant of
// quantize_rows.cu finishes the middle: Int8FeedForward). The first Linear's INT32 product is rescaled (its epilogue),
// rounded to the model's dtype, passed through GELU (tanh form) and quantized per token for the second Linear —
// instead of writing the hidden activations, reading them for GELU, writing them again and reading them a third time
// for the quantization. Reference: Turbo.Runtime.Quant.QuantizedLinear (ReferenceGemm, then WanMlp.GeluTanh in the
// model dtype, then QuantizeInput):
//   h = dtype(fp32(acc)·sx·sw (+ bias))         as turbo_int8_dequantize, rounded to hidden_dtype
//   g = dtype(0.5·h·(1 + tanh(√(2/π)·(h + 0.044715·h³))))   PyTorch's formula, in float32
//   v = g / smooth; scale = absmax(v) / 127 (1 for a zero row); q = clamp(round_half_even(v · (1/scale)), ±127)
// Everything but tanh is the reference's arithmetic step for step; tanh here (tanh_fast) may differ from the CPU's in
// the last bits, which can move a g by one step of the model dtype and a code by one (`turbo check-int8` measures
// this: at most one code, in at most one value in a thousand).
// One block per row, two passes: the first computes each v (rescale, GELU, smoothing division — the expensive part)
// and the absmax, the second quantizes. Rows of up to kMaxResidentColumns (4-aligned) stay in registers: each thread
// reads all of its accumulators before it uses any (the row's reads in flight together, not one loop step's), turns
// them into v in place and quantizes them once the row's absmax is known. Longer rows keep v in shared memory
// between the passes where it fits (n ≤ kMaxCachedColumns); otherwise the second pass recomputes v from the
// accumulators (read again, from L2).
#include <cstdint>
#include "int8_common.cuh"

namespace {
constexpr int kThreads = 256;
// Largest row kept in shared memory between the passes: 160 KB of float32, within Hopper's and Ampere's opt-in limits.
constexpr int kMaxCachedColumns = 40 * 1024;

// The value v of one hidden element (column c of a row whose accumulators start at acc).
__device__ __forceinline__ float hidden_value(int acc, float sx, const float* __restrict__ w_scale, const float* __restrict__ bias,
                                              const float* __restrict__ smooth, int dtype, int c) {
  const float h = round_through(dtype, int8_add_bias(int8_rescale(acc, sx, w_scale[c]), bias, c));
  const float g = round_through(dtype, gelu_tanh(h));
  return activation_smoothed(g, smooth, c);
}

__device__ __forceinline__ int8_t quantize_one(float v, float inverse) { return static_cast<int8_t>(int8_encode(__fmul_rn(v, inverse))); }

// Most vectors of 4 accumulators a thread of the resident kernel holds: rows up to 4 · 16 · 256 columns.
constexpr int kMaxResidentVecs = 16, kMaxResidentColumns = 4 * kMaxResidentVecs * kThreads;

// A 4-aligned row of up to 4 · kVecs · blockDim.x columns, held in registers (see the top of the file).
template <int kVecs>
__global__ void __launch_bounds__(kThreads)
    gelu_requantize_resident_kernel(const int32_t* __restrict__ acc, const float* __restrict__ x_scale,
                                    const float* __restrict__ w_scale, const float* __restrict__ bias, int dtype,
                                    const float* __restrict__ smooth, int8_t* __restrict__ q, float* __restrict__ scale,
                                    int n) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const int32_t* a = acc + row * n;
  auto column = [&](int i) { return (i * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x)) * 4; };
  int4 raw[kVecs];
#pragma unroll
  for (int i = 0; i < kVecs; ++i)
    if (column(i) < n) raw[i] = *reinterpret_cast<const int4*>(a + column(i));
  const float sx = x_scale[row];
  float v[kVecs][4];
  float amax = 0.f;
#pragma unroll
  for (int i = 0; i < kVecs; ++i) {
    const int c = column(i);
    if (c < n) {
      const int accs[4] = {raw[i].x, raw[i].y, raw[i].z, raw[i].w};
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        v[i][j] = hidden_value(accs[j], sx, w_scale, bias, smooth, dtype, c + j);
        amax = fmaxf(amax, fabsf(v[i][j]));
      }
    }
  }
  amax = block_max(amax, scratch);
  const float s = int8_row_scale(amax), inverse = row_inverse(s);
#pragma unroll
  for (int i = 0; i < kVecs; ++i) {
    const int c = column(i);
    if (c < n) {
      char4 packed;
      packed.x = quantize_one(v[i][0], inverse);
      packed.y = quantize_one(v[i][1], inverse);
      packed.z = quantize_one(v[i][2], inverse);
      packed.w = quantize_one(v[i][3], inverse);
      *reinterpret_cast<char4*>(q + row * n + c) = packed;
    }
  }
  if (threadIdx.x == 0) scale[row] = s;
}

// kVector: n % 4 == 0 and acc 16-byte, q 4-byte aligned (so every row is), four columns per thread and step.
// kCached: the row's v kept in dynamic shared memory (n floats) between the passes.
template <bool kVector, bool kCached>
__global__ void gelu_requantize_kernel(const int32_t* __restrict__ acc, const float* __restrict__ x_scale,
                                       const float* __restrict__ w_scale, const float* __restrict__ bias, int dtype,
                                       const float* __restrict__ smooth, int8_t* __restrict__ q, float* __restrict__ scale,
                                       int n) {
  __shared__ float scratch[32];
  extern __shared__ __align__(16) float cached[];  // float4 accesses
  const int64_t row = blockIdx.x;
  const int32_t* a = acc + row * n;
  const float sx = x_scale[row];
  constexpr int kStep = kVector ? 4 : 1;

  float amax = 0.f;
  for (int c = threadIdx.x * kStep; c < n; c += kThreads * kStep) {
    if (kVector) {
      const int4 i = *reinterpret_cast<const int4*>(a + c);
      const int accs[4] = {i.x, i.y, i.z, i.w};
      float v[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        v[j] = hidden_value(accs[j], sx, w_scale, bias, smooth, dtype, c + j);
        amax = fmaxf(amax, fabsf(v[j]));
      }
      if (kCached) *reinterpret_cast<float4*>(cached + c) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
      const float v = hidden_value(a[c], sx, w_scale, bias, smooth, dtype, c);
      amax = fmaxf(amax, fabsf(v));
      if (kCached) cached[c] = v;
    }
  }
  amax = block_max(amax, scratch);  // its barriers also make `cached` visible to the whole block
  const float s = int8_row_scale(amax), inverse = row_inverse(s);

  int8_t* out = q + row * n;
  for (int c = threadIdx.x * kStep; c < n; c += kThreads * kStep) {
    if (kVector) {
      float v[4];
      if (kCached) {
        const float4 f = *reinterpret_cast<const float4*>(cached + c);
        v[0] = f.x; v[1] = f.y; v[2] = f.z; v[3] = f.w;
      } else {
        const int4 i = *reinterpret_cast<const int4*>(a + c);
        const int accs[4] = {i.x, i.y, i.z, i.w};
#pragma unroll
        for (int j = 0; j < 4; ++j) v[j] = hidden_value(accs[j], sx, w_scale, bias, smooth, dtype, c + j);
      }
      char4 packed;
      packed.x = quantize_one(v[0], inverse);
      packed.y = quantize_one(v[1], inverse);
      packed.z = quantize_one(v[2], inverse);
      packed.w = quantize_one(v[3], inverse);
      *reinterpret_cast<char4*>(out + c) = packed;
    } else {
      out[c] = quantize_one(kCached ? cached[c] : hidden_value(a[c], sx, w_scale, bias, smooth, dtype, c), inverse);
    }
  }
  if (threadIdx.x == 0) scale[row] = s;
}
template <bool kVector, bool kCached>
int launch(const char* fn, const int32_t* acc, const float* x_scale, const float* w_scale, const float* bias, int dtype,
           const float* smooth, int8_t* q, float* scale, int64_t rows, int n, void* stream) {
  const size_t cached_bytes = kCached ? sizeof(float) * static_cast<size_t>(n) : 0;
  // Above 48 KB a kernel must opt in to dynamic shared memory (per device; repeating it is harmless).
  if (cached_bytes > 48 * 1024)
    if (int rc = turbo_check(fn, cudaFuncSetAttribute(gelu_requantize_kernel<kVector, kCached>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                      static_cast<int>(cached_bytes))))
      return rc;
  gelu_requantize_kernel<kVector, kCached><<<static_cast<unsigned>(rows), kThreads, cached_bytes, static_cast<cudaStream_t>(stream)>>>(
      acc, x_scale, w_scale, bias, dtype, smooth, q, scale, n);
  return TURBO_LAUNCH_CHECK(fn);
}

// The resident kernel with the fewest vectors per thread that hold the row (vecs ≤ kMaxResidentVecs), and as many
// threads as that leaves work for.
template <int kVecs>
int launch_resident(const char* fn, int vecs, const int32_t* acc, const float* x_scale, const float* w_scale,
                    const float* bias, int dtype, const float* smooth, int8_t* q, float* scale, int64_t rows, int n,
                    void* stream) {
  if constexpr (kVecs < kMaxResidentVecs)
    if (vecs > kVecs) return launch_resident<kVecs + 1>(fn, vecs, acc, x_scale, w_scale, bias, dtype, smooth, q, scale, rows, n, stream);
  const int threads = ((n / 4 + kVecs - 1) / kVecs + 31) / 32 * 32;
  gelu_requantize_resident_kernel<kVecs><<<static_cast<unsigned>(rows), threads, 0, static_cast<cudaStream_t>(stream)>>>(
      acc, x_scale, w_scale, bias, dtype, smooth, q, scale, n);
  return TURBO_LAUNCH_CHECK(fn);
}
}  // namespace

extern "C" int turbo_int8_gelu_requantize(const int32_t* acc, const float* x_scale, const float* w_scale, const float* bias,
                                          int hidden_dtype, const float* smooth, int8_t* q, float* scale, int64_t rows,
                                          int n, void* stream) {
  const char* fn = "turbo_int8_gelu_requantize";
  if (!valid_dtype(hidden_dtype)) { turbo_set_error(fn, "unsupported hidden dtype"); return -1; }
  if (rows <= 0 || rows > 0x7fffffff || n <= 0 || n > kInt8MaxK) { turbo_set_error(fn, "rows in 1..2^31-1 and n in 1..131072"); return -1; }
  if (!acc || !x_scale || !w_scale || !q || !scale) { turbo_set_error(fn, "acc, x_scale, w_scale, q and scale are required"); return -1; }
  const bool vector = n % 4 == 0 && aligned_to(acc, 16) && aligned_to(q, 4);
  if (vector && n <= kMaxResidentColumns)
    return launch_resident<1>(fn, (n / 4 + kThreads - 1) / kThreads, acc, x_scale, w_scale, bias, hidden_dtype, smooth, q,
                              scale, rows, n, stream);
  const bool cached = n <= kMaxCachedColumns;
  if (vector && cached) return launch<true, true>(fn, acc, x_scale, w_scale, bias, hidden_dtype, smooth, q, scale, rows, n, stream);
  if (vector) return launch<true, false>(fn, acc, x_scale, w_scale, bias, hidden_dtype, smooth, q, scale, rows, n, stream);
  if (cached) return launch<false, true>(fn, acc, x_scale, w_scale, bias, hidden_dtype, smooth, q, scale, rows, n, stream);
  return launch<false, false>(fn, acc, x_scale, w_scale, bias, hidden_dtype, smooth, q, scale, rows, n, stream);
}

// The middle of a W8A8 feed-forward block in one pass: the first Linear's INT32 product is rescaled (its epilogue),
// rounded to the model's dtype, passed through GELU (tanh form) and quantized per token for the second Linear —
// instead of writing the hidden activations, reading them for GELU, writing them again and reading them a third time
// for the quantization. Reference: Turbo.Runtime.Quant.QuantizedLinear (ReferenceGemm, then WanMlp.GeluTanh in the
// model dtype, then QuantizeInput):
//   h = dtype(fp32(acc)·sx·sw (+ bias))         as turbo_int8_dequantize, rounded to hidden_dtype
//   g = dtype(0.5·h·(1 + tanh(√(2/π)·(h + 0.044715·h³))))   PyTorch's formula, in float32
//   v = g / smooth; scale = absmax(v) / 127 (1 for a zero row); q = clamp(round_half_even(v / scale), ±127)
// Everything but tanh is the reference's arithmetic step for step; tanhf may differ from the CPU's tanh in the last
// bit, which can move a g by one step of the model dtype and a code by one (`turbo check-int8` measures this).
// One block per row, two passes over the row's accumulators (absmax, then quantize; the second from L2).
#include <cstdint>
#include "int8_common.cuh"

namespace {
constexpr int kThreads = 256;

__device__ __forceinline__ float to_dtype(float v, int dtype) {
  switch (dtype) {
    case TURBO_BF16: return __bfloat162float(__float2bfloat16_rn(v));
    case TURBO_F16: return __half2float(__float2half_rn(v));
    default: return v;
  }
}

__device__ __forceinline__ float gelu_tanh(float x) {
  const float beta = 0.7978845608028654f;  // √(2/π)
  const float inner = __fmul_rn(beta, __fadd_rn(x, __fmul_rn(0.044715f, __fmul_rn(__fmul_rn(x, x), x))));
  return __fmul_rn(__fmul_rn(0.5f, x), __fadd_rn(1.f, tanhf(inner)));
}

// The value v of one hidden element (column c of a row whose accumulators start at acc).
__device__ __forceinline__ float hidden_value(int acc, float sx, const float* __restrict__ w_scale, const float* __restrict__ bias,
                                              const float* __restrict__ smooth, int dtype, int c) {
  const float h = to_dtype(int8_add_bias(int8_rescale(acc, sx, w_scale[c]), bias, c), dtype);
  const float g = to_dtype(gelu_tanh(h), dtype);
  return smooth ? __fdiv_rn(g, smooth[c]) : g;
}

__device__ __forceinline__ int8_t quantize_one(float v, float scale) {
  const int q = __float2int_rn(__fdiv_rn(v, scale));
  return static_cast<int8_t>(max(-127, min(127, q)));
}

// kVector: n % 4 == 0 and acc 16-byte, q 4-byte aligned (so every row is), four columns per thread and step.
template <bool kVector>
__global__ void gelu_requantize_kernel(const int32_t* __restrict__ acc, const float* __restrict__ x_scale,
                                       const float* __restrict__ w_scale, const float* __restrict__ bias, int dtype,
                                       const float* __restrict__ smooth, int8_t* __restrict__ q, float* __restrict__ scale,
                                       int n) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const int32_t* a = acc + row * n;
  const float sx = x_scale[row];
  constexpr int kStep = kVector ? 4 : 1;

  float amax = 0.f;
  for (int c = threadIdx.x * kStep; c < n; c += kThreads * kStep) {
    if (kVector) {
      const int4 v = *reinterpret_cast<const int4*>(a + c);
      const int accs[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int j = 0; j < 4; ++j) amax = fmaxf(amax, fabsf(hidden_value(accs[j], sx, w_scale, bias, smooth, dtype, c + j)));
    } else {
      amax = fmaxf(amax, fabsf(hidden_value(a[c], sx, w_scale, bias, smooth, dtype, c)));
    }
  }
  amax = block_max(amax, scratch);
  const float s = amax > 0.f ? __fdiv_rn(amax, 127.f) : 1.f;

  int8_t* out = q + row * n;
  for (int c = threadIdx.x * kStep; c < n; c += kThreads * kStep) {
    if (kVector) {
      const int4 v = *reinterpret_cast<const int4*>(a + c);
      const int accs[4] = {v.x, v.y, v.z, v.w};
      char4 packed;
      packed.x = quantize_one(hidden_value(accs[0], sx, w_scale, bias, smooth, dtype, c), s);
      packed.y = quantize_one(hidden_value(accs[1], sx, w_scale, bias, smooth, dtype, c + 1), s);
      packed.z = quantize_one(hidden_value(accs[2], sx, w_scale, bias, smooth, dtype, c + 2), s);
      packed.w = quantize_one(hidden_value(accs[3], sx, w_scale, bias, smooth, dtype, c + 3), s);
      *reinterpret_cast<char4*>(out + c) = packed;
    } else {
      out[c] = quantize_one(hidden_value(a[c], sx, w_scale, bias, smooth, dtype, c), s);
    }
  }
  if (threadIdx.x == 0) scale[row] = s;
}
}  // namespace

extern "C" int turbo_int8_gelu_requantize(const int32_t* acc, const float* x_scale, const float* w_scale, const float* bias,
                                          int hidden_dtype, const float* smooth, int8_t* q, float* scale, int64_t rows,
                                          int n, void* stream) {
  const char* fn = "turbo_int8_gelu_requantize";
  if (!valid_dtype(hidden_dtype)) { turbo_set_error(fn, "unsupported hidden dtype"); return -1; }
  if (rows <= 0 || rows > 0x7fffffff || n <= 0 || n > kInt8MaxK) { turbo_set_error(fn, "rows in 1..2^31-1 and n in 1..131072"); return -1; }
  if (!acc || !x_scale || !w_scale || !q || !scale) { turbo_set_error(fn, "acc, x_scale, w_scale, q and scale are required"); return -1; }
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (n % 4 == 0 && aligned_to(acc, 16) && aligned_to(q, 4))
    gelu_requantize_kernel<true><<<static_cast<unsigned>(rows), kThreads, 0, s>>>(acc, x_scale, w_scale, bias, hidden_dtype, smooth, q, scale, n);
  else
    gelu_requantize_kernel<false><<<static_cast<unsigned>(rows), kThreads, 0, s>>>(acc, x_scale, w_scale, bias, hidden_dtype, smooth, q, scale, n);
  return TURBO_LAUNCH_CHECK(fn);
}

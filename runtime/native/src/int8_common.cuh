// Shared by the W8A8 kernels: the epilogue arithmetic, in the one order the reference uses
// (Turbo.Runtime.Quant.ReferenceGemm), and stores of one or two adjacent outputs of any output type.
#pragma once
#include <cstdint>
#include "common.cuh"

// Largest k an INT32 accumulator takes without overflow: k·127² < 2³¹ (the reference's MaxInFeatures, 2¹⁷).
constexpr int kInt8MaxK = 1 << 17;

// Most layers one normalized row is quantized for at once (turbo_int8_layernorm_quantize): a block's q, k and v.
constexpr int kMaxLayerNormQuantizers = 3;

// fp32(acc)·sx·sw, each step rounded to float32 on its own. The _rn intrinsics are never contracted into an FMA,
// which would round once instead of twice and differ from the reference in the last bit.
__device__ __forceinline__ float int8_rescale(int acc, float sx, float sw) {
  return __fmul_rn(__fmul_rn(__int2float_rn(acc), sx), sw);
}

// The activation quantizer's steps (Turbo.Runtime.Quant.ActivationQuantizer after QuantizedLinear's smoothing):
// v = x / smooth (IEEE division, none without smoothing); q = clamp(round_half_even(v · (1/scale)), -127, 127), the
// float32 product with the float32 reciprocal of the row's scale (one division a row, not one a value).
__device__ __forceinline__ float activation_smoothed(float v, const float* smooth, int col) {
  return smooth ? __fdiv_rn(v, smooth[col]) : v;
}

__device__ __forceinline__ uint8_t int8_encode(float scaled) {
  const int q = __float2int_rn(scaled);  // round half to even, as torch.round
  return static_cast<uint8_t>(static_cast<int8_t>(max(-127, min(127, q))));
}

// A row's scale from its largest |v|: absmax / 127, or 1 for an all-zero row.
__device__ __forceinline__ float int8_row_scale(float amax) { return amax > 0.f ? __fdiv_rn(amax, 127.f) : 1.f; }

// What a row's values are multiplied by before rounding: the correctly rounded float32 reciprocal of its scale.
__device__ __forceinline__ float row_inverse(float scale) { return __frcp_rn(scale); }

// tanh(u) = 1 − 2 / (1 + e^{2u}) on the special-function unit's 2^x and reciprocal (both within 2 ulp, flushing
// denormals): no branch, against tanhf's two ranges, which split the warps of a row. Its error is a few units of
// float32's last place near 0 and ±1 — far below the bf16 step that g is rounded to next; ±∞ and NaN come out as
// ±1 and NaN.
__device__ __forceinline__ float tanh_fast(float u) {
  constexpr float kTwoLog2E = 2.885390081777927f;  // 2·log2(e)
  const float e = exp2_approx(u * kTwoLog2E);
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(1.f + e));
  return fmaf(-2.f, r, 1.f);
}

// GELU, tanh form, as PyTorch's formula in float32 (the feed-forward middle of a W8A8 block):
//   0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), each step rounded on its own but tanh (tanh_fast).
__device__ __forceinline__ float gelu_tanh(float x) {
  const float beta = 0.7978845608028654f;  // √(2/π)
  const float inner = __fmul_rn(beta, __fadd_rn(x, __fmul_rn(0.044715f, __fmul_rn(__fmul_rn(x, x), x))));
  return __fmul_rn(__fmul_rn(0.5f, x), __fadd_rn(1.f, tanh_fast(inner)));
}

__device__ __forceinline__ float int8_add_bias(float y, const float* bias, int col) {
  return bias ? __fadd_rn(y, bias[col]) : y;
}

__device__ __forceinline__ void store_one(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_one(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }
__device__ __forceinline__ void store_one(__half* p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void store_one(int32_t* p, int v) { *p = v; }

// Two adjacent outputs in one store; p must be aligned to the pair's size.
__device__ __forceinline__ void store_pair(float* p, float a, float b) { *reinterpret_cast<float2*>(p) = make_float2(a, b); }
__device__ __forceinline__ void store_pair(__nv_bfloat16* p, float a, float b) {
  *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(a, b);
}
__device__ __forceinline__ void store_pair(__half* p, float a, float b) {
  *reinterpret_cast<__half2*>(p) = __floats2half2_rn(a, b);
}
__device__ __forceinline__ void store_pair(int32_t* p, int a, int b) { *reinterpret_cast<int2*>(p) = make_int2(a, b); }

// Outputs (row, col) and (row, col + 1) of y [rows, n] — the second only where col + 1 < n — as one vector store
// where n is even (then every pair at an even column is aligned for it).
template <typename OutT, typename V>
__device__ __forceinline__ void store_output_pair(OutT* y, int64_t row, int col, int n, V a, V b) {
  OutT* out = y + row * n + col;
  const bool second = col + 1 < n;
  if (second && n % 2 == 0) {
    store_pair(out, a, b);
  } else {
    store_one(out, a);
    if (second) store_one(out + 1, b);
  }
}

// The operand checks of the bundled GEMM kernels (mma, wgmma): 128 × 128 tiles, k-contiguous rows copied 16 bytes at
// a time. Returns 0 when the shapes and operands suit them, else sets the error and returns -1.
inline int int8_tiled_operands(const char* fn, const int8_t* x, const int8_t* w, const void* y, int64_t rows, int n, int k) {
  if (rows <= 0 || n <= 0 || k <= 0) { turbo_set_error(fn, "rows, n and k must be positive"); return -1; }
  if (k % 16 != 0 || k > kInt8MaxK) { turbo_set_error(fn, "k must be a multiple of 16 and at most 131072"); return -1; }
  if (!x || !w || !y) { turbo_set_error(fn, "x, w and the output are required"); return -1; }
  if (!aligned_to(x, 16) || !aligned_to(w, 16) || !aligned_to(y, 16)) {
    turbo_set_error(fn, "x, w and the output must be 16-byte aligned");
    return -1;
  }
  if (((rows + 127) / 128) * ((n + 127) / 128) > 0x7fffffff) { turbo_set_error(fn, "too many tiles"); return -1; }
  return 0;
}

// acc[rows, n] = x·wᵀ in INT32 through cuBLASLt (gemm_cublaslt.cu) and through the wgmma kernel (int8_gemm_wgmma.cu).
int int8_cublaslt_i32(const int8_t* x, const int8_t* w, int32_t* acc, int64_t rows, int n, int k, cudaStream_t stream);
int int8_wgmma_i32(const int8_t* x, const int8_t* w, int32_t* acc, int64_t rows, int n, int k, cudaStream_t stream);


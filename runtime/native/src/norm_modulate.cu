// LayerNorm (optionally affine) fused with Wan's adaptive modulation: y = LN(x)·(1+scale)+shift.
// Reference: Turbo.Runtime.Native.FusedOps.LayerNormModulateReference. One block per row; each thread keeps
// its elements in registers so x is read once (two-pass mean/variance in fp32, as torch's LayerNorm).
#include "common.cuh"

namespace {
constexpr int kThreads = 256;
constexpr int kMaxPerThread = 32;  // dim <= 8192

__global__ void layernorm_modulate_kernel(const void* __restrict__ x, int x_dtype, const float* __restrict__ weight,
                                          const float* __restrict__ bias, const float* __restrict__ shift,
                                          const float* __restrict__ scale, void* __restrict__ y, int y_dtype,
                                          int64_t tokens, int dim, float eps) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const int64_t base = row * dim;
  float v[kMaxPerThread];
  float sum = 0.f;
#pragma unroll
  for (int k = 0; k < kMaxPerThread; ++k) {
    const int c = threadIdx.x + k * kThreads;
    v[k] = c < dim ? load_as_float(x, x_dtype, base + c) : 0.f;
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
    store_from_float(y, y_dtype, base + c, n);
  }
}
}  // namespace

extern "C" int turbo_layernorm_modulate(const void* x, int x_dtype, const float* weight, const float* bias,
                                        const float* shift, const float* scale, void* y, int y_dtype,
                                        int64_t rows, int64_t tokens, int dim, float eps, void* stream) {
  const char* fn = "turbo_layernorm_modulate";
  if (!valid_dtype(x_dtype) || !valid_dtype(y_dtype)) { turbo_set_error(fn, "unsupported dtype"); return -1; }
  if (dim <= 0 || dim > kThreads * kMaxPerThread) { turbo_set_error(fn, "dim must be in 1..8192"); return -1; }
  if (rows <= 0 || tokens <= 0 || rows % tokens != 0) { turbo_set_error(fn, "rows must be a multiple of tokens"); return -1; }
  if ((weight == nullptr) != (bias == nullptr) || (shift == nullptr) != (scale == nullptr)) {
    turbo_set_error(fn, "weight/bias and shift/scale come in pairs");
    return -1;
  }
  layernorm_modulate_kernel<<<static_cast<unsigned>(rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, x_dtype, weight, bias, shift, scale, y, y_dtype, tokens, dim, eps);
  return TURBO_LAUNCH_CHECK(fn);
}

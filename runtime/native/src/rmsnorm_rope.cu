// RMSNorm over the whole row (across heads, as Wan2.1's q/k norm) times weight, then 3D RoPE on each head's
// interleaved pairs. Reference: Turbo.Runtime.Native.FusedOps.RmsNormRopeReference. One block per token row.
#include "common.cuh"

namespace {
constexpr int kThreads = 256;
constexpr int kMaxPairsPerThread = 16;  // dim <= 8192

__global__ void rmsnorm_rope_kernel(const void* __restrict__ x, const float* __restrict__ weight,
                                    const float* __restrict__ cos_t, const float* __restrict__ sin_t,
                                    void* __restrict__ y, int dtype, int64_t tokens, int dim, int head_dim,
                                    float eps) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const int64_t base = row * dim;
  const int pairs = dim / 2, half_head = head_dim / 2;
  float a[kMaxPairsPerThread], b[kMaxPairsPerThread];
  float sq = 0.f;
#pragma unroll
  for (int k = 0; k < kMaxPairsPerThread; ++k) {
    const int p = threadIdx.x + k * kThreads;
    a[k] = p < pairs ? load_as_float(x, dtype, base + 2 * p) : 0.f;
    b[k] = p < pairs ? load_as_float(x, dtype, base + 2 * p + 1) : 0.f;
    sq += a[k] * a[k] + b[k] * b[k];
  }
  const float rms = rsqrtf(block_sum(sq, scratch) / dim + eps);
  const int64_t token = row % tokens;
#pragma unroll
  for (int k = 0; k < kMaxPairsPerThread; ++k) {
    const int p = threadIdx.x + k * kThreads;
    if (p >= pairs) break;
    const float u = a[k] * rms * weight[2 * p], w = b[k] * rms * weight[2 * p + 1];
    const int j = p % half_head;  // pair index inside the head
    const float c = cos_t[token * half_head + j], s = sin_t[token * half_head + j];
    store_from_float(y, dtype, base + 2 * p, u * c - w * s);
    store_from_float(y, dtype, base + 2 * p + 1, u * s + w * c);
  }
}
}  // namespace

extern "C" int turbo_rmsnorm_rope(const void* x, const float* weight, const float* cos_table, const float* sin_table,
                                  void* y, int dtype, int64_t rows, int64_t tokens, int dim, int head_dim, float eps,
                                  void* stream) {
  const char* fn = "turbo_rmsnorm_rope";
  if (!valid_dtype(dtype)) { turbo_set_error(fn, "unsupported dtype"); return -1; }
  if (dim <= 0 || dim > 2 * kThreads * kMaxPairsPerThread || head_dim <= 0 || head_dim % 2 || dim % head_dim) {
    turbo_set_error(fn, "dim must be in 1..8192 and a multiple of an even head_dim");
    return -1;
  }
  if (rows <= 0 || tokens <= 0 || rows % tokens != 0) { turbo_set_error(fn, "rows must be a multiple of tokens"); return -1; }
  rmsnorm_rope_kernel<<<static_cast<unsigned>(rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, weight, cos_table, sin_table, y, dtype, tokens, dim, head_dim, eps);
  return TURBO_LAUNCH_CHECK(fn);
}

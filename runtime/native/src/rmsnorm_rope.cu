// RMSNorm over the whole row (across heads, as Wan2.1's q/k norm) times weight, then 3D RoPE on each head's
// interleaved pairs. Reference: Turbo.Runtime.Native.FusedOps.RmsNormRopeReference. Rows of up to 2,048 elements in
// multiples of 256 (Wan2.1-1.3B's 1,536) with head_dim a multiple of 8 take one warp each, with 16-byte loads and
// stores (four whole pairs of one head per lane and step); other rows take one block each.
#include "common.cuh"

namespace {
constexpr int kThreads = 256;
constexpr int kMaxPairsPerThread = 16;  // dim <= 8192
constexpr int kWarpsPerBlock = 8;
constexpr int kWarpRowChunk = 32 * kVectorWidth;  // elements a warp covers per step: 256
constexpr int kMaxWarpRowChunks = 8;               // a warp's row holds at most 2,048 elements

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
// One warp per row of kChunks·256 elements: lane l holds elements [(k·32 + l)·8, +8) for k < kChunks, i.e. pairs
// p = (k·32 + l)·4 … p + 3, which lie in one head (head_dim % 8 == 0), so their cos/sin are 4 adjacent table entries.
template <int kChunks>
__global__ void rmsnorm_rope_warp_kernel(const void* __restrict__ x, const float* __restrict__ weight,
                                         const float* __restrict__ cos_t, const float* __restrict__ sin_t,
                                         void* __restrict__ y, int dtype, int64_t rows, int64_t tokens, int head_dim,
                                         float eps) {
  constexpr int dim = kChunks * kWarpRowChunk;
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (row >= rows) return;  // whole warps leave together, so the shuffles below see full warps
  const int64_t base = row * dim;
  const int half_head = head_dim / 2;
  float v[kChunks][kVectorWidth];
  float sq = 0.f;
#pragma unroll
  for (int k = 0; k < kChunks; ++k) {
    load8(x, dtype, base + (k * 32 + lane) * kVectorWidth, v[k]);
#pragma unroll
    for (int j = 0; j < kVectorWidth; j += 2) sq += v[k][j] * v[k][j] + v[k][j + 1] * v[k][j + 1];
  }
  const float rms = rsqrtf(warp_sum(sq) / dim + eps);
  const int64_t table_row = row % tokens * half_head;
#pragma unroll
  for (int k = 0; k < kChunks; ++k) {
    const int c = (k * 32 + lane) * kVectorWidth;
    const int first_pair = c / 2 % half_head;  // the pair index inside the head of this lane's first pair
    float w[kVectorWidth], out[kVectorWidth];
    load8_f32(weight, c, w);
    const float4 cos4 = *reinterpret_cast<const float4*>(cos_t + table_row + first_pair);
    const float4 sin4 = *reinterpret_cast<const float4*>(sin_t + table_row + first_pair);
    const float cs[4] = {cos4.x, cos4.y, cos4.z, cos4.w}, sn[4] = {sin4.x, sin4.y, sin4.z, sin4.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float u = v[k][2 * i] * rms * w[2 * i], t = v[k][2 * i + 1] * rms * w[2 * i + 1];
      out[2 * i] = u * cs[i] - t * sn[i];
      out[2 * i + 1] = u * sn[i] + t * cs[i];
    }
    store8(y, dtype, base + c, out);
  }
}

template <int kChunks>
void launch_warp_rows(const void* x, const float* weight, const float* cos_t, const float* sin_t, void* y, int dtype,
                      int64_t rows, int64_t tokens, int head_dim, float eps, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  rmsnorm_rope_warp_kernel<kChunks><<<blocks, kWarpsPerBlock * 32, 0, stream>>>(
      x, weight, cos_t, sin_t, y, dtype, rows, tokens, head_dim, eps);
}

bool fits_warp_rows(const void* x, const float* weight, const float* cos_t, const float* sin_t, const void* y, int dim,
                    int head_dim) {
  if (dim % kWarpRowChunk != 0 || dim / kWarpRowChunk > kMaxWarpRowChunks || head_dim % 8 != 0) return false;
  for (const void* p : {x, static_cast<const void*>(weight), static_cast<const void*>(cos_t), static_cast<const void*>(sin_t), y})
    if (!aligned_to(p, 16)) return false;
  return true;
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
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (!fits_warp_rows(x, weight, cos_table, sin_table, y, dim, head_dim)) {
    rmsnorm_rope_kernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(
        x, weight, cos_table, sin_table, y, dtype, tokens, dim, head_dim, eps);
    return TURBO_LAUNCH_CHECK(fn);
  }
  switch (dim / kWarpRowChunk) {
    case 1: launch_warp_rows<1>(x, weight, cos_table, sin_table, y, dtype, rows, tokens, head_dim, eps, s); break;
    case 2: launch_warp_rows<2>(x, weight, cos_table, sin_table, y, dtype, rows, tokens, head_dim, eps, s); break;
    case 3: launch_warp_rows<3>(x, weight, cos_table, sin_table, y, dtype, rows, tokens, head_dim, eps, s); break;
    case 4: launch_warp_rows<4>(x, weight, cos_table, sin_table, y, dtype, rows, tokens, head_dim, eps, s); break;
    case 5: launch_warp_rows<5>(x, weight, cos_table, sin_table, y, dtype, rows, tokens, head_dim, eps, s); break;
    case 6: launch_warp_rows<6>(x, weight, cos_table, sin_table, y, dtype, rows, tokens, head_dim, eps, s); break;
    case 7: launch_warp_rows<7>(x, weight, cos_table, sin_table, y, dtype, rows, tokens, head_dim, eps, s); break;
    default: launch_warp_rows<8>(x, weight, cos_table, sin_table, y, dtype, rows, tokens, head_dim, eps, s); break;
  }
  return TURBO_LAUNCH_CHECK(fn);
}

// LayerNorm (optionally affine) fused with Wan's adaptive modulation: y = LN(x)·(1+scale)+shift.
// Reference: Turbo.Runtime.Native.FusedOps.LayerNormModulateReference. Each row's elements stay in registers so x is
// read once (two-pass mean/variance in fp32, as torch's LayerNorm). Rows of up to 2,048 elements in multiples of 256
// (Wan2.1-1.3B's 1,536) take one warp each with 16-byte loads and stores: a 256-thread block per row is too little
// work to hide memory latency there. Other rows take one block each.
#include "common.cuh"

namespace {
constexpr int kThreads = 256;
constexpr int kMaxPerThread = 32;  // dim <= 8192
constexpr int kWarpsPerBlock = 8;
constexpr int kWarpRowChunk = 32 * kVectorWidth;  // elements a warp covers per step: 256
constexpr int kMaxWarpRowChunks = 8;               // a warp's row holds at most 2,048 elements

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
// One warp per row of kChunks·256 elements: lane l holds elements [(k·32 + l)·8, +8) for k < kChunks, so each step
// of the warp reads 32 adjacent 16-byte pieces. weight/bias and shift/scale rows are read the same way.
template <int kChunks>
__global__ void layernorm_modulate_warp_kernel(const void* __restrict__ x, int x_dtype, const float* __restrict__ weight,
                                               const float* __restrict__ bias, const float* __restrict__ shift,
                                               const float* __restrict__ scale, void* __restrict__ y, int y_dtype,
                                               int64_t rows, int64_t tokens, float eps) {
  constexpr int dim = kChunks * kWarpRowChunk;
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (row >= rows) return;  // whole warps leave together, so the shuffles below see full warps
  const int64_t base = row * dim;
  float v[kChunks][kVectorWidth];
  float sum = 0.f;
#pragma unroll
  for (int k = 0; k < kChunks; ++k) {
    load8(x, x_dtype, base + (k * 32 + lane) * kVectorWidth, v[k]);
#pragma unroll
    for (int j = 0; j < kVectorWidth; ++j) sum += v[k][j];
  }
  const float mean = warp_sum(sum) / dim;
  float sq = 0.f;
#pragma unroll
  for (int k = 0; k < kChunks; ++k)
#pragma unroll
    for (int j = 0; j < kVectorWidth; ++j) {
      const float d = v[k][j] - mean;
      sq += d * d;
    }
  const float rstd = rsqrtf(warp_sum(sq) / dim + eps);
  const int64_t modulation = row / tokens * dim;
#pragma unroll
  for (int k = 0; k < kChunks; ++k) {
    const int c = (k * 32 + lane) * kVectorWidth;
    float n[kVectorWidth], w[kVectorWidth], b[kVectorWidth], sc[kVectorWidth], sh[kVectorWidth];
    if (weight) { load8_f32(weight, c, w); load8_f32(bias, c, b); }
    if (scale) { load8_f32(scale, modulation + c, sc); load8_f32(shift, modulation + c, sh); }
#pragma unroll
    for (int j = 0; j < kVectorWidth; ++j) {
      n[j] = (v[k][j] - mean) * rstd;
      if (weight) n[j] = n[j] * w[j] + b[j];
      if (scale) n[j] = n[j] * (1.f + sc[j]) + sh[j];
    }
    store8(y, y_dtype, base + c, n);
  }
}

template <int kChunks>
void launch_warp_rows(const void* x, int x_dtype, const float* weight, const float* bias, const float* shift,
                      const float* scale, void* y, int y_dtype, int64_t rows, int64_t tokens, float eps, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  layernorm_modulate_warp_kernel<kChunks><<<blocks, kWarpsPerBlock * 32, 0, stream>>>(
      x, x_dtype, weight, bias, shift, scale, y, y_dtype, rows, tokens, eps);
}

// The warp kernel takes rows of 256·k elements (k ≤ 8) whose every pointer is 16-byte aligned; rows and modulation
// rows are then too (their lengths are multiples of 256 elements).
bool fits_warp_rows(const void* x, const float* weight, const float* bias, const float* shift, const float* scale,
                    const void* y, int dim) {
  if (dim % kWarpRowChunk != 0 || dim / kWarpRowChunk > kMaxWarpRowChunks) return false;
  for (const void* p : {x, static_cast<const void*>(weight), static_cast<const void*>(bias), static_cast<const void*>(shift),
                        static_cast<const void*>(scale), y})
    if (p && !aligned_to(p, 16)) return false;
  return true;
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
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (!fits_warp_rows(x, weight, bias, shift, scale, y, dim)) {
    layernorm_modulate_kernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(
        x, x_dtype, weight, bias, shift, scale, y, y_dtype, tokens, dim, eps);
    return TURBO_LAUNCH_CHECK(fn);
  }
  switch (dim / kWarpRowChunk) {
    case 1: launch_warp_rows<1>(x, x_dtype, weight, bias, shift, scale, y, y_dtype, rows, tokens, eps, s); break;
    case 2: launch_warp_rows<2>(x, x_dtype, weight, bias, shift, scale, y, y_dtype, rows, tokens, eps, s); break;
    case 3: launch_warp_rows<3>(x, x_dtype, weight, bias, shift, scale, y, y_dtype, rows, tokens, eps, s); break;
    case 4: launch_warp_rows<4>(x, x_dtype, weight, bias, shift, scale, y, y_dtype, rows, tokens, eps, s); break;
    case 5: launch_warp_rows<5>(x, x_dtype, weight, bias, shift, scale, y, y_dtype, rows, tokens, eps, s); break;
    case 6: launch_warp_rows<6>(x, x_dtype, weight, bias, shift, scale, y, y_dtype, rows, tokens, eps, s); break;
    case 7: launch_warp_rows<7>(x, x_dtype, weight, bias, shift, scale, y, y_dtype, rows, tokens, eps, s); break;
    default: launch_warp_rows<8>(x, x_dtype, weight, bias, shift, scale, y, y_dtype, rows, tokens, eps, s); break;
  }
  return TURBO_LAUNCH_CHECK(fn);
}

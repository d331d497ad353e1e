// Per-token INT8 quantization of a linear layer's input (W8A8). Reference:
// Turbo.Runtime.Quant.ActivationQuantizer.PerToken after QuantizedLinear's smoothing division; the kernel computes
// the same float32 operations in the same order, so values and scales agree bit for bit:
//   v = x / smooth (IEEE division, skipped without smoothing), scale = absmax(v) / 127 (1 for an all-zero row),
//   q = clamp(round_half_even(v / scale), -127, 127).
// One warp per row, two passes over the row (absmax, then quantize): the second pass re-reads x from L1/L2 instead of
// holding a row of up to 2^17 values. Memory-bound: read x once (twice from cache), write q and one scale per row.
#include <cstdint>
#include "int8_common.cuh"

namespace {
constexpr int kWarpsPerBlock = 8;

__device__ __forceinline__ float smoothed(float v, const float* smooth, int col) {
  return smooth ? __fdiv_rn(v, smooth[col]) : v;
}

__device__ __forceinline__ int8_t quantize_one(float v, float scale) {
  const int q = __float2int_rn(__fdiv_rn(v, scale));  // round half to even, as torch.round
  return static_cast<int8_t>(max(-127, min(127, q)));
}

// kVectorized: cols % 8 == 0, x 16-byte and q 8-byte aligned (checked by the launcher), so every row is too.
template <bool kVectorized>
__global__ void quantize_rows_kernel(const void* __restrict__ x, int x_dtype, const float* __restrict__ smooth,
                                     int8_t* __restrict__ q, float* __restrict__ scale, int64_t rows, int cols) {
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (row >= rows) return;  // whole warps leave together, so the shuffles below see full warps
  const int64_t base = row * cols;

  float amax = 0.f;
  if (kVectorized) {
#pragma unroll 2
    for (int c = lane * kVectorWidth; c < cols; c += 32 * kVectorWidth) {
      float v[kVectorWidth];
      load8(x, x_dtype, base + c, v);
#pragma unroll
      for (int j = 0; j < kVectorWidth; ++j) amax = fmaxf(amax, fabsf(smoothed(v[j], smooth, c + j)));
    }
  } else {
    for (int c = lane; c < cols; c += 32)
      amax = fmaxf(amax, fabsf(smoothed(load_as_float(x, x_dtype, base + c), smooth, c)));
  }
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const float s = amax > 0.f ? __fdiv_rn(amax, 127.f) : 1.f;

  if (kVectorized) {
#pragma unroll 2
    for (int c = lane * kVectorWidth; c < cols; c += 32 * kVectorWidth) {
      float v[kVectorWidth];
      load8(x, x_dtype, base + c, v);
      uint32_t packed[2] = {0u, 0u};
#pragma unroll
      for (int j = 0; j < kVectorWidth; ++j) {
        const uint32_t byte = static_cast<uint8_t>(quantize_one(smoothed(v[j], smooth, c + j), s));
        packed[j / 4] |= byte << (8 * (j % 4));
      }
      *reinterpret_cast<uint2*>(q + base + c) = make_uint2(packed[0], packed[1]);
    }
  } else {
    for (int c = lane; c < cols; c += 32)
      q[base + c] = quantize_one(smoothed(load_as_float(x, x_dtype, base + c), smooth, c), s);
  }
  if (lane == 0) scale[row] = s;
}
}  // namespace

extern "C" int turbo_int8_quantize_rows(const void* x, int x_dtype, const float* smooth, int8_t* q, float* scale,
                                        int64_t rows, int cols, void* stream) {
  const char* fn = "turbo_int8_quantize_rows";
  if (!valid_dtype(x_dtype)) { turbo_set_error(fn, "unsupported dtype"); return -1; }
  if (rows <= 0 || cols <= 0 || cols > kInt8MaxK) { turbo_set_error(fn, "rows must be positive and cols in 1..131072"); return -1; }
  if (!x || !q || !scale) { turbo_set_error(fn, "x, q and scale are required"); return -1; }
  const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  if (blocks > 0x7fffffff) { turbo_set_error(fn, "too many rows"); return -1; }
  const bool vectorized = cols % kVectorWidth == 0 && aligned_to(x, 16) && aligned_to(q, 8);
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (vectorized)
    quantize_rows_kernel<true><<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, s>>>(x, x_dtype, smooth, q, scale, rows, cols);
  else
    quantize_rows_kernel<false><<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, s>>>(x, x_dtype, smooth, q, scale, rows, cols);
  return TURBO_LAUNCH_CHECK(fn);
}

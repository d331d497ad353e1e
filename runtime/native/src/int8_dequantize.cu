// The W8A8 epilogue as a kernel of its own, for INT32 accumulators that come from cuBLASLt:
// y[m, n] = fp32(acc[m, n])·x_scale[m]·w_scale[n] (+ bias[n]), in the reference's order (int8_common.cuh).
// Memory-bound: one INT32 read and one output write per element. Threads walk a row's channels (coalesced,
// no index division), four adjacent channels each with 16-byte loads where n % 4 == 0 and the pointers are aligned
// (every Wan layer), else one; blocks stride over rows.
#include <cstdint>
#include "int8_common.cuh"

namespace {
constexpr int kThreads = 256;
constexpr int kMaxRowBlocks = 8192;

template <typename OutT>
__global__ void dequantize_kernel(const int32_t* __restrict__ acc, const float* __restrict__ x_scale,
                                  const float* __restrict__ w_scale, const float* __restrict__ bias,
                                  OutT* __restrict__ y, int64_t rows, int n) {
  const int col = blockIdx.x * kThreads + threadIdx.x;
  if (col >= n) return;
  const float sw = w_scale[col];
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const int64_t i = row * n + col;
    store_one(y + i, int8_add_bias(int8_rescale(acc[i], x_scale[row], sw), bias, col));
  }
}

// Four adjacent outputs in one store (p aligned to their size).
__device__ __forceinline__ void store_four(float* p, const float (&v)[4]) { *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]); }
__device__ __forceinline__ void store_four(__nv_bfloat16* p, const float (&v)[4]) {
  const __nv_bfloat162 lo = __floats2bfloat162_rn(v[0], v[1]), hi = __floats2bfloat162_rn(v[2], v[3]);
  *reinterpret_cast<uint2*>(p) = make_uint2(*reinterpret_cast<const uint32_t*>(&lo), *reinterpret_cast<const uint32_t*>(&hi));
}
__device__ __forceinline__ void store_four(__half* p, const float (&v)[4]) {
  const __half2 lo = __floats2half2_rn(v[0], v[1]), hi = __floats2half2_rn(v[2], v[3]);
  *reinterpret_cast<uint2*>(p) = make_uint2(*reinterpret_cast<const uint32_t*>(&lo), *reinterpret_cast<const uint32_t*>(&hi));
}

// As dequantize_kernel, four channels per thread: the same arithmetic per element, so the same bits.
template <typename OutT>
__global__ void dequantize_vector_kernel(const int32_t* __restrict__ acc, const float* __restrict__ x_scale,
                                         const float* __restrict__ w_scale, const float* __restrict__ bias,
                                         OutT* __restrict__ y, int64_t rows, int n) {
  const int col = (blockIdx.x * kThreads + threadIdx.x) * 4;
  if (col >= n) return;
  const float4 sw = *reinterpret_cast<const float4*>(w_scale + col);
  const float sws[4] = {sw.x, sw.y, sw.z, sw.w};
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const int64_t i = row * n + col;
    const int4 a = *reinterpret_cast<const int4*>(acc + i);
    const int accs[4] = {a.x, a.y, a.z, a.w};
    const float sx = x_scale[row];
    float out[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) out[j] = int8_add_bias(int8_rescale(accs[j], sx, sws[j]), bias, col + j);
    store_four(y + i, out);
  }
}

template <typename OutT>
int launch(const int32_t* acc, const float* x_scale, const float* w_scale, const float* bias, OutT* y, int64_t rows,
           int n, cudaStream_t stream, const char* fn) {
  const bool vector = n % 4 == 0 && aligned_to(acc, 16) && aligned_to(w_scale, 16) && aligned_to(y, 4 * sizeof(OutT));
  const int per_thread = vector ? 4 : 1;
  const dim3 grid(static_cast<unsigned>((n / per_thread + kThreads - 1) / kThreads),
                  static_cast<unsigned>(rows < kMaxRowBlocks ? rows : kMaxRowBlocks));
  if (vector)
    dequantize_vector_kernel<OutT><<<grid, kThreads, 0, stream>>>(acc, x_scale, w_scale, bias, y, rows, n);
  else
    dequantize_kernel<OutT><<<grid, kThreads, 0, stream>>>(acc, x_scale, w_scale, bias, y, rows, n);
  return TURBO_LAUNCH_CHECK(fn);
}
}  // namespace

extern "C" int turbo_int8_dequantize(const int32_t* acc, const float* x_scale, const float* w_scale, const float* bias,
                                     void* y, int y_dtype, int64_t rows, int n, void* stream) {
  const char* fn = "turbo_int8_dequantize";
  if (!valid_dtype(y_dtype)) { turbo_set_error(fn, "unsupported output dtype"); return -1; }
  if (rows <= 0 || n <= 0) { turbo_set_error(fn, "rows and n must be positive"); return -1; }
  if (!acc || !x_scale || !w_scale || !y) { turbo_set_error(fn, "acc, x_scale, w_scale and y are required"); return -1; }
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (y_dtype) {
    case TURBO_BF16: return launch(acc, x_scale, w_scale, bias, static_cast<__nv_bfloat16*>(y), rows, n, s, fn);
    case TURBO_F16: return launch(acc, x_scale, w_scale, bias, static_cast<__half*>(y), rows, n, s, fn);
    default: return launch(acc, x_scale, w_scale, bias, static_cast<float*>(y), rows, n, s, fn);
  }
}

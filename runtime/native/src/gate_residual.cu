// Gated residual update of Wan blocks: out = x + y · gate[b] (gate NULL: x + y, cross-attention's) on the fp32
// residual stream (out may alias x), one rounding (gated_residual; the reference rounds the product and the sum, a
// float32 ulp apart at most).
// Reference: Turbo.Runtime.Native.FusedOps.GateResidualReference. Grid-stride (pure bandwidth): 8 elements per thread
// and step with 16-byte loads and stores where rows are multiples of 8 and the pointers aligned, else one.
#include "common.cuh"

namespace {
__global__ void gate_residual_kernel(const float* x, const void* __restrict__ y, int y_dtype,
                                     const float* __restrict__ gate, float* out, int64_t n, int64_t tokens, int dim) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = i / dim;
    const int c = static_cast<int>(i - row * dim);
    out[i] = gated_residual(x[i], load_as_float(y, y_dtype, i), gate ? gate[(row / tokens) * dim + c] : 1.f);
  }
}
__global__ void gate_residual_vector_kernel(const float* x, const void* __restrict__ y, int y_dtype,
                                            const float* __restrict__ gate, float* out, int64_t n, int64_t tokens, int dim) {
  for (int64_t i = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) * kVectorWidth; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x * kVectorWidth) {
    const int64_t row = i / dim;
    const int c = static_cast<int>(i - row * dim);  // a multiple of 8: the 8 elements lie in one row
    float xs[kVectorWidth], ys[kVectorWidth], gs[kVectorWidth], sum[kVectorWidth];
    load8_f32(x, i, xs);
    load8(y, y_dtype, i, ys);
    if (gate) load8_f32(gate, (row / tokens) * dim + c, gs);
#pragma unroll
    for (int j = 0; j < kVectorWidth; ++j) sum[j] = gated_residual(xs[j], ys[j], gate ? gs[j] : 1.f);
    store8(out, TURBO_F32, i, sum);
  }
}
}  // namespace

extern "C" int turbo_gate_residual(const float* x, const void* y, int y_dtype, const float* gate, float* out,
                                   int64_t rows, int64_t tokens, int dim, void* stream) {
  const char* fn = "turbo_gate_residual";
  if (!valid_dtype(y_dtype)) { turbo_set_error(fn, "unsupported dtype"); return -1; }
  if (rows <= 0 || tokens <= 0 || dim <= 0 || rows % tokens != 0) {
    turbo_set_error(fn, "rows must be a positive multiple of tokens and dim positive");
    return -1;
  }
  const int64_t n = rows * dim;
  const int threads = 256;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const bool vector = dim % kVectorWidth == 0 && aligned_to(x, 16) && aligned_to(y, 16) && aligned_to(gate, 16) && aligned_to(out, 16);
  const int64_t items = vector ? n / kVectorWidth : n;
  const int blocks = static_cast<int>(std::min<int64_t>((items + threads - 1) / threads, 132 * 16));
  if (vector)
    gate_residual_vector_kernel<<<blocks, threads, 0, s>>>(x, y, y_dtype, gate, out, n, tokens, dim);
  else
    gate_residual_kernel<<<blocks, threads, 0, s>>>(x, y, y_dtype, gate, out, n, tokens, dim);
  return TURBO_LAUNCH_CHECK(fn);
}

// Per-token quantization of a linear layer's input (W8A8), to INT8 or to FP8 e4m3. Reference:
// Turbo.Runtime.Quant.ActivationQuantizer.PerToken after QuantizedLinear's smoothing division; the kernel computes
// the same float32 operations in the same order, so codes and scales agree bit for bit:
//   v = x / smooth (IEEE division, skipped without smoothing), scale = absmax(v) / max_code (1 for an all-zero row),
//   INT8: q = clamp(round_half_even(v · (1/scale)), -127, 127), max_code 127 (the float32 reciprocal, one a row);
//   e4m3: q = e4m3(v · (1/scale)) rounded to nearest even and saturated at ±448 (cvt .satfinite), max_code 448.
// Reads x once, writes q and one scale per row. Rows of bf16 or f16 of up to 16,384 values (every Wan2.1 linear
// input) stay in registers between the absmax and the quantize pass: one warp each up to 2,048 values, one block each
// beyond. Longer rows (up to 2^17), float32 and unaligned ones take one warp each and two passes, the second
// re-reading x: from L1/L2 when the rows in flight fit there, else from memory again (at 14B's 75,600 rows of
// 5,120–13,824 they do not, which is why the resident kernel).
// The GELU variant (turbo_int8_gelu_quantize_rows) quantizes g = dtype(GELU(x)) instead of x, x being a feed-forward
// block's hidden activations in the model's dtype: the reference's GELU in that dtype (WanMlp.GeluTanh) and then its
// quantization, as the fused middle of int8_gelu_requantize.cu computes them (same gelu_tanh, so the same codes).
#include <cstdint>
#include <type_traits>
#include <cuda_fp8.h>
#include "int8_common.cuh"

namespace {
constexpr int kWarpsPerBlock = 8;

struct Int8Code {
  static constexpr float kMax = 127.f;
  __device__ static uint8_t encode(float scaled) { return int8_encode(scaled); }
};

struct E4M3Code {
  static constexpr float kMax = 448.f;
  __device__ static uint8_t encode(float scaled) {
    return static_cast<uint8_t>(__nv_cvt_float_to_fp8(scaled, __NV_SATFINITE, __NV_E4M3));
  }
};

// x itself, or (kGelu) GELU of x rounded to x's dtype.
template <bool kGelu>
__device__ __forceinline__ float prepared(float x, int x_dtype) {
  if constexpr (kGelu) return round_through(x_dtype, gelu_tanh(x));
  else return x;
}

// kVectorized: cols % 8 == 0, x 16-byte and q 8-byte aligned (checked by the launcher), so every row is too.
template <typename Code, bool kGelu, bool kVectorized>
__global__ void quantize_rows_kernel(const void* __restrict__ x, int x_dtype, const float* __restrict__ smooth,
                                     uint8_t* __restrict__ q, float* __restrict__ scale, int64_t rows, int cols) {
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
      for (int j = 0; j < kVectorWidth; ++j) amax = fmaxf(amax, fabsf(activation_smoothed(prepared<kGelu>(v[j], x_dtype), smooth, c + j)));
    }
  } else {
    for (int c = lane; c < cols; c += 32)
      amax = fmaxf(amax, fabsf(activation_smoothed(prepared<kGelu>(load_as_float(x, x_dtype, base + c), x_dtype), smooth, c)));
  }
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const float s = amax > 0.f ? __fdiv_rn(amax, Code::kMax) : 1.f, inverse = row_inverse(s);

  if (kVectorized) {
#pragma unroll 2
    for (int c = lane * kVectorWidth; c < cols; c += 32 * kVectorWidth) {
      float v[kVectorWidth];
      load8(x, x_dtype, base + c, v);
      uint32_t packed[2] = {0u, 0u};
#pragma unroll
      for (int j = 0; j < kVectorWidth; ++j) {
        const uint32_t byte = Code::encode(__fmul_rn(activation_smoothed(prepared<kGelu>(v[j], x_dtype), smooth, c + j), inverse));
        packed[j / 4] |= byte << (8 * (j % 4));
      }
      *reinterpret_cast<uint2*>(q + base + c) = make_uint2(packed[0], packed[1]);
    }
  } else {
    for (int c = lane; c < cols; c += 32)
      q[base + c] = Code::encode(
          __fmul_rn(activation_smoothed(prepared<kGelu>(load_as_float(x, x_dtype, base + c), x_dtype), smooth, c), inverse));
  }
  if (lane == 0) scale[row] = s;
}

// Most vectors of 8 a thread of the block kernel holds, and most threads a block has: rows up to 8 · 8 · 256 values.
// (256 threads measured best of 128–1024 on an H200 at Wan's shapes.)
constexpr int kMaxResidentVecs = 8, kResidentThreads = 256;

// Element j (0..7) of a 16-byte vector of a 16-bit dtype, as float32 (exact). j is a constant after unrolling, so
// the selection folds away and the vector stays in registers.
template <typename T>
__device__ __forceinline__ float element(const uint4& v, int j) {
  const uint32_t word = j < 2 ? v.x : j < 4 ? v.y : j < 6 ? v.z : v.w;
  const unsigned short bits = static_cast<unsigned short>(j % 2 ? word >> 16 : word & 0xffffu);
  if constexpr (std::is_same_v<T, __nv_bfloat16>) return __bfloat162float(__ushort_as_bfloat16(bits));
  else return __half2float(__ushort_as_half(bits));
}

// The vector with each of its 8 values x replaced by GELU(x) rounded to T (the rounding the reference's GELU in the
// model's dtype makes), so that both passes read g as they would have read x.
template <typename T>
__device__ __forceinline__ uint4 gelu_vector(const uint4& v) {
  uint32_t word[4];
#pragma unroll
  for (int w = 0; w < 4; ++w) {
    const float a = gelu_tanh(element<T>(v, 2 * w)), b = gelu_tanh(element<T>(v, 2 * w + 1));
    unsigned short lo, hi;
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
      lo = __bfloat16_as_ushort(__float2bfloat16_rn(a));
      hi = __bfloat16_as_ushort(__float2bfloat16_rn(b));
    } else {
      lo = __half_as_ushort(__float2half_rn(a));
      hi = __half_as_ushort(__float2half_rn(b));
    }
    word[w] = static_cast<uint32_t>(lo) | static_cast<uint32_t>(hi) << 16;
  }
  return make_uint4(word[0], word[1], word[2], word[3]);
}

// A row of a 16-bit dtype per block (kWarpRow false) or per warp (true: rows of up to 32 · 8 · kVecs values, eight
// rows a block, no block barrier — 1,536-wide rows a block each left the GPU waiting on blocks to start), each thread
// holding kVecs vectors of 8 consecutive values of it as they were read (a 16-byte register quad each: half the
// registers of float32 values, so more rows are in flight per multiprocessor), converted again for the second pass.
// The same float32 operations as the warp kernel; the absmax is a maximum, so the order it is taken in changes nothing.
// kGelu: each vector is replaced by its GELU once, as read (gelu_vector).
template <typename Code, typename T, bool kGelu, int kVecs, bool kWarpRow>
__global__ void __launch_bounds__(kResidentThreads)
    quantize_resident_rows_kernel(const T* __restrict__ x, const float* __restrict__ smooth, uint8_t* __restrict__ q,
                                  float* __restrict__ scale, int64_t rows, int cols) {
  static_assert(sizeof(T) * kVectorWidth == sizeof(uint4), "a vector of 8 is one 16-byte load");
  __shared__ float scratch[32];
  const int lanes = kWarpRow ? 32 : static_cast<int>(blockDim.x);
  const int lane = kWarpRow ? static_cast<int>(threadIdx.x % 32) : static_cast<int>(threadIdx.x);
  const int64_t row = kWarpRow ? static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32 : blockIdx.x;
  if (kWarpRow && row >= rows) return;  // whole warps leave together, so the shuffles below see full warps
  const int64_t base = row * cols;
  auto column = [&](int i) { return (i * lanes + lane) * kVectorWidth; };
  auto value = [&](const uint4& raw, int j, int c) {
    return activation_smoothed(element<T>(raw, j), smooth, c + j);
  };
  uint4 raw[kVecs];
#pragma unroll
  for (int i = 0; i < kVecs; ++i)
    if (column(i) < cols) raw[i] = *reinterpret_cast<const uint4*>(x + base + column(i));
  if constexpr (kGelu)
#pragma unroll
    for (int i = 0; i < kVecs; ++i)
      if (column(i) < cols) raw[i] = gelu_vector<T>(raw[i]);
  float amax = 0.f;
#pragma unroll
  for (int i = 0; i < kVecs; ++i)
    if (column(i) < cols)
#pragma unroll
      for (int j = 0; j < kVectorWidth; ++j) amax = fmaxf(amax, fabsf(value(raw[i], j, column(i))));
  amax = kWarpRow ? warp_max(amax) : block_max(amax, scratch);
  const float s = amax > 0.f ? __fdiv_rn(amax, Code::kMax) : 1.f, inverse = row_inverse(s);
#pragma unroll
  for (int i = 0; i < kVecs; ++i) {
    const int c = column(i);
    if (c < cols) {
      uint32_t packed[2] = {0u, 0u};
#pragma unroll
      for (int j = 0; j < kVectorWidth; ++j)
        packed[j / 4] |= static_cast<uint32_t>(Code::encode(__fmul_rn(value(raw[i], j, c), inverse))) << (8 * (j % 4));
      *reinterpret_cast<uint2*>(q + base + c) = make_uint2(packed[0], packed[1]);
    }
  }
  if (lane == 0) scale[row] = s;
}

// The resident kernel with the fewest vectors per thread that hold the row (vecs ≤ kMaxResidentVecs): a warp per row,
// or a block with as many threads as that leaves work for.
template <typename Code, typename T, bool kGelu, int kVecs = 1>
void launch_resident(int vecs, bool warp_rows, const void* x, const float* smooth, uint8_t* q, float* scale, int64_t rows,
                     int cols, cudaStream_t s) {
  if constexpr (kVecs < kMaxResidentVecs)
    if (vecs > kVecs) return launch_resident<Code, T, kGelu, kVecs + 1>(vecs, warp_rows, x, smooth, q, scale, rows, cols, s);
  if (warp_rows) {
    constexpr int kRowsPerBlock = kResidentThreads / 32;
    quantize_resident_rows_kernel<Code, T, kGelu, kVecs, true><<<static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock),
                                                          kResidentThreads, 0, s>>>(static_cast<const T*>(x), smooth, q, scale, rows, cols);
    return;
  }
  const int threads = ((cols / kVectorWidth + kVecs - 1) / kVecs + 31) / 32 * 32;  // ≤ kResidentThreads
  quantize_resident_rows_kernel<Code, T, kGelu, kVecs, false>
      <<<static_cast<unsigned>(rows), threads, 0, s>>>(static_cast<const T*>(x), smooth, q, scale, rows, cols);
}

template <typename Code, bool kGelu = false>
int launch(const char* fn, const void* x, int x_dtype, const float* smooth, uint8_t* q, float* scale, int64_t rows,
           int cols, void* stream) {
  if (!valid_dtype(x_dtype)) { turbo_set_error(fn, "unsupported dtype"); return -1; }
  if (rows <= 0 || cols <= 0 || cols > kInt8MaxK) { turbo_set_error(fn, "rows must be positive and cols in 1..131072"); return -1; }
  if (!x || !q || !scale) { turbo_set_error(fn, "x, q and scale are required"); return -1; }
  const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  if (blocks > 0x7fffffff) { turbo_set_error(fn, "too many rows"); return -1; }
  const bool vectorized = cols % kVectorWidth == 0 && aligned_to(x, 16) && aligned_to(q, 8);
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  // A warp per row where a warp holds it in at most kMaxResidentVecs vectors a lane, else a block of up to 256 threads.
  const int row_vectors = cols / kVectorWidth;
  const bool warp_rows = row_vectors <= 32 * kMaxResidentVecs;
  const int lanes = warp_rows ? 32 : kResidentThreads, vecs = (row_vectors + lanes - 1) / lanes;  // vectors a thread holds
  if (vectorized && x_dtype != TURBO_F32 && vecs <= kMaxResidentVecs && rows <= 0x7fffffff) {
    if (x_dtype == TURBO_BF16) launch_resident<Code, __nv_bfloat16, kGelu>(vecs, warp_rows, x, smooth, q, scale, rows, cols, s);
    else launch_resident<Code, __half, kGelu>(vecs, warp_rows, x, smooth, q, scale, rows, cols, s);
  } else if (vectorized)
    quantize_rows_kernel<Code, kGelu, true><<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, s>>>(x, x_dtype, smooth, q, scale, rows, cols);
  else
    quantize_rows_kernel<Code, kGelu, false><<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, s>>>(x, x_dtype, smooth, q, scale, rows, cols);
  return TURBO_LAUNCH_CHECK(fn);
}
}  // namespace

extern "C" int turbo_int8_quantize_rows(const void* x, int x_dtype, const float* smooth, int8_t* q, float* scale,
                                        int64_t rows, int cols, void* stream) {
  return launch<Int8Code>("turbo_int8_quantize_rows", x, x_dtype, smooth, reinterpret_cast<uint8_t*>(q), scale, rows, cols, stream);
}

extern "C" int turbo_int8_gelu_quantize_rows(const void* x, int x_dtype, const float* smooth, int8_t* q, float* scale,
                                             int64_t rows, int cols, void* stream) {
  return launch<Int8Code, true>("turbo_int8_gelu_quantize_rows", x, x_dtype, smooth, reinterpret_cast<uint8_t*>(q), scale, rows,
                                cols, stream);
}

extern "C" int turbo_fp8_quantize_rows(const void* x, int x_dtype, const float* smooth, uint8_t* q, float* scale,
                                       int64_t rows, int cols, void* stream) {
  return launch<E4M3Code>("turbo_fp8_quantize_rows", x, x_dtype, smooth, q, scale, rows, cols, stream);
}

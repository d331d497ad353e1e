// Shared helpers for the kernels: error reporting, dtype loads/stores, block reductions.
#pragma once
#include <cmath>
#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include "turbo_native.h"

void turbo_set_error(const char* function, const char* message);
int turbo_check(const char* function, cudaError_t err);
// Checks the launch and returns the status code for the C ABI.
#define TURBO_LAUNCH_CHECK(fn) turbo_check(fn, cudaGetLastError())

// True when the current device has compute capability 9.0 and this library carries sm_90a code for it (sm90a.cu):
// then the wgmma / TMA kernels run; elsewhere their bodies are empty.
bool sm90a_kernels_available();
// The current device's multiprocessor count (asked once per process; 1 where it cannot be read): the grid of the
// persistent kernels.
int device_multiprocessors();

__device__ __forceinline__ float load_as_float(const void* p, int dtype, int64_t i) {
  switch (dtype) {
    case TURBO_BF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case TURBO_F16: return __half2float(static_cast<const __half*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

__device__ __forceinline__ void store_from_float(void* p, int dtype, int64_t i, float v) {
  switch (dtype) {
    case TURBO_BF16: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v); break;
    case TURBO_F16: static_cast<__half*>(p)[i] = __float2half_rn(v); break;
    default: static_cast<float*>(p)[i] = v;
  }
}

// Elements i and i + 1 in one store: p + i must be aligned to two elements.
__device__ __forceinline__ void store_pair_from_float(void* p, int dtype, int64_t i, float v0, float v1) {
  switch (dtype) {
    case TURBO_BF16: *reinterpret_cast<__nv_bfloat162*>(static_cast<__nv_bfloat16*>(p) + i) = __floats2bfloat162_rn(v0, v1); break;
    case TURBO_F16: *reinterpret_cast<__half2*>(static_cast<__half*>(p) + i) = __floats2half2_rn(v0, v1); break;
    default: *reinterpret_cast<float2*>(static_cast<float*>(p) + i) = make_float2(v0, v1);
  }
}

// Sum over a block of up to 1024 threads; every thread gets the result.
__device__ __forceinline__ float block_sum(float v, float* scratch /* >= 32 floats */) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float t = lane < warps ? scratch[lane] : 0.f;
  for (int o = 16; o > 0; o >>= 1) t += __shfl_xor_sync(0xffffffffu, t, o);
  return t;
}

// Maximum over a block of up to 1024 threads; every thread gets the result.
__device__ __forceinline__ float block_max(float v, float* scratch /* >= 32 floats */) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float t = lane < warps ? scratch[lane] : -INFINITY;
  for (int o = 16; o > 0; o >>= 1) t = fmaxf(t, __shfl_xor_sync(0xffffffffu, t, o));
  return t;
}

inline bool aligned_to(const void* p, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// The vector paths move 8 elements per lane per step: 16 bytes of bf16/f16, 32 of fp32.
constexpr int kVectorWidth = 8;

// True when a [B, H, L, D] view's rows (strides of b, h and token) start 16-byte aligned at strides of 8 elements: then
// every group of 8 channels is one 16-byte load of bf16/f16 (two of float32).
inline bool aligned_rows(const void* data, const int64_t* strides) {
  return aligned_to(data, 16) && strides[0] % kVectorWidth == 0 && strides[1] % kVectorWidth == 0 &&
         strides[2] % kVectorWidth == 0;
}

// Eight consecutive elements of a row at i (i a multiple of 8, rows 16-byte aligned) as loaded, for widen8 to convert:
// 16 bytes of bf16/f16, 32 of float32. Loading and converting apart lets a loop issue every load before it converts
// any; with the dtype known only at run time (load8) the compiler keeps each load behind the previous conversion.
template <int kDtype>
struct Raw8 {
  uint4 word[kDtype == TURBO_F32 ? 2 : 1];
};

template <int kDtype>
__device__ __forceinline__ Raw8<kDtype> load8_raw(const void* x, int64_t i) {
  Raw8<kDtype> r;
  if constexpr (kDtype == TURBO_F32) {
    const uint4* p = reinterpret_cast<const uint4*>(static_cast<const float*>(x) + i);
    r.word[0] = p[0];
    r.word[1] = p[1];
  } else {
    r.word[0] = *reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(x) + i);
  }
  return r;
}

template <int kDtype>
__device__ __forceinline__ void widen8(const Raw8<kDtype>& r, float (&v)[kVectorWidth]) {
  if constexpr (kDtype == TURBO_F32) {
#pragma unroll
    for (int w = 0; w < 2; ++w) {
      v[4 * w] = __uint_as_float(r.word[w].x);
      v[4 * w + 1] = __uint_as_float(r.word[w].y);
      v[4 * w + 2] = __uint_as_float(r.word[w].z);
      v[4 * w + 3] = __uint_as_float(r.word[w].w);
    }
  } else {
    const uint32_t words[4] = {r.word[0].x, r.word[0].y, r.word[0].z, r.word[0].w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const unsigned short lo = static_cast<unsigned short>(words[j] & 0xffffu);
      const unsigned short hi = static_cast<unsigned short>(words[j] >> 16);
      if constexpr (kDtype == TURBO_BF16) {  // a bf16 is the upper half of the float32 with the same value
        v[2 * j] = __uint_as_float(static_cast<uint32_t>(lo) << 16);
        v[2 * j + 1] = __uint_as_float(static_cast<uint32_t>(hi) << 16);
      } else {
        v[2 * j] = __half2float(__ushort_as_half(lo));
        v[2 * j + 1] = __half2float(__ushort_as_half(hi));
      }
    }
  }
}

// The same with the dtype known only at run time: Raw8<TURBO_F32> holds either (a 16-bit dtype's 16 bytes in word[0]).
// A loop that loads all its vectors this way before widening any has them all in flight (vector_rows.cuh).
__device__ __forceinline__ Raw8<TURBO_F32> load8_raw(const void* x, int dtype, int64_t i) {
  if (dtype == TURBO_F32) return load8_raw<TURBO_F32>(x, i);
  return {{load8_raw<TURBO_BF16>(x, i).word[0], make_uint4(0u, 0u, 0u, 0u)}};  // bf16 and f16 load alike
}
__device__ __forceinline__ void widen8(const Raw8<TURBO_F32>& r, int dtype, float (&v)[kVectorWidth]) {
  switch (dtype) {
    case TURBO_BF16: widen8(Raw8<TURBO_BF16>{{r.word[0]}}, v); break;
    case TURBO_F16: widen8(Raw8<TURBO_F16>{{r.word[0]}}, v); break;
    default: widen8(r, v);
  }
}

// Eight consecutive elements of x starting at i (i a multiple of 8, rows 16-byte aligned) as float32. A switch over
// whole loads rather than the run-time pair above: built from that pair, the warp-row norm kernels took up to 14 more
// registers (32 bytes of raw words a vector whatever the dtype).
__device__ __forceinline__ void load8(const void* x, int dtype, int64_t i, float (&v)[kVectorWidth]) {
  switch (dtype) {
    case TURBO_BF16: widen8(load8_raw<TURBO_BF16>(x, i), v); break;
    case TURBO_F16: widen8(load8_raw<TURBO_F16>(x, i), v); break;
    default: widen8(load8_raw<TURBO_F32>(x, i), v);
  }
}

// Eight float32 values as the dtype's 8 consecutive elements at i (i a multiple of 8, rows 16-byte aligned).
__device__ __forceinline__ void store8(void* y, int dtype, int64_t i, const float (&v)[kVectorWidth]) {
  if (dtype == TURBO_F32) {
    float* out = static_cast<float*>(y) + i;
    *reinterpret_cast<float4*>(out) = make_float4(v[0], v[1], v[2], v[3]);
    *reinterpret_cast<float4*>(out + 4) = make_float4(v[4], v[5], v[6], v[7]);
    return;
  }
  uint32_t words[4];
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    if (dtype == TURBO_BF16) {
      const __nv_bfloat162 pair = __floats2bfloat162_rn(v[2 * j], v[2 * j + 1]);
      words[j] = *reinterpret_cast<const uint32_t*>(&pair);
    } else {
      const __half2 pair = __floats2half2_rn(v[2 * j], v[2 * j + 1]);
      words[j] = *reinterpret_cast<const uint32_t*>(&pair);
    }
  }
  *reinterpret_cast<uint4*>(static_cast<uint16_t*>(y) + i) = make_uint4(words[0], words[1], words[2], words[3]);
}

// Eight consecutive float32 values of p at i (p + i 16-byte aligned).
__device__ __forceinline__ void load8_f32(const float* p, int64_t i, float (&v)[kVectorWidth]) {
  const float4 a = *reinterpret_cast<const float4*>(p + i), b = *reinterpret_cast<const float4*>(p + i + 4);
  v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
  v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
}

// 2^x by the special-function unit alone (denormal results flush to 0: far below what a 16-bit value, E4M3 or a sum
// of them can hold). e^(x − m) is exp2_approx(fma(x, log2 e, −m·log2 e)): one fused multiply-add before it, where
// __expf(x − m) also takes a subtraction and the checks and rescalings that keep denormals.
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Sum over one warp; every lane gets the result.
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Largest value over one warp; every lane gets the result.
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// v rounded to the dtype and back: the value a store of v as that dtype followed by a load would give.
__device__ __forceinline__ float round_through(int dtype, float v) {
  switch (dtype) {
    case TURBO_BF16: return __bfloat162float(__float2bfloat16_rn(v));
    case TURBO_F16: return __half2float(__float2half_rn(v));
    default: return v;
  }
}

// One element of a gated residual update, x + y·gate, in one rounding (gate 1: x + y, also one rounding). Shared by
// turbo_gate_residual and the norms that take the update first, so that both write the same residual stream.
__device__ __forceinline__ float gated_residual(float x, float y, float gate) { return __fmaf_rn(y, gate, x); }

inline bool valid_dtype(int d) { return d == TURBO_F32 || d == TURBO_BF16 || d == TURBO_F16; }

// Hopper's bulk tensor copy engine (TMA, sm_90) and the shared-memory barriers (mbarrier) it completes on, for the
// INT8 GEMM of int8_gemm_wgmma.cu and the attention kernel of sage_attention_wgmma.cuh. A tensor map (built on the
// host, passed by value as a __grid_constant__ kernel parameter) describes a row-major 2-D (or strided 4-D) tensor in global memory;
// one thread asks for a box of it, the engine writes the box into shared memory — 128-byte swizzled, the layout
// wgmma's descriptors read (warpgroup_mma.cuh) — with elements outside the tensor filled with zeros, and counts the
// bytes it wrote against an mbarrier.
//
// An mbarrier completes a phase when its expected arrivals have arrived and its expected bytes have landed; waiting
// on parity p returns once the phase of parity p has completed (on a fresh barrier, waiting on parity 1 returns at
// once, which is how a producer passes its first round of "stage empty" barriers).
#pragma once
#include <cstdint>
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>

namespace turbo {

// The driver's tensor-map encoder, looked up once through the runtime (no link against the driver library); null
// where the driver has none.
inline PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 encode = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess)
      fn = nullptr;
    cudaGetLastError();
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  }();
  return encode;
}

// A tensor map of the row-major [rows, cols] elements of `type` (element_bytes each) at `data`, read in boxes of
// box_rows × box_cols elements whose rows are 128 bytes (box_cols · element_bytes = 128), 128-byte swizzled. False
// where the driver has no encoder or refuses the operand (alignment, sizes).
inline bool encode_tensor_map_2d(CUtensorMap* map, CUtensorMapDataType type, int element_bytes, const void* data,
                                 int64_t rows, int64_t cols, int box_cols, int box_rows) {
  const PFN_cuTensorMapEncodeTiled_v12000 encode = tensor_map_encoder();
  if (!encode) return false;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(cols), static_cast<cuuint64_t>(rows)};
  const cuuint64_t pitch[1] = {static_cast<cuuint64_t>(cols * element_bytes)};
  const cuuint32_t box[2] = {static_cast<cuuint32_t>(box_cols), static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t steps[2] = {1, 1};
  return encode(map, type, 2, const_cast<void*>(data), dims, pitch, box, steps, CU_TENSOR_MAP_INTERLEAVE_NONE,
                CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

// A tensor map of a strided 4-D tensor of `type` at `data`, its dimensions innermost first: dims[0] contiguous
// elements (a row), then dims[1..3] at byte_strides[0..2] (multiples of 16, in any order), read in boxes of box_rows
// rows × box_cols elements of one index of dims[2] and dims[3], 128-byte rows, 128-byte swizzled (as the 2-D map's).
inline bool encode_tensor_map_4d(CUtensorMap* map, CUtensorMapDataType type, const void* data, const int64_t (&dims)[4],
                                 const int64_t (&byte_strides)[3], int box_cols, int box_rows) {
  const PFN_cuTensorMapEncodeTiled_v12000 encode = tensor_map_encoder();
  if (!encode) return false;
  cuuint64_t extent[4], pitch[3];
  for (int i = 0; i < 4; ++i) extent[i] = static_cast<cuuint64_t>(dims[i]);
  for (int i = 0; i < 3; ++i) pitch[i] = static_cast<cuuint64_t>(byte_strides[i]);
  const cuuint32_t box[4] = {static_cast<cuuint32_t>(box_cols), static_cast<cuuint32_t>(box_rows), 1, 1};
  const cuuint32_t steps[4] = {1, 1, 1, 1};
  return encode(map, type, 4, const_cast<void*>(data), extent, pitch, box, steps, CU_TENSOR_MAP_INTERLEAVE_NONE,
                CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

__device__ __forceinline__ void mbarrier_init(uint32_t barrier, uint32_t arrivals) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(barrier), "r"(arrivals) : "memory");
#endif
}

// Makes initialized barriers visible to the copy engine (and, after a barrier of the block, to every thread).
__device__ __forceinline__ void mbarrier_init_fence() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
}

// One arrival that also announces `bytes` more to come from the copy engine in this phase.
__device__ __forceinline__ void mbarrier_arrive_expecting(uint32_t barrier, uint32_t bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(barrier), "r"(bytes) : "memory");
#endif
}

__device__ __forceinline__ void mbarrier_arrive(uint32_t barrier) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("{\n.reg .b64 state;\nmbarrier.arrive.shared::cta.b64 state, [%0];\n}\n" ::"r"(barrier) : "memory");
#endif
}

__device__ __forceinline__ void mbarrier_wait(uint32_t barrier, uint32_t parity) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(barrier), "r"(parity)
        : "memory");
  } while (!done);
#endif
}

// Copies the box at (column c0, row c1) of the tensor `map` describes into shared memory at `destination`
// (1024-byte aligned for the 128-byte swizzle), completing on `barrier`.
__device__ __forceinline__ void tma_load_2d(uint32_t destination, const CUtensorMap* map, int c0, int c1, uint32_t barrier) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(destination),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(barrier)
      : "memory");
#endif
}

// The same for a 4-D map (encode_tensor_map_4d): the box at element c0 of a row, row c1, and indices c2, c3.
__device__ __forceinline__ void tma_load_4d(uint32_t destination, const CUtensorMap* map, int c0, int c1, int c2, int c3,
                                            uint32_t barrier) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], [%6];\n" ::"r"(
          destination),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(barrier)
      : "memory");
#endif
}

// The other way: copies the box in shared memory at `source` (laid out as tma_load_2d writes it) to (column c0, row
// c1) of the tensor `map` describes; elements outside the tensor are not written. The copy joins this thread's current
// bulk group (bulk_commit); the generic proxy's writes to `source` must be fenced for it first
// (fence_shared_for_async_proxy, then a barrier of the writers).
__device__ __forceinline__ void tma_store_2d(const CUtensorMap* map, int c0, int c1, uint32_t source) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group [%0, {%1, %2}], [%3];\n" ::"l"(
                   reinterpret_cast<uint64_t>(map)),
               "r"(c0), "r"(c1), "r"(source)
               : "memory");
#endif
}

// Closes this thread's current bulk group.
__device__ __forceinline__ void bulk_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
#endif
}

// Waits until at most `pending` of this thread's most recent bulk groups still read their shared memory (the rest may
// still be writing global memory).
template <int pending>
__device__ __forceinline__ void bulk_wait_read() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(pending) : "memory");
#endif
}

}  // namespace turbo

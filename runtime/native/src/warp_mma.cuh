// Warp-level tensor-core primitives of the attention and INT8 GEMM kernels (sm_80+): asynchronous global→shared copies, ldmatrix
// and mma.sync. Fragment layouts are the PTX ISA's (section "Matrix Fragments for mma.m16n8k16 / m16n8k32"); with
// g = lane / 4 and t = lane % 4 a thread holds
//   A 16×16 f16 (4 × f16x2):  {row g, cols 2t..2t+1}, {row g+8, same}, {row g, cols 8+2t..}, {row g+8, cols 8+2t..}
//   A 16×32 s8  (4 × s8x4):   {row g, cols 4t..4t+3}, {row g+8, same}, {row g, cols 16+4t..}, {row g+8, cols 16+4t..}
//   B 16×8 f16 (2 × f16x2):   {rows 2t..2t+1, col g}, {rows 8+2t.., col g}
//   B 32×8 s8  (2 × s8x4):    {rows 4t..4t+3, col g}, {rows 16+4t.., col g}
//   C/D 16×8 f32/s32 (4):     {row g, cols 2t, 2t+1}, {row g+8, cols 2t, 2t+1}
// so the C fragments of two neighbouring n-tiles of a 16-row product are, element for element, the A fragment of a
// 16×16 operand (what lets softmax(S) feed the P·V product from registers).
#pragma once
#include <cstdint>
#include <cuda_runtime.h>

namespace turbo {

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global → shared without passing through registers (L2 only: each tile is read once per CTA).
__device__ __forceinline__ void cp_async_16(void* shared, const void* global) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(shared_address(shared)), "l"(global));
}
// The same with a zero fill, for tile tails: with valid == false nothing is read and the 16 bytes become zeros.
__device__ __forceinline__ void cp_async_16(uint32_t shared, const void* global, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared), "l"(global), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
// Waits until at most `pending` of this thread's most recent groups are still in flight.
template <int pending>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(pending)); }

// Four 8×8 matrices of 16-bit elements (8 rows of 16 bytes each); lanes 8i..8i+7 give the row addresses of matrix i,
// register i receives matrix i with the thread holding row lane/4, elements 2·(lane%4) and +1.
// `row` is a shared-window address (shared_address), for kernels that keep tile addresses as 32-bit offsets.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(row));
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row) { ldmatrix_x4(r, shared_address(row)); }
// The same, each matrix transposed: the thread holds column lane/4, rows 2·(lane%4) and +1.
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(row));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row) { ldmatrix_x4_trans(r, shared_address(row)); }

// ldmatrix_x4's inverse (Hopper): lanes 8i..8i+7 give the row addresses of matrix i, register i holds matrix i's
// elements 2·(lane%4) and +1 of row lane/4 — an accumulator fragment's layout once packed to 16-bit pairs.
__device__ __forceinline__ void stmatrix_x4(uint32_t row, uint32_t r0, uint32_t r1, uint32_t r2, uint32_t r3) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(row), "r"(r0), "r"(r1), "r"(r2),
               "r"(r3)
               : "memory");
#endif
}

// D = A·B + D, 16×8×32, INT8 operands, INT32 accumulators (exact).
__device__ __forceinline__ void mma_s8(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// D = A·B + D, 16×8×16, FP16 operands, FP32 accumulators.
__device__ __forceinline__ void mma_f16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// D = A·B + D, 16×8×16, BF16 operands, FP32 accumulators.
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Index of the 16-byte chunk `chunk` of tile row `row` in shared memory, for rows of `chunks` chunks (4, 8 or 16).
// ldmatrix reads 8 consecutive rows at one chunk position; unswizzled, rows of 64, 128 or 256 bytes put those 8
// reads in 2, 1 or 1 bank groups (4- or 8-way conflicts). XOR-ing the chunk with the row spreads them over all 8:
// rows of ≥ 8 chunks XOR the low 3 chunk bits with row % 8; rows of 4 chunks pair up into 128-byte lines and XOR
// the chunk's position in its line with the line number.
template <int chunks>
__device__ __forceinline__ int swizzled_chunk(int row, int chunk) {
  static_assert(chunks == 4 || chunks == 8 || chunks == 16, "rows of 64, 128 or 256 bytes");
  if constexpr (chunks == 4) {
    const int unit = row * 4 + chunk;
    return unit ^ ((unit >> 3) & 7);
  } else {
    return row * chunks + (chunk ^ (row & 7));
  }
}

}  // namespace turbo

// Rows of 8-element vectors held in registers by the norm kernels (norm_modulate.cu, rmsnorm_rope.cu): a row of up to
// 2,048 elements in multiples of 256 (Wan2.1-1.3B's 1,536) goes to one warp, kRowWarpsPerBlock rows a block (a block
// per row is too little work there to hide memory latency); any other row of whole vectors up to 8,192 elements (14B's
// 5,120) to one block of kWideRowThreads threads. Thread t of a row holds its vectors k·kRowThreads + t for k < kVecs,
// so each step of the row's threads reads adjacent 16-byte pieces, and kVecs is the fewest that hold the row, so no
// registers are held for vectors a row does not have.
#pragma once
#include <type_traits>
#include "common.cuh"

constexpr int kRowWarpsPerBlock = 8;
constexpr int kWideRowThreads = 128;
constexpr int kMaxRowVectors = 8;  // vectors a thread holds at most: a warp's row 2,048 elements, a block's 8,192
constexpr int kMaxVectorRowWidth = kMaxRowVectors * kWideRowThreads * kVectorWidth;

// Threads of a block of the row kernels: a warp per row, kRowWarpsPerBlock rows; or a block per row.
template <int kRowThreads>
constexpr int kRowBlockThreads = kRowThreads == 32 ? kRowWarpsPerBlock * 32 : kRowThreads;

// This thread's place in its row.
template <int kRowThreads>
struct VectorRow {
  int lane;
  int64_t row;
  int vectors;  // the row's

  __device__ explicit VectorRow(int dim)
      : lane(threadIdx.x % kRowThreads),
        row(kRowThreads == 32 ? static_cast<int64_t>(blockIdx.x) * kRowWarpsPerBlock + (threadIdx.x >> 5) : blockIdx.x),
        vectors(dim / kVectorWidth) {}
  // Vector k of this thread is in the row (always, for the warp rows, whose width is exact).
  __device__ bool live(int k) const { return kRowThreads == 32 || k * kRowThreads + lane < vectors; }
  // Its first element's column.
  __device__ int column(int k) const { return (k * kRowThreads + lane) * kVectorWidth; }
};

// This thread's vectors of the rows of x and, when y is given, of y at base (dtypes run-time values) as float32, every
// load issued before any value is converted. A warp's row has the same vectors in every lane, so its loop has no
// branch and the compiler issues the loads first by itself. A block's row checks each vector, and there converting
// each vector as it arrived kept the next load behind it (one load in flight a thread), so its loads go first into
// raw words (room for 32 bytes a vector, whatever the dtype: registers a warp's row is better without).
template <int kVecs, int kRowThreads>
__device__ __forceinline__ void load_rows(const VectorRow<kRowThreads>& at, int64_t base, const void* x, int x_dtype,
                                          float (&v)[kVecs][kVectorWidth], const void* y, int y_dtype,
                                          float (&w)[kVecs][kVectorWidth]) {
  if constexpr (kRowThreads == 32) {
#pragma unroll
    for (int k = 0; k < kVecs; ++k) {
      load8(x, x_dtype, base + at.column(k), v[k]);
      if (y) load8(y, y_dtype, base + at.column(k), w[k]);
    }
  } else {
    Raw8<TURBO_F32> raw_x[kVecs], raw_y[kVecs];
#pragma unroll
    for (int k = 0; k < kVecs; ++k)
      if (at.live(k)) {
        raw_x[k] = load8_raw(x, x_dtype, base + at.column(k));
        if (y) raw_y[k] = load8_raw(y, y_dtype, base + at.column(k));
      }
#pragma unroll
    for (int k = 0; k < kVecs; ++k)
      if (at.live(k)) {
        widen8(raw_x[k], x_dtype, v[k]);
        if (y) widen8(raw_y[k], y_dtype, w[k]);
      }
  }
}
template <int kVecs, int kRowThreads>
__device__ __forceinline__ void load_row(const VectorRow<kRowThreads>& at, int64_t base, const void* x, int dtype,
                                         float (&v)[kVecs][kVectorWidth]) {
  load_rows(at, base, x, dtype, v, nullptr, dtype, v);
}

// A row's sum / maximum over the threads that hold it: one warp's (shuffles only) or one block's (a row per block).
template <int kRowThreads>
__device__ __forceinline__ float row_sum(float v, float* scratch /* >= 32 floats */) {
  if constexpr (kRowThreads == 32) return warp_sum(v);
  else return block_sum(v, scratch);
}
template <int kRowThreads>
__device__ __forceinline__ float row_max(float v, float* scratch /* >= 32 floats */) {
  if constexpr (kRowThreads == 32) return warp_max(v);
  else return block_max(v, scratch);
}

// Calls launch(vecs, row_threads, blocks, threads) with the instantiation for `rows` rows of `dim` elements (a whole
// number of vectors, at most kMaxVectorRowWidth): std::integral_constant values of kVecs and kRowThreads.
template <int kRowThreads, int kVecs = 1, typename Launch>
void launch_vector_rows_with(int vectors, int64_t rows, Launch&& launch) {
  if constexpr (kVecs < kMaxRowVectors)
    if (vectors > kVecs * kRowThreads) return launch_vector_rows_with<kRowThreads, kVecs + 1>(vectors, rows, launch);
  const int rows_per_block = kRowThreads == 32 ? kRowWarpsPerBlock : 1;
  launch(std::integral_constant<int, kVecs>{}, std::integral_constant<int, kRowThreads>{},
         static_cast<unsigned>((rows + rows_per_block - 1) / rows_per_block), kRowBlockThreads<kRowThreads>);
}
template <typename Launch>
void launch_vector_rows(int dim, int64_t rows, Launch&& launch) {
  const int vectors = dim / kVectorWidth;
  if (dim % (32 * kVectorWidth) == 0 && vectors <= kMaxRowVectors * 32) launch_vector_rows_with<32>(vectors, rows, launch);
  else launch_vector_rows_with<kWideRowThreads>(vectors, rows, launch);
}

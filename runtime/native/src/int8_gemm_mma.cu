// INT8 GEMM on the tensor cores through mma.sync m16n8k32 (s8·s8 → s32), with the W8A8 epilogue fused: the INT32
// accumulators never leave registers. Reference: Turbo.Runtime.Quant.ReferenceGemm (exact integer dot products,
// then float32 in a fixed order, int8_common.cuh).
//
// y[m, n] = Σ_k x[m, k]·w[n, k]: x [rows, k] and w [n, k] are both k-contiguous, which is the "row.col" operand
// layout of the instruction, so tiles go global → shared (cp.async, 4 stages) → registers (ldmatrix) untransposed.
// CTA tile 128 rows × 128 output channels × 64 k; 8 warps as 2 × 4, each 64 × 32 (4 × 4 mma tiles).
// Shared rows are padded to 80 bytes so that the 8 row addresses of each ldmatrix phase fall in distinct banks.
// Tails: rows past `rows`/`n` and 16-byte chunks past k are zero-filled by cp.async (zeros add nothing to a dot
// product) and never stored. Works on sm_80 and later (mma.sync, cp.async, ldmatrix); Hopper runs it as is.
#include <cstdint>
#include "int8_common.cuh"
#include "warp_mma.cuh"

namespace {
constexpr int kBM = 128, kBN = 128, kBK = 64;
constexpr int kStages = 4;
constexpr int kThreads = 256;
constexpr int kWarpM = 64, kWarpN = 32;
constexpr int kMTiles = kWarpM / 16, kNTiles = kWarpN / 8;
constexpr int kRowBytes = kBK + 16;
constexpr int kTileBytes = kBM * kRowBytes;  // x tile; the w tile (kBN rows) has the same size
constexpr int kStageBytes = 2 * kTileBytes;
constexpr int kSmemBytes = kStages * kStageBytes;  // 80 KiB: above the 48 KiB default, raised per launch
constexpr int kGroupM = 8;                         // raster: 8 row tiles walk the output channels together
constexpr int kSliceTiles = 128 / kBK;             // k tiles per 128-wide weight-scale slice
static_assert(kBN == 128, "a CTA's output channels must lie in one 128-channel weight block");
static_assert(kBM * kBK / 16 == 2 * kThreads, "each thread copies two 16-byte chunks of each operand per stage");

// What the kernel writes: raw INT32 accumulators (debug), or the rescaled output with per-channel weight scales,
// or with 128×128 block weight scales (one INT32 sum per 128-wide slice of k, folded into float32 slice by slice).
enum Mode { kRawInt32 = 0, kChannelScale = 1, kBlockScale = 2 };

// cp.async with zero fill, ldmatrix and mma.sync s8: warp_mma.cuh (shared with the attention kernels).
using namespace turbo;

// Starts copying the k tile at k0 of the CTA's 128 x rows and 128 w rows into one stage (no wait).
__device__ __forceinline__ void load_stage(uint32_t stage, const int8_t* x, const int8_t* w, int64_t rows, int n,
                                           int k, int64_t m0, int n0, int k0) {
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int chunk = threadIdx.x + i * kThreads;  // 512 chunks: 128 rows × 4 chunks of 16 bytes
    const int r = chunk >> 2, c = (chunk & 3) * 16;
    const bool k_ok = k0 + c < k;
    const bool x_ok = k_ok && m0 + r < rows;
    const bool w_ok = k_ok && n0 + r < n;
    const int8_t* xs = x_ok ? x + (m0 + r) * k + k0 + c : x;
    const int8_t* ws = w_ok ? w + static_cast<int64_t>(n0 + r) * k + k0 + c : w;
    cp_async_16(stage + r * kRowBytes + c, xs, x_ok);
    cp_async_16(stage + kTileBytes + r * kRowBytes + c, ws, w_ok);
  }
}

template <int kMode, typename OutT>
__global__ void __launch_bounds__(kThreads)
    int8_gemm_kernel(const int8_t* __restrict__ x, const float* __restrict__ x_scale, const int8_t* __restrict__ w,
                     const float* __restrict__ w_scale, const float* __restrict__ bias, OutT* __restrict__ y,
                     int64_t rows, int n, int k) {
  extern __shared__ __align__(16) uint8_t smem[];

  // Grouped raster: consecutive CTAs take kGroupM row tiles down one column of output-channel tiles, so a wave
  // re-reads its weight tiles from L2 rather than from memory.
  const int tiles_m = static_cast<int>((rows + kBM - 1) / kBM);
  const int tiles_n = (n + kBN - 1) / kBN;
  const int per_group = kGroupM * tiles_n;
  const int tile = static_cast<int>(blockIdx.x);
  const int first_m = (tile / per_group) * kGroupM;
  const int group_m = min(tiles_m - first_m, kGroupM);
  const int tile_m = first_m + (tile % per_group) % group_m;
  const int tile_n = (tile % per_group) / group_m;
  const int64_t m0 = static_cast<int64_t>(tile_m) * kBM;
  const int n0 = tile_n * kBN;

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warp_m = warp >> 2, warp_n = warp & 3;
  const int group = lane >> 2, pair = (lane & 3) * 2;  // accumulator element (group, pair) of each 16×8 tile

  int acc[kMTiles][kNTiles][4];
  float sum[kMTiles][kNTiles][4];  // block scales only: the float32 sum over finished 128-wide slices
#pragma unroll
  for (int mi = 0; mi < kMTiles; ++mi)
#pragma unroll
    for (int ni = 0; ni < kNTiles; ++ni)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        acc[mi][ni][e] = 0;
        sum[mi][ni][e] = 0.f;
      }

  // Token scales of this thread's 8 rows (block scales fold them in after every slice).
  float row_scale[kMTiles][2];
#pragma unroll
  for (int mi = 0; mi < kMTiles; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t row = m0 + warp_m * kWarpM + mi * 16 + group + h * 8;
      row_scale[mi][h] = (kMode == kBlockScale && row < rows) ? x_scale[row] : 0.f;
    }

  const uint32_t smem_base = shared_address(smem);
  const int k_tiles = (k + kBK - 1) / kBK;
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < k_tiles) load_stage(smem_base + s * kStageBytes, x, w, rows, n, k, m0, n0, s * kBK);
    cp_async_commit();  // committed even when empty, so that group counts stay uniform
  }

  // ldmatrix row addresses of this lane (see warp_mma.cuh): x blocks are (rows 0-7 | 8-15) × (k 0-15 | 16-31) →
  // a0..a3; w blocks are (k 0-15 | 16-31) × (channels 0-7 | 8-15) → b0, b1 of two adjacent 8-channel tiles.
  const int a_row = warp_m * kWarpM + (lane & 15), a_col = (lane >> 4) * 16;
  const int b_row = warp_n * kWarpN + (lane & 7) + ((lane >> 4) << 3), b_col = ((lane >> 3) & 1) * 16;

  for (int kt = 0; kt < k_tiles; ++kt) {
    cp_async_wait<kStages - 2>();  // tile kt has landed (for this thread's copies)...
    __syncthreads();               // ...for every thread's copies, and all warps are done with tile kt - 1
    const int next = kt + kStages - 1;
    if (next < k_tiles) load_stage(smem_base + (next % kStages) * kStageBytes, x, w, rows, n, k, m0, n0, next * kBK);
    cp_async_commit();

    const uint32_t a_base = smem_base + (kt % kStages) * kStageBytes;
    const uint32_t b_base = a_base + kTileBytes;
#pragma unroll
    for (int ks = 0; ks < kBK / 32; ++ks) {
      uint32_t a[kMTiles][4];
      uint32_t b[kNTiles][2];
#pragma unroll
      for (int mi = 0; mi < kMTiles; ++mi) ldmatrix_x4(a[mi], a_base + (a_row + mi * 16) * kRowBytes + ks * 32 + a_col);
#pragma unroll
      for (int nj = 0; nj < kNTiles / 2; ++nj) {
        uint32_t r[4];
        ldmatrix_x4(r, b_base + (b_row + nj * 16) * kRowBytes + ks * 32 + b_col);
        b[2 * nj][0] = r[0];
        b[2 * nj][1] = r[1];
        b[2 * nj + 1][0] = r[2];
        b[2 * nj + 1][1] = r[3];
      }
#pragma unroll
      for (int mi = 0; mi < kMTiles; ++mi)
#pragma unroll
        for (int ni = 0; ni < kNTiles; ++ni) mma_s8(acc[mi][ni], a[mi], b[ni][0], b[ni][1]);
    }

    if (kMode == kBlockScale && ((kt + 1) % kSliceTiles == 0 || kt + 1 == k_tiles)) {
      // End of a 128-wide slice of k: y += fp32(acc)·sx·sw[n/128, slice] (the reference's slice-by-slice sum).
      const int slices = (k + 127) / 128;
      const float sw = w_scale[(n0 / 128) * slices + kt / kSliceTiles];
#pragma unroll
      for (int mi = 0; mi < kMTiles; ++mi)
#pragma unroll
        for (int ni = 0; ni < kNTiles; ++ni)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            sum[mi][ni][e] = __fadd_rn(sum[mi][ni][e], int8_rescale(acc[mi][ni][e], row_scale[mi][e >> 1], sw));
            acc[mi][ni][e] = 0;
          }
    }
  }
  cp_async_wait<0>();

  // Epilogue straight from registers: thread holds (row group / group + 8) × (channels pair, pair + 1) of each tile.
#pragma unroll
  for (int mi = 0; mi < kMTiles; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t row = m0 + warp_m * kWarpM + mi * 16 + group + h * 8;
      if (row >= rows) continue;
      const float sx = (kMode == kChannelScale) ? x_scale[row] : 0.f;
#pragma unroll
      for (int ni = 0; ni < kNTiles; ++ni) {
        const int col = n0 + warp_n * kWarpN + ni * 8 + pair;
        if (col >= n) continue;
        const bool second = col + 1 < n;
        if constexpr (kMode == kRawInt32) {
          store_output_pair(y, row, col, n, acc[mi][ni][2 * h], acc[mi][ni][2 * h + 1]);
        } else {
          float v0, v1;
          if (kMode == kChannelScale) {
            v0 = int8_rescale(acc[mi][ni][2 * h], sx, w_scale[col]);
            v1 = second ? int8_rescale(acc[mi][ni][2 * h + 1], sx, w_scale[col + 1]) : 0.f;
          } else {
            v0 = sum[mi][ni][2 * h];
            v1 = sum[mi][ni][2 * h + 1];
          }
          v0 = int8_add_bias(v0, bias, col);
          if (second) v1 = int8_add_bias(v1, bias, col + 1);
          store_output_pair(y, row, col, n, v0, v1);
        }
      }
    }
}

template <int kMode, typename OutT>
int launch(const int8_t* x, const float* x_scale, const int8_t* w, const float* w_scale, const float* bias, OutT* y,
           int64_t rows, int n, int k, cudaStream_t stream, const char* fn) {
  int rc = turbo_check(fn, cudaFuncSetAttribute(int8_gemm_kernel<kMode, OutT>,
                                                cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes));
  if (rc) return rc;
  const int64_t tiles = ((rows + kBM - 1) / kBM) * ((n + kBN - 1) / kBN);
  int8_gemm_kernel<kMode, OutT><<<static_cast<unsigned>(tiles), kThreads, kSmemBytes, stream>>>(
      x, x_scale, w, w_scale, bias, y, rows, n, k);
  return TURBO_LAUNCH_CHECK(fn);
}

}  // namespace

// The raw INT32 accumulators, from this kernel or from cuBLASLt: the integer part of the product on its own.
extern "C" int turbo_int8_matmul_i32(const int8_t* x, const int8_t* w, int32_t* acc, int64_t rows, int n, int k,
                                     int impl, void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (impl == TURBO_INT8_CUBLASLT) return int8_cublaslt_i32(x, w, acc, rows, n, k, s);
  if (impl == TURBO_INT8_WGMMA) return int8_wgmma_i32(x, w, acc, rows, n, k, s);
  const char* fn = "turbo_int8_matmul_i32 (mma)";
  if (impl != TURBO_INT8_MMA) { turbo_set_error(fn, "unknown implementation"); return -1; }
  if (int rc = int8_tiled_operands(fn, x, w, acc, rows, n, k)) return rc;
  return launch<kRawInt32, int32_t>(x, nullptr, w, nullptr, nullptr, acc, rows, n, k, s, fn);
}

extern "C" int turbo_int8_linear(const int8_t* x, const float* x_scale, const int8_t* w, const float* w_scale,
                                 int w_scale_kind, const float* bias, void* y, int y_dtype, int64_t rows, int n, int k,
                                 void* stream) {
  const char* fn = "turbo_int8_linear";
  if (int rc = int8_tiled_operands(fn, x, w, y, rows, n, k)) return rc;
  if (!valid_dtype(y_dtype)) { turbo_set_error(fn, "unsupported output dtype"); return -1; }
  if (!x_scale || !w_scale) { turbo_set_error(fn, "x_scale and w_scale are required"); return -1; }
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (w_scale_kind == TURBO_INT8_SCALE_CHANNEL) {
    switch (y_dtype) {
      case TURBO_BF16: return launch<kChannelScale>(x, x_scale, w, w_scale, bias, static_cast<__nv_bfloat16*>(y), rows, n, k, s, fn);
      case TURBO_F16: return launch<kChannelScale>(x, x_scale, w, w_scale, bias, static_cast<__half*>(y), rows, n, k, s, fn);
      default: return launch<kChannelScale>(x, x_scale, w, w_scale, bias, static_cast<float*>(y), rows, n, k, s, fn);
    }
  }
  if (w_scale_kind == TURBO_INT8_SCALE_BLOCK128) {
    switch (y_dtype) {
      case TURBO_BF16: return launch<kBlockScale>(x, x_scale, w, w_scale, bias, static_cast<__nv_bfloat16*>(y), rows, n, k, s, fn);
      case TURBO_F16: return launch<kBlockScale>(x, x_scale, w, w_scale, bias, static_cast<__half*>(y), rows, n, k, s, fn);
      default: return launch<kBlockScale>(x, x_scale, w, w_scale, bias, static_cast<float*>(y), rows, n, k, s, fn);
    }
  }
  turbo_set_error(fn, "unknown weight scale kind");
  return -1;
}

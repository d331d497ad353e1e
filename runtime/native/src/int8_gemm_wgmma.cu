// INT8 GEMM on Hopper's warpgroup tensor-core instructions (wgmma s8·s8 → s32), fed by the bulk tensor copy engine,
// with the W8A8 epilogue fused: the INT32 accumulators never leave registers. Reference:
// Turbo.Runtime.Quant.ReferenceGemm (exact integer dot products, then float32 in a fixed order, int8_common.cuh); the
// same function as the mma.sync kernel of int8_gemm_mma.cu, which runs where this one cannot (before Hopper).
//
// y[m, n] = Σ_k x[m, k]·w[n, k]: x [rows, k] and w [n, k] are both k-contiguous — the K-major operands wgmma takes
// for integers. CTA tile 128 rows × BN output channels (256 or 128) × 128 k, three warpgroups:
//   warpgroup 0, one thread: the producer. For each k tile it waits until the stage is free, then asks the copy engine
//     for the x box [128 × 128] and the w box [BN × 128] (128-byte swizzled, zeros past the tensor's edges), which
//     complete on the stage's "full" barrier.
//   warpgroups 1 and 2: the consumers, rows 0–63 and 64–127 of the tile. For each k tile they wait on "full", issue
//     four m64nBNk32 products, and once the previous tile's products have retired release its stage ("empty").
// Stages: 4 of 48 KB (BN 256) or 6 of 32 KB (BN 128). Tails: boxes past rows, n or k arrive as zeros (they add
// nothing to a dot product), and outputs past rows and n are never stored. Needs k a multiple of 16 (the tensor
// map's row pitch) and a compute capability 9.0 GPU with this library built for sm_90a (sm90a_kernels_available).
#include <cstdint>
#include "int8_common.cuh"

// Tensor maps and the versioned driver entry point need CUDA 12.5; built with an older toolkit, the entries say so.
#if CUDART_VERSION >= 12050
#define TURBO_HAS_TENSOR_MAPS 1
#include <cudaTypedefs.h>
#include "tma.cuh"
#include "warpgroup_mma.cuh"
#endif

namespace {
// What the kernel writes: raw INT32 accumulators (the integer part on its own, for checks), the rescaled output
// with per-channel weight scales and the bias, or that output passed through GELU (a feed-forward block's first
// Linear: h = out(rescaled + bias), g = out(gelu(h)), as WanMlp on the layer's output).
enum Mode { kRawInt32 = 0, kChannelScale = 1, kChannelScaleGelu = 2 };

#if TURBO_HAS_TENSOR_MAPS
using namespace turbo;

template <int BN>
struct WgmmaGemmTile {
  static constexpr int BM = 128, BK = 128;  // BK: 128 bytes of k, one swizzle row
  static constexpr int kThreads = 384;       // producer + two consumer warpgroups
  static constexpr int kConsumerWarps = 8;
  static constexpr int kStages = BN == 256 ? 4 : 6;
  static constexpr int kABytes = BM * BK, kBBytes = BN * BK, kStageBytes = kABytes + kBBytes;
  static constexpr int kAtomAlign = 1024;  // the swizzle pattern repeats every 1024 bytes
  static constexpr int kBarrierBytes = 2 * kStages * 8;
  static constexpr int kSharedBytes = kStages * kStageBytes + kBarrierBytes + kAtomAlign;
  static constexpr int kAccumulators = BN / 2;  // per thread: 64 rows × BN columns over 128 threads
  static constexpr int kGroupM = 8;             // raster: 8 row tiles walk the output channels together
  static_assert(kStageBytes % kAtomAlign == 0, "every stage starts on a swizzle atom");
};

template <int BN>
__device__ __forceinline__ void wgmma_tile_k32(int (&acc)[BN / 2], uint64_t a, uint64_t b) {
  if constexpr (BN == 256) wgmma_s8_m64n256k32(acc, a, b, true);
  else wgmma_s8_m64n128k32(acc, a, b, true);
}

template <int BN, int kMode, typename OutT>
__global__ void __launch_bounds__(WgmmaGemmTile<BN>::kThreads, 1)
    int8_gemm_wgmma_kernel(const __grid_constant__ CUtensorMap x_map, const __grid_constant__ CUtensorMap w_map,
                           const float* __restrict__ x_scale, const float* __restrict__ w_scale,
                           const float* __restrict__ bias, OutT* __restrict__ y, int64_t rows, int n, int k) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using T = WgmmaGemmTile<BN>;
  extern __shared__ unsigned char shared_raw[];
  const uint32_t base = (shared_address(shared_raw) + T::kAtomAlign - 1) / T::kAtomAlign * T::kAtomAlign;
  const uint32_t full = base + T::kStages * T::kStageBytes, empty = full + 8 * T::kStages;  // barrier s at +8·s

  // Grouped raster, as the mma kernel: consecutive CTAs take kGroupM row tiles down one column of channel tiles.
  const int tiles_m = static_cast<int>((rows + T::BM - 1) / T::BM);
  const int tiles_n = (n + BN - 1) / BN;
  const int per_group = T::kGroupM * tiles_n;
  const int tile = static_cast<int>(blockIdx.x);
  const int first_m = (tile / per_group) * T::kGroupM;
  const int group_m = min(tiles_m - first_m, T::kGroupM);
  const int tile_m = first_m + (tile % per_group) % group_m;
  const int tile_n = (tile % per_group) / group_m;
  const int64_t m0 = static_cast<int64_t>(tile_m) * T::BM;
  const int n0 = tile_n * BN;
  const int k_tiles = (k + T::BK - 1) / T::BK;

  if (threadIdx.x == 0) {
    for (int s = 0; s < T::kStages; ++s) {
      mbarrier_init(full + 8 * s, 1);
      mbarrier_init(empty + 8 * s, T::kConsumerWarps);
    }
    mbarrier_init_fence();
  }
  __syncthreads();

  const int warpgroup = threadIdx.x / 128;
  if (warpgroup == 0) {
    if (threadIdx.x == 0) {
      for (int kt = 0; kt < k_tiles; ++kt) {
        const int s = kt % T::kStages;
        const uint32_t round = kt / T::kStages;
        mbarrier_wait(empty + 8 * s, (round & 1) ^ 1);
        mbarrier_arrive_expecting(full + 8 * s, T::kStageBytes);
        const uint32_t stage = base + s * T::kStageBytes;
        tma_load_2d(stage, &x_map, kt * T::BK, static_cast<int>(m0), full + 8 * s);
        tma_load_2d(stage + T::kABytes, &w_map, kt * T::BK, n0, full + 8 * s);
      }
    }
    return;
  }

  const int consumer = warpgroup - 1, warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
  int acc[T::kAccumulators];
#pragma unroll
  for (int i = 0; i < T::kAccumulators; ++i) acc[i] = 0;

  for (int kt = 0; kt < k_tiles; ++kt) {
    const int s = kt % T::kStages;
    mbarrier_wait(full + 8 * s, (kt / T::kStages) & 1);
    const uint32_t stage = base + s * T::kStageBytes;
    // This consumer's 64 rows of x: 8 atoms of 8 rows, 1024 bytes apart; all BN rows of w likewise.
    const uint64_t a_desc = wgmma_descriptor(stage + consumer * 64 * T::BK, 16, 1024);
    const uint64_t b_desc = wgmma_descriptor(stage + T::kABytes, 16, 1024);
    wgmma_fence();
    pin_registers(acc);
#pragma unroll
    for (int ks = 0; ks < T::BK / 32; ++ks) wgmma_tile_k32<BN>(acc, wgmma_advance(a_desc, 32 * ks), wgmma_advance(b_desc, 32 * ks));
    wgmma_commit();
    wgmma_wait<1>();  // the previous tile's products have read their stage...
    pin_registers(acc);
    if (kt > 0 && lane == 0) mbarrier_arrive(empty + 8 * ((kt - 1) % T::kStages));  // ...which the producer may refill
  }
  wgmma_wait<0>();
  pin_registers(acc);

  // Epilogue straight from registers: register 4j + e holds row g + 8·(e / 2), column 8j + 2t + (e % 2) of the
  // warp's 16 rows (warpgroup_mma.cuh), g = lane / 4, t = lane % 4.
  const int group = lane / 4, pair = (lane % 4) * 2;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int64_t row = m0 + consumer * 64 + warp * 16 + group + h * 8;
    if (row >= rows) continue;
    const float sx = kMode == kRawInt32 ? 0.f : x_scale[row];
#pragma unroll
    for (int j = 0; j < BN / 8; ++j) {
      const int col = n0 + 8 * j + pair;
      if (col >= n) continue;
      const int a0 = acc[4 * j + 2 * h], a1 = acc[4 * j + 2 * h + 1];
      if constexpr (kMode == kRawInt32) {
        store_output_pair(y, row, col, n, a0, a1);
      } else {
        const bool second = col + 1 < n;
        float v0 = int8_add_bias(int8_rescale(a0, sx, w_scale[col]), bias, col);
        float v1 = second ? int8_add_bias(int8_rescale(a1, sx, w_scale[col + 1]), bias, col + 1) : 0.f;
        if constexpr (kMode == kChannelScaleGelu) {
          v0 = rounded_to<OutT>(gelu_tanh(rounded_to<OutT>(v0)));
          v1 = rounded_to<OutT>(gelu_tanh(rounded_to<OutT>(v1)));
        }
        store_output_pair(y, row, col, n, v0, v1);
      }
    }
  }
#endif
}

// The driver's tensor-map encoder, looked up once through the runtime (no link against the driver library).
PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
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

// A tensor map of the row-major bytes [rows, cols] at `data`, read in boxes of box_rows × 128 bytes, 128-byte swizzled.
int encode_rows(const char* fn, CUtensorMap* map, const int8_t* data, int64_t rows, int cols, int box_rows) {
  const PFN_cuTensorMapEncodeTiled_v12000 encode = tensor_map_encoder();
  if (!encode) { turbo_set_error(fn, "the CUDA driver has no cuTensorMapEncodeTiled"); return -1; }
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(cols), static_cast<cuuint64_t>(rows)};
  const cuuint64_t pitch[1] = {static_cast<cuuint64_t>(cols)};
  const cuuint32_t box[2] = {128, static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t steps[2] = {1, 1};
  const CUresult r = encode(map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<int8_t*>(data), dims, pitch, box, steps,
                            CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                            CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) { turbo_set_error(fn, "cuTensorMapEncodeTiled refused the operand"); return -1; }
  return 0;
}

template <int BN, int kMode, typename OutT>
int launch(const char* fn, const int8_t* x, const float* x_scale, const int8_t* w, const float* w_scale, const float* bias,
           OutT* y, int64_t rows, int n, int k, cudaStream_t stream) {
  using T = WgmmaGemmTile<BN>;
  CUtensorMap x_map, w_map;
  if (int rc = encode_rows(fn, &x_map, x, rows, k, T::BM)) return rc;
  if (int rc = encode_rows(fn, &w_map, w, n, k, BN)) return rc;
  auto kernel = int8_gemm_wgmma_kernel<BN, kMode, OutT>;
  if (int rc = turbo_check(fn, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, T::kSharedBytes))) return rc;
  const int64_t tiles = ((rows + T::BM - 1) / T::BM) * ((n + BN - 1) / BN);
  kernel<<<static_cast<unsigned>(tiles), T::kThreads, T::kSharedBytes, stream>>>(x_map, w_map, x_scale, w_scale, bias, y, rows, n, k);
  return TURBO_LAUNCH_CHECK(fn);
}
// The channel tile: 256 unless n leaves a 256-wide tile mostly empty, where 128 wastes less.
int chosen_tile_n(int tile_n, int n) {
  if (tile_n != 0) return tile_n;
  return n % 256 == 0 || n % 256 > 128 ? 256 : 128;
}

#endif  // TURBO_HAS_TENSOR_MAPS

template <int kMode, typename OutT>
int dispatch(const char* fn, const int8_t* x, const float* x_scale, const int8_t* w, const float* w_scale, const float* bias,
             OutT* y, int64_t rows, int n, int k, int tile_n, void* stream) {
#if TURBO_HAS_TENSOR_MAPS
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (chosen_tile_n(tile_n, n) == 256) return launch<256, kMode>(fn, x, x_scale, w, w_scale, bias, y, rows, n, k, s);
  return launch<128, kMode>(fn, x, x_scale, w, w_scale, bias, y, rows, n, k, s);
#else
  turbo_set_error(fn, "this library was built with a CUDA older than 12.5 (no tensor maps)");
  return -1;
#endif
}

int check_operands(const char* fn, const int8_t* x, const int8_t* w, const void* y, int64_t rows, int n, int k, int tile_n) {
  if (rows <= 0 || rows > 0x7fffffff || n <= 0 || k <= 0) { turbo_set_error(fn, "rows in 1..2^31-1, n and k positive"); return -1; }
  if (k % 16 != 0 || k > kInt8MaxK) { turbo_set_error(fn, "k must be a multiple of 16 and at most 131072"); return -1; }
  if (tile_n != 0 && tile_n != 128 && tile_n != 256) { turbo_set_error(fn, "tile_n must be 0 (chosen by shape), 128 or 256"); return -1; }
  if (!x || !w || !y) { turbo_set_error(fn, "x, w and the output are required"); return -1; }
  if (!aligned_to(x, 16) || !aligned_to(w, 16) || !aligned_to(y, 16)) {
    turbo_set_error(fn, "x, w and the output must be 16-byte aligned");
    return -1;
  }
  if (((rows + 127) / 128) * ((n + 127) / 128) > 0x7fffffff) { turbo_set_error(fn, "too many tiles"); return -1; }
  if (!sm90a_kernels_available()) {
    turbo_set_error(fn, "the wgmma kernel needs a compute capability 9.0 GPU and a library built for sm_90a");
    return -1;
  }
  return 0;
}
}  // namespace

int int8_wgmma_i32(const int8_t* x, const int8_t* w, int32_t* acc, int64_t rows, int n, int k, cudaStream_t stream) {
  const char* fn = "turbo_int8_matmul_i32 (wgmma)";
  if (int rc = check_operands(fn, x, w, acc, rows, n, k, 0)) return rc;
  return dispatch<kRawInt32>(fn, x, nullptr, w, nullptr, nullptr, acc, rows, n, k, 0, stream);
}

extern "C" int turbo_int8_linear_wgmma(const int8_t* x, const float* x_scale, const int8_t* w, const float* w_scale,
                                       const float* bias, int gelu, void* y, int y_dtype, int64_t rows, int n, int k,
                                       int tile_n, void* stream) {
  const char* fn = "turbo_int8_linear_wgmma";
  if (int rc = check_operands(fn, x, w, y, rows, n, k, tile_n)) return rc;
  if (!valid_dtype(y_dtype)) { turbo_set_error(fn, "unsupported output dtype"); return -1; }
  if (!x_scale || !w_scale) { turbo_set_error(fn, "x_scale and w_scale are required"); return -1; }
  auto run = [&](auto* out) {
    return gelu ? dispatch<kChannelScaleGelu>(fn, x, x_scale, w, w_scale, bias, out, rows, n, k, tile_n, stream)
                : dispatch<kChannelScale>(fn, x, x_scale, w, w_scale, bias, out, rows, n, k, tile_n, stream);
  };
  switch (y_dtype) {
    case TURBO_BF16: return run(static_cast<__nv_bfloat16*>(y));
    case TURBO_F16: return run(static_cast<__half*>(y));
    default: return run(static_cast<float*>(y));
  }
}

extern "C" int turbo_int8_wgmma_available(void) {
#if TURBO_HAS_TENSOR_MAPS
  return sm90a_kernels_available() && tensor_map_encoder() ? 1 : 0;
#else
  return 0;
#endif
}

// INT8 GEMM on Hopper's warpgroup tensor-core instructions (wgmma s8·s8 → s32), fed by the bulk tensor copy engine,
// with the W8A8 epilogue fused: the INT32 accumulators never leave registers. Reference:
// Turbo.Runtime.Quant.ReferenceGemm (exact integer dot products, then float32 in a fixed order, int8_common.cuh); the
// same function as the mma.sync kernel of int8_gemm_mma.cu, which runs where this one cannot (before Hopper).
//
// y[m, n] = Σ_k x[m, k]·w[n, k]: x [rows, k] and w [n, k] are both k-contiguous — the K-major operands wgmma takes
// for integers. k in steps of 128; one persistent CTA per multiprocessor, three warpgroups per CTA:
//   warpgroup 0, one thread: the producer. For each of the CTA's tiles and each k tile it waits until the next stage
//     of the ring is free, then asks the copy engine for the x box [128 × 128] and the w box [BN × 128] (128-byte
//     swizzled, zeros past the tensor's edges), which complete on the stage's "full" barrier.
//   warpgroups 1 and 2: the consumers. For each k tile they wait on "full", issue the products, and once the previous
//     k tile's products have retired release its stage ("empty"); then the epilogue from registers: 16-bit outputs
//     go through a shared buffer and out by the copy engine (store_part_by_tma), the others straight to global memory
//     (store_rows). Two schedules (schedule_for picks one by k):
//     ping-pong, tiles of 128 × 128: each consumer takes every other tile of the CTA, all its rows, so one's epilogue
//       runs while the other's products keep the tensor cores busy;
//     cooperative, tiles of 128 × 256: both take every tile, 64 rows each, with m64n256k32 (less shared-memory
//       traffic per product, but the epilogue stops the products; its copy-engine stores go out in two halves of 128
//       channels through the same 16 KB buffer).
// (GELU in this epilogue measured slower than cuBLASLt with the fused feed-forward middle: docs/PERF.md.)
// Tails: boxes past rows, n or k arrive as zeros (they add nothing to a dot product), and outputs past rows and n are
// never stored. Needs k a multiple of 16 (the tensor map's row pitch) and a compute capability 9.0 GPU with this
// library built for sm_90a (sm90a_kernels_available).
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include "int8_common.cuh"

// Tensor maps and the versioned driver entry point need CUDA 12.5; built with an older toolkit, the entries say so.
#if CUDART_VERSION >= 12050
#define TURBO_HAS_TENSOR_MAPS 1
#include "tma.cuh"
#include "warpgroup_mma.cuh"
#endif

namespace {
// What the kernel writes: raw INT32 accumulators (the integer part on its own, for checks), or the rescaled output
// with per-channel weight scales and the bias.
enum Mode { kRawInt32 = 0, kChannelScale = 1 };

#if TURBO_HAS_TENSOR_MAPS
using namespace turbo;

constexpr int kThreads = 384;        // producer + two consumer warpgroups
constexpr int kBM = 128, kBK = 128;  // kBK: 128 bytes of k, one swizzle row
constexpr int kAtomAlign = 1024;     // the swizzle pattern repeats every 1024 bytes
constexpr int kSharedAlign = 128;    // the declared alignment of the dynamic shared memory
constexpr int kMaxSharedBytes = 227 * 1024;  // a CTA's shared memory on compute capability 9.0
constexpr int kGroupM = 8;           // raster: 8 row tiles walk the output channels together
constexpr int kABytes = kBM * kBK;

// The consumers' schedules (the file's comment); both keep 128 accumulators per thread.
enum Schedule { kPingPong = 0, kCooperative = 1 };

// A box of the output as the copy engine stores it: 64 rows × 128 bytes (64 16-bit channels), 128-byte swizzled.
constexpr int kOutBoxBytes = 64 * 128;

template <int kSchedule, bool kStoreByTma>
struct Tiling {
  static constexpr bool kCooperativeTiles = kSchedule == kCooperative;
  static constexpr int BN = kCooperativeTiles ? 256 : 128;
  // Each consumer's output buffer (copy-engine stores): 64 rows × 128 channels, two boxes. In the ping-pong schedule
  // it takes the room of the sixth stage.
  static constexpr int kOutBytes = kStoreByTma ? 2 * kOutBoxBytes : 0;
  static constexpr int kStages = kCooperativeTiles ? 4 : (kStoreByTma ? 5 : 6);  // 48 or 32 KB each
  static constexpr int kStageBytes = kABytes + BN * kBK;
  static constexpr int kParts = kCooperativeTiles ? 1 : 2;    // accumulator sets of 64 rows × BN per consumer
  static constexpr int kReaders = kCooperativeTiles ? 8 : 4;  // warps that read a stage and release it
  // The tile scales and biases in shared memory: one copy per tile in flight (both cooperative consumers share a tile).
  static constexpr int kChannelCopies = kCooperativeTiles ? 1 : 2;
  static constexpr int kChannelBytes = kChannelCopies * 2 * BN * 4;
  static constexpr int kBarriers = 2 * kStages + 2;           // full and empty per stage; each ping-pong consumer's turn
  // The stages start on the first swizzle atom at or after the (kSharedAlign-aligned) start of shared memory.
  static constexpr int kSharedBytes =
      kStages * kStageBytes + 2 * kOutBytes + kChannelBytes + kBarriers * 8 + kAtomAlign - kSharedAlign;
  static_assert(kStageBytes % kAtomAlign == 0 && kOutBytes % kAtomAlign == 0, "every stage and buffer starts on a swizzle atom");
  static_assert(kSharedBytes <= kMaxSharedBytes, "the stages must fit a CTA's shared memory");
};

// Grouped raster, as the mma kernel: consecutive tiles take kGroupM row tiles down one column of channel tiles, so
// the CTAs of a wave share their weight tiles through L2.
template <int BN>
__device__ __forceinline__ void tile_origin(int tile, int64_t rows, int n, int64_t& m0, int& n0) {
  const int tiles_m = static_cast<int>((rows + kBM - 1) / kBM);
  const int tiles_n = (n + BN - 1) / BN;
  const int per_group = kGroupM * tiles_n;
  const int first_m = (tile / per_group) * kGroupM;
  const int group_m = min(tiles_m - first_m, kGroupM);
  m0 = static_cast<int64_t>(first_m + (tile % per_group) % group_m) * kBM;
  n0 = ((tile % per_group) / group_m) * BN;
}

// The x scales of a warp's two rows (row0 + g, row0 + g + 8; g = lane / 4), read before the tile's products so that
// the epilogue never waits for them (0 past the rows, which are never stored).
__device__ __forceinline__ void load_row_scales(float (&sx)[2], const float* __restrict__ x_scale, int64_t row0, int64_t rows) {
  const int group = (threadIdx.x % 32) / 4;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int64_t row = row0 + group + 8 * h;
    sx[h] = row < rows ? x_scale[row] : 0.f;
  }
}

// One output pair's epilogue: INT32 accumulators a0, a1 of a row with x scale sx, rescaled by their channels' scales
// s (int8_rescale) and, with has_bias, plus their biases b — the reference's float32 steps.
__device__ __forceinline__ float2 rescaled_pair(int a0, int a1, float sx, float2 s, float2 b, bool has_bias) {
  float2 v = make_float2(int8_rescale(a0, sx, s.x), int8_rescale(a1, sx, s.y));
  if (has_bias) {
    v.x = __fadd_rn(v.x, b.x);
    v.y = __fadd_rn(v.y, b.y);
  }
  return v;
}

// Writes a warp's 16 rows (row0 + g, row0 + g + 8) × BN channels from n0 out of accumulators in wgmma's fragment
// layout (warpgroup_mma.cuh: register 4j + e holds row g + 8·(e / 2), column 8j + 2t + (e % 2); g = lane / 4,
// t = lane % 4). sx: the two rows' x scales (load_row_scales). scale and bias hold the tile's channels from n0 in
// shared memory (zeros past n; bias also without one, when has_bias is false).
template <int BN, int kMode, typename OutT>
__device__ __forceinline__ void store_rows(const int (&acc)[BN / 2], int64_t row0, int n0, const float (&sx)[2],
                                           const float* scale, const float* bias, bool has_bias, OutT* __restrict__ y,
                                           int64_t rows, int n) {
  const int lane = threadIdx.x % 32, group = lane / 4, pair = (lane % 4) * 2;
  if (row0 + 16 <= rows && n0 + BN <= n && n % 2 == 0) {
    // Every tile but the last row and channel tiles: with no bounds to test, the shared-memory reads of the channel
    // values are issued ahead of the arithmetic rather than one pair at a time.
    OutT* const out = y + (row0 + group) * n + n0 + pair;
    const int64_t eight_rows = 8 * static_cast<int64_t>(n);
#pragma unroll
    for (int j = 0; j < BN / 8; ++j) {
      if constexpr (kMode == kRawInt32) {
#pragma unroll
        for (int h = 0; h < 2; ++h) store_pair(out + h * eight_rows + 8 * j, acc[4 * j + 2 * h], acc[4 * j + 2 * h + 1]);
      } else {
        const float2 s = *reinterpret_cast<const float2*>(scale + 8 * j + pair);
        const float2 b = *reinterpret_cast<const float2*>(bias + 8 * j + pair);
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const float2 v = rescaled_pair(acc[4 * j + 2 * h], acc[4 * j + 2 * h + 1], sx[h], s, b, has_bias);
          store_pair(out + h * eight_rows + 8 * j, v.x, v.y);
        }
      }
    }
    return;
  }
  int64_t row[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) row[h] = row0 + group + h * 8;
#pragma unroll
  for (int j = 0; j < BN / 8; ++j) {
    const int local = 8 * j + pair, col = n0 + local;
    if (col >= n) continue;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      if (row[h] >= rows) continue;
      const int a0 = acc[4 * j + 2 * h], a1 = acc[4 * j + 2 * h + 1];
      if constexpr (kMode == kRawInt32) {
        store_output_pair(y, row[h], col, n, a0, a1);
      } else {
        // Channels past n have scale 0 and are not stored.
        const float2 v = rescaled_pair(a0, a1, sx[h], make_float2(scale[local], scale[local + 1]),
                                       make_float2(bias[local], bias[local + 1]), has_bias);
        store_output_pair(y, row[h], col, n, v.x, v.y);
      }
    }
  }
}

// One channel's scale and bias (zeros past n and without a bias), held by one consumer thread: a tile's 128 channels
// (ping-pong) or its half of 128 (cooperative) are read from global memory into registers before the previous tile's
// products, so that their latency hides behind them, and written to the tile's shared copy after that tile's
// epilogue. (Read just before the epilogue instead, they held it up: its first instruction waited on the scoreboard
// that the loads shared with the rows' x scales, docs/PERF.md.)
struct ChannelValue {
  float scale, bias;

  __device__ __forceinline__ void load(const float* __restrict__ w_scale, const float* __restrict__ b, int c, int n) {
    scale = c < n ? w_scale[c] : 0.f;
    bias = c < n && b ? b[c] : 0.f;
  }
};

// Synchronizes the 128 threads of one consumer warpgroup (named barrier 1 + consumer; 0 is __syncthreads').
__device__ __forceinline__ void consumer_sync(int consumer) {
  asm volatile("bar.sync %0, 128;\n" ::"r"(1 + consumer) : "memory");
}

// Synchronizes the threads that share a tile's channel values: both consumers (named barrier 3) in the cooperative
// schedule, one in ping-pong.
template <bool kCooperativeTiles>
__device__ __forceinline__ void tile_sync(int consumer) {
  if constexpr (kCooperativeTiles) asm volatile("bar.sync 3, 256;\n" ::: "memory");
  else consumer_sync(consumer);
}

// Two outputs as one register of 16-bit values, the first in the low half (stmatrix's element order).
template <typename OutT>
__device__ __forceinline__ uint32_t packed_pair(float a, float b);
template <>
__device__ __forceinline__ uint32_t packed_pair<__nv_bfloat16>(float a, float b) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(a, b);
  return *reinterpret_cast<const uint32_t*>(&v);
}
template <>
__device__ __forceinline__ uint32_t packed_pair<__half>(float a, float b) {
  const __half2 v = __floats2half2_rn(a, b);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// store_rows' outputs for 64 rows × 128 channels (rows part_row0.., 16 a warp; channels n0..) held in acc from
// register `first` (a ping-pong part, or half of a cooperative consumer's 256 channels), 16-bit, through the
// consumer's shared buffer `out`: packed to pairs, written by stmatrix in the layout of y's tensor map (two
// 128-byte-swizzled boxes of 64 rows × 64 channels), and copied out by the copy engine, which skips rows and channels
// outside y (no bounds tests). One thread of the consumer (`leader`) first waits until the buffer's previous copy has
// read it, and issues this one. scale and bias hold the 128 channels from n0. The arithmetic is store_rows', value for
// value.
template <typename OutT, int kAccs>
__device__ __forceinline__ void store_part_by_tma(const int (&acc)[kAccs], int first, const float (&sx)[2], const float* scale,
                                                  const float* bias, bool has_bias, uint32_t out, const CUtensorMap* y_map,
                                                  int64_t part_row0, int n0, int64_t rows, int n, int consumer, bool leader) {
  const int lane = threadIdx.x % 32, warp = (threadIdx.x / 32) % 4, pair = (lane % 4) * 2;
  uint32_t packed[32];  // 2j + h: row g + 8h of the warp's 16 (g = lane / 4), channels 8j + pair and + 1
#pragma unroll
  for (int j = 0; j < 16; ++j) {
    const float2 s = *reinterpret_cast<const float2*>(scale + 8 * j + pair);
    const float2 b = *reinterpret_cast<const float2*>(bias + 8 * j + pair);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float2 v = rescaled_pair(acc[first + 4 * j + 2 * h], acc[first + 4 * j + 2 * h + 1], sx[h], s, b, has_bias);
      packed[2 * j + h] = packed_pair<OutT>(v.x, v.y);
    }
  }
  if (leader) bulk_wait_read<0>();
  consumer_sync(consumer);  // the buffer is free
  // stmatrix q writes the 8 × 8 matrices (h 0, j 2q), (h 1, j 2q), (h 0, j 2q + 1), (h 1, j 2q + 1); lane l gives the
  // address of row l % 8 of matrix l / 8: 16-byte chunk j % 8 of that row of box j / 8, at its swizzled position.
  const int matrix = lane / 8, row = 16 * warp + 8 * (matrix % 2) + lane % 8;
#pragma unroll
  for (int q = 0; q < 8; ++q) {
    const int j = 2 * q + matrix / 2;
    stmatrix_x4(out + (j / 8) * kOutBoxBytes + row * 128 + (((j % 8) ^ (row % 8)) << 4), packed[4 * q], packed[4 * q + 1],
                packed[4 * q + 2], packed[4 * q + 3]);
  }
  fence_shared_for_async_proxy();
  consumer_sync(consumer);  // the part is in the buffer
  if (leader && part_row0 < rows && n0 < n) {
    tma_store_2d(y_map, n0, static_cast<int>(part_row0), out);
    if (n0 + 64 < n) tma_store_2d(y_map, n0 + 64, static_cast<int>(part_row0), out + kOutBoxBytes);
    bulk_commit();
  }
}

// Issues the 64 × BN × 128 product of one k tile in `stage` into acc: x rows a_row0..a_row0 + 63 of the tile's 128
// (8 atoms of 8 rows, 1024 bytes apart), and the BN rows of w stored after them.
template <int BN>
__device__ __forceinline__ void issue_k_tile(int (&acc)[BN / 2], uint32_t stage, int a_row0) {
  const uint64_t a_desc = wgmma_descriptor(stage + a_row0 * kBK, 16, 1024);
  const uint64_t b_desc = wgmma_descriptor(stage + kABytes, 16, 1024);
#pragma unroll
  for (int ks = 0; ks < kBK / 32; ++ks) {
    if constexpr (BN == 256) wgmma_s8_m64n256k32(acc, wgmma_advance(a_desc, 32 * ks), wgmma_advance(b_desc, 32 * ks), true);
    else wgmma_s8_m64n128k32(acc, wgmma_advance(a_desc, 32 * ks), wgmma_advance(b_desc, 32 * ks), true);
  }
}

// The producer: the CTA's tiles in order, each k tile into the next stage of the ring once its readers released it.
// The count of stage uses g runs on across tiles, as in the consumers.
template <typename T>
__device__ __forceinline__ void produce(const CUtensorMap* x_map, const CUtensorMap* w_map, uint32_t base, uint32_t full,
                                        uint32_t empty, int tiles, int64_t rows, int n, int k_tiles) {
  uint32_t g = 0;
  for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
    int64_t m0;
    int n0;
    tile_origin<T::BN>(t, rows, n, m0, n0);
    for (int kt = 0; kt < k_tiles; ++kt, ++g) {
      const uint32_t s = g % T::kStages, stage = base + s * T::kStageBytes;
      mbarrier_wait(empty + 8 * s, ((g / T::kStages) & 1) ^ 1);
      mbarrier_arrive_expecting(full + 8 * s, T::kStageBytes);
      tma_load_2d(stage, x_map, kt * kBK, static_cast<int>(m0), full + 8 * s);
      tma_load_2d(stage + kABytes, w_map, kt * kBK, n0, full + 8 * s);
    }
  }
}

// A consumer's pass over the k tiles of one tile, whose stage uses start at g0: waits for each stage, issues the
// products of its accumulator sets (set p: x rows row0 + 64p .. row0 + 64p + 63 of the tile), and releases the stage
// once they have retired (the last after the final wait).
template <typename T>
__device__ __forceinline__ void consume(int (&acc)[T::kParts][T::BN / 2], int row0, uint32_t base, uint32_t full,
                                        uint32_t empty, uint32_t g0, int k_tiles) {
  const bool releasing = threadIdx.x % 32 == 0;
#pragma unroll
  for (int p = 0; p < T::kParts; ++p)
#pragma unroll
    for (int e = 0; e < T::BN / 2; ++e) acc[p][e] = 0;
  for (int kt = 0; kt < k_tiles; ++kt) {
    const uint32_t g = g0 + kt, s = g % T::kStages;
    mbarrier_wait(full + 8 * s, (g / T::kStages) & 1);
    wgmma_fence();
#pragma unroll
    for (int p = 0; p < T::kParts; ++p) pin_registers(acc[p]);
#pragma unroll
    for (int p = 0; p < T::kParts; ++p) issue_k_tile<T::BN>(acc[p], base + s * T::kStageBytes, row0 + 64 * p);
    wgmma_commit();
    wgmma_wait<1>();  // the previous k tile's products have read their stage...
#pragma unroll
    for (int p = 0; p < T::kParts; ++p) pin_registers(acc[p]);
    if (kt > 0 && releasing) mbarrier_arrive(empty + 8 * ((g - 1) % T::kStages));  // ...which may be refilled
  }
  wgmma_wait<0>();
#pragma unroll
  for (int p = 0; p < T::kParts; ++p) pin_registers(acc[p]);
  if (releasing) mbarrier_arrive(empty + 8 * ((g0 + k_tiles - 1) % T::kStages));
}

// y_map: y's tensor map for the copy engine's stores (kStoreByTma; otherwise unused).
template <int kSchedule, int kMode, typename OutT, bool kStoreByTma>
__global__ void __launch_bounds__(kThreads, 1)
    int8_gemm_wgmma_kernel(const __grid_constant__ CUtensorMap x_map, const __grid_constant__ CUtensorMap w_map,
                           const __grid_constant__ CUtensorMap y_map, const float* __restrict__ x_scale,
                           const float* __restrict__ w_scale, const float* __restrict__ bias, OutT* __restrict__ y,
                           int64_t rows, int n, int k) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using T = Tiling<kSchedule, kStoreByTma>;
  constexpr int BN = T::BN;
  extern __shared__ __align__(kSharedAlign) unsigned char shared_raw[];
  const uint32_t raw = shared_address(shared_raw), base = (raw + kAtomAlign - 1) / kAtomAlign * kAtomAlign;
  // The stages, then each consumer's output buffer (if any), then the tile scales and biases (kChannelCopies × BN
  // each), then the barriers: barrier s of each kind at +8·s; turn[c] (ping-pong): consumer c has issued all the
  // products of a tile.
  const uint32_t out_base = base + T::kStages * T::kStageBytes, channel_base = out_base + 2 * T::kOutBytes;
  const uint32_t full = channel_base + T::kChannelBytes, empty = full + 8 * T::kStages, turn = empty + 8 * T::kStages;
  const int tiles = static_cast<int>(((rows + kBM - 1) / kBM) * ((n + BN - 1) / BN));
  const int k_tiles = (k + kBK - 1) / kBK;
  if (threadIdx.x == 0) {
    for (int s = 0; s < T::kStages; ++s) {
      mbarrier_init(full + 8 * s, 1);
      mbarrier_init(empty + 8 * s, T::kReaders);
    }
    for (int c = 0; c < 2; ++c) mbarrier_init(turn + 8 * c, 4);
    mbarrier_init_fence();
  }
  __syncthreads();

  const int warpgroup = threadIdx.x / 128, warp = (threadIdx.x / 32) % 4;
  if (warpgroup == 0) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (threadIdx.x == 0) produce<T>(&x_map, &w_map, base, full, empty, tiles, rows, n, k_tiles);
    return;
  }
  asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
  const int consumer = warpgroup - 1, channel = threadIdx.x % 128;
  constexpr bool kCooperativeTiles = T::kCooperativeTiles;
  // The channel values of the tile in shared memory: ping-pong consumer c's own copy; the cooperative consumers' one
  // copy, which consumer c fills from channel 128c. Thread `channel` holds (and writes) the tile's channel `mine`.
  float* const scale = reinterpret_cast<float*>(shared_raw + (channel_base - raw)) + (kCooperativeTiles ? 0 : consumer * 2 * BN);
  float* const bias_copy = scale + BN;
  const int mine = (kCooperativeTiles ? 128 * consumer : 0) + channel;
  // Ping-pong: consumer c takes the CTA's tiles c, c + 2, ..., all 128 rows of each. The consumers take turns at the
  // products — tile i's start after tile i − 1's have all been issued — so that a consumer never waits on a stage two
  // uses ahead of it, where a barrier's parity could not tell the uses apart. Cooperative: both take every tile,
  // consumer c rows 64c .. 64c + 63. Either way the CTA's i-th tile's stage uses start at i·k_tiles.
  constexpr bool kScaled = kMode != kRawInt32;
  const int step = kCooperativeTiles ? 1 : 2, row0 = kCooperativeTiles ? 64 * consumer : 0;
  const int first = kCooperativeTiles ? 0 : consumer, stride = step * static_cast<int>(gridDim.x);
  int64_t m0;
  int n0;
  ChannelValue value;
  const int first_tile = static_cast<int>(blockIdx.x) + first * static_cast<int>(gridDim.x);
  if (kScaled && first_tile < tiles) {
    tile_origin<BN>(first_tile, rows, n, m0, n0);
    value.load(w_scale, bias, n0 + mine, n);
  }
  for (int i = first, j = 0, t = first_tile; t < tiles; i += step, ++j, t += stride) {
    tile_origin<BN>(t, rows, n, m0, n0);
    tile_sync<kCooperativeTiles>(consumer);  // every warp is done with the previous tile's scales
    if (kScaled) {
      scale[mine] = value.scale;
      bias_copy[mine] = value.bias;
    }
    float sx[T::kParts][2] = {};
    if (kScaled)
#pragma unroll
      for (int p = 0; p < T::kParts; ++p) load_row_scales(sx[p], x_scale, m0 + row0 + 64 * p + warp * 16, rows);
    if (kScaled && t + stride < tiles) {  // the next tile's channel values, in flight during this tile's products
      int64_t next_m0;
      int next_n0;
      tile_origin<BN>(t + stride, rows, n, next_m0, next_n0);
      value.load(w_scale, bias, next_n0 + mine, n);
    }
    if constexpr (!kCooperativeTiles) {
      if (consumer == 1) mbarrier_wait(turn, j & 1);          // consumer 0's j-th tile
      else if (j > 0) mbarrier_wait(turn + 8, (j - 1) & 1);  // consumer 1's (j − 1)-th tile
    }
    int acc[T::kParts][BN / 2];
    consume<T>(acc, row0, base, full, empty, static_cast<uint32_t>(i) * k_tiles, k_tiles);
    if (!kCooperativeTiles && threadIdx.x % 32 == 0) mbarrier_arrive(turn + 8 * consumer);
    tile_sync<kCooperativeTiles>(consumer);  // the tile's scales are in shared memory
#pragma unroll
    for (int p = 0; p < T::kParts; ++p) {
      const int64_t part_row0 = m0 + row0 + 64 * p;
      if constexpr (kStoreByTma) {
#pragma unroll
        for (int h = 0; h < BN / 128; ++h)  // 128 channels a copy: a ping-pong part, or a cooperative consumer's half
          store_part_by_tma<OutT>(acc[p], 64 * h, sx[p], scale + 128 * h, bias_copy + 128 * h, bias != nullptr,
                                  out_base + consumer * T::kOutBytes, &y_map, part_row0, n0 + 128 * h, rows, n, consumer,
                                  channel == 0);
      } else {
        store_rows<BN, kMode>(acc[p], part_row0 + warp * 16, n0, sx[p], scale, bias_copy, bias != nullptr, y, rows, n);
      }
    }
  }
  if constexpr (kStoreByTma)
    if (channel == 0) bulk_wait_read<0>();  // the buffer stays until its last copy has read it
#endif
}

// A tensor map of the row-major bytes [rows, cols] at `data`, read in boxes of box_rows × 128 bytes, 128-byte swizzled.
int encode_rows(const char* fn, CUtensorMap* map, const int8_t* data, int64_t rows, int cols, int box_rows) {
  if (!tensor_map_encoder()) { turbo_set_error(fn, "the CUDA driver has no cuTensorMapEncodeTiled"); return -1; }
  if (!encode_tensor_map_2d(map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, data, rows, cols, 128, box_rows)) {
    turbo_set_error(fn, "cuTensorMapEncodeTiled refused the operand");
    return -1;
  }
  return 0;
}

#endif  // TURBO_HAS_TENSOR_MAPS

#if TURBO_HAS_TENSOR_MAPS
template <typename OutT>
constexpr CUtensorMapDataType output_map_type() {
  return std::is_same_v<OutT, __half> ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
}

template <int kSchedule, int kMode, typename OutT, bool kStoreByTma>
int launch_schedule(const char* fn, const int8_t* x, const float* x_scale, const int8_t* w, const float* w_scale,
                    const float* bias, OutT* y, int64_t rows, int n, int k, void* stream) {
  using T = Tiling<kSchedule, kStoreByTma>;
  CUtensorMap x_map, w_map, y_map;
  if (int rc = encode_rows(fn, &x_map, x, rows, k, kBM)) return rc;
  if (int rc = encode_rows(fn, &w_map, w, n, k, T::BN)) return rc;
  y_map = x_map;  // unused without the copy engine's stores
  if constexpr (kStoreByTma)
    if (!encode_tensor_map_2d(&y_map, output_map_type<OutT>(), 2, y, rows, n, 64, 64)) {
      turbo_set_error(fn, "cuTensorMapEncodeTiled refused the output");
      return -1;
    }
  auto kernel = int8_gemm_wgmma_kernel<kSchedule, kMode, OutT, kStoreByTma>;
  if (int rc = turbo_check(fn, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, T::kSharedBytes))) return rc;
  const int64_t tiles = ((rows + kBM - 1) / kBM) * ((n + T::BN - 1) / T::BN);
  const int64_t ctas = std::min<int64_t>(tiles, device_multiprocessors());
  kernel<<<static_cast<unsigned>(ctas), kThreads, T::kSharedBytes, static_cast<cudaStream_t>(stream)>>>(
      x_map, w_map, y_map, x_scale, w_scale, bias, y, rows, n, k);
  return TURBO_LAUNCH_CHECK(fn);
}

// By measurement (docs/PERF.md): the cooperative schedule's products run faster at every Wan shape, but its epilogue
// stops them, which a k loop of 40 tiles or more pays for once the epilogue leaves through the copy engine (14B's
// k = 5,120 and 13,824, 1.3B's k = 8,960: 5–7% faster than ping-pong); at k = 1,536 (12 tiles) ping-pong stays ahead.
Schedule schedule_for(int k) { return k >= 4096 ? kCooperative : kPingPong; }

// 16-bit outputs whose rows are whole 16-byte pieces (a tensor map's pitch) go out through the copy engine: per warp a
// row's 16 bytes per store instruction otherwise, which held the epilogue up (docs/PERF.md).
template <int kSchedule, int kMode, typename OutT>
int launch_stores(const char* fn, const int8_t* x, const float* x_scale, const int8_t* w, const float* w_scale,
                  const float* bias, OutT* y, int64_t rows, int n, int k, void* stream) {
  if constexpr (kMode == kChannelScale && sizeof(OutT) == 2)
    if (n % 8 == 0 && aligned_to(y, 16))
      return launch_schedule<kSchedule, kMode, OutT, true>(fn, x, x_scale, w, w_scale, bias, y, rows, n, k, stream);
  return launch_schedule<kSchedule, kMode, OutT, false>(fn, x, x_scale, w, w_scale, bias, y, rows, n, k, stream);
}
#endif

template <int kMode, typename OutT>
int launch(const char* fn, const int8_t* x, const float* x_scale, const int8_t* w, const float* w_scale, const float* bias,
           OutT* y, int64_t rows, int n, int k, void* stream) {
#if TURBO_HAS_TENSOR_MAPS
  if (schedule_for(k) == kCooperative)
    return launch_stores<kCooperative, kMode, OutT>(fn, x, x_scale, w, w_scale, bias, y, rows, n, k, stream);
  return launch_stores<kPingPong, kMode, OutT>(fn, x, x_scale, w, w_scale, bias, y, rows, n, k, stream);
#else
  turbo_set_error(fn, "this library was built with a CUDA older than 12.5 (no tensor maps)");
  return -1;
#endif
}

int check_operands(const char* fn, const int8_t* x, const int8_t* w, const void* y, int64_t rows, int n, int k) {
  if (int rc = int8_tiled_operands(fn, x, w, y, rows, n, k)) return rc;
  if (rows > 0x7fffffff) { turbo_set_error(fn, "rows must be below 2^31 (a tensor map's coordinate)"); return -1; }
  if (!sm90a_kernels_available()) {
    turbo_set_error(fn, "the wgmma kernel needs a compute capability 9.0 GPU and a library built for sm_90a");
    return -1;
  }
  return 0;
}
}  // namespace

int int8_wgmma_i32(const int8_t* x, const int8_t* w, int32_t* acc, int64_t rows, int n, int k, cudaStream_t stream) {
  const char* fn = "turbo_int8_matmul_i32 (wgmma)";
  if (int rc = check_operands(fn, x, w, acc, rows, n, k)) return rc;
  return launch<kRawInt32>(fn, x, nullptr, w, nullptr, nullptr, acc, rows, n, k, stream);
}

extern "C" int turbo_int8_linear_wgmma(const int8_t* x, const float* x_scale, const int8_t* w, const float* w_scale,
                                       const float* bias, void* y, int y_dtype, int64_t rows, int n, int k,
                                       void* stream) {
  const char* fn = "turbo_int8_linear_wgmma";
  if (int rc = check_operands(fn, x, w, y, rows, n, k)) return rc;
  if (!valid_dtype(y_dtype)) { turbo_set_error(fn, "unsupported output dtype"); return -1; }
  if (!x_scale || !w_scale) { turbo_set_error(fn, "x_scale and w_scale are required"); return -1; }
  switch (y_dtype) {
    case TURBO_BF16: return launch<kChannelScale>(fn, x, x_scale, w, w_scale, bias, static_cast<__nv_bfloat16*>(y), rows, n, k, stream);
    case TURBO_F16: return launch<kChannelScale>(fn, x, x_scale, w, w_scale, bias, static_cast<__half*>(y), rows, n, k, stream);
    default: return launch<kChannelScale>(fn, x, x_scale, w, w_scale, bias, static_cast<float*>(y), rows, n, k, stream);
  }
}

extern "C" int turbo_int8_wgmma_available(void) {
#if TURBO_HAS_TENSOR_MAPS
  return sm90a_kernels_available() && turbo::tensor_map_encoder() ? 1 : 0;
#else
  return 0;
#endif
}

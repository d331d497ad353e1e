// SLA's linear branch (SageSLA's forward in the packages) in three kernels. With φ = softmax over the head dim, rounded
// to the model's 16-bit dtype as the reference rounds it:
//   key side    KV[d][e] = Σ_t φ(k_t)[d]·v_t[e] and Σφ(k)[d] over a (b, h)'s valid keys, float32, per split of the
//               tokens;
//   fold        F = [KV·Wᵀ | Σφ(k)] with proj_l's W folded in, the splits summed first, rounded to the dtype;
//   query side  out_t = sparse_t + bias + (φ(q_t)·F[:, :D]) / (φ(q_t)·F[:, D] + 1e-5), products and sums in float32,
//               one rounding at the end.
// The key side can also give the Sage preparation its per-channel statistics of k and v (K's smoothing mean, and V's
// E4M3 scales where P·V is E4M3), from the tiles it already holds, so that no other pass reads k and v for them.
// The token-sized products run on tensor cores (mma.sync m16n8k16, fp32 sums). Reference:
// Turbo.Runtime.Attention.SparseLinearAttention.FoldedLinearBranch (the same roundings, torch ops; the exponentials here
// are the fast ones, a float32 ulp or two from torch's, which can move a rounded φ by one 16-bit ulp).
#include <algorithm>
#include <limits>
#include <type_traits>
#include "channel_stats.cuh"
#include "dependent_launch.cuh"
#include "warp_mma.cuh"

namespace {
using namespace turbo;

constexpr float kLinearEps = 1e-5f;
constexpr int kKeyTile = 64;     // tokens per step of the key kernel
constexpr int kQueryTile = 128;  // query rows per step of the query kernel: 8 warps of 16
constexpr int kQueryWarps = kQueryTile / 16;

// Which statistics the key kernel gives besides its sums.
enum KeyStats { kNoStats = 0, kKeyMean = 1, kKeyMeanAndValueScales = 2 };

// Where the key kernel writes them (fp64 [B·H, splits, D]: each split's column sums of k and column absmax of v over
// its valid tokens, as attention_prep.cu's statistics pass), or nulls.
struct KeyValueStats {
  double* k_sum;
  double* v_absmax;
};

struct View {
  const uint16_t* data;
  int64_t stride_b, stride_h, stride_l;
  __device__ const uint16_t* row(int64_t b, int64_t h, int64_t t) const {
    return data + b * stride_b + h * stride_h + t * stride_l;
  }
};

template <typename T> __device__ __forceinline__ uint32_t pack2(float a, float b);
template <> __device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float a, float b) {
  const __nv_bfloat162 p = __floats2bfloat162_rn(a, b);
  return *reinterpret_cast<const uint32_t*>(&p);
}
template <> __device__ __forceinline__ uint32_t pack2<__half>(float a, float b) {
  const __half2 p = __floats2half2_rn(a, b);
  return *reinterpret_cast<const uint32_t*>(&p);
}
template <typename T> __device__ __forceinline__ float2 unpack2(uint32_t w);
template <> __device__ __forceinline__ float2 unpack2<__nv_bfloat16>(uint32_t w) {
  return make_float2(__uint_as_float(w << 16), __uint_as_float(w & 0xffff0000u));
}
template <> __device__ __forceinline__ float2 unpack2<__half>(uint32_t w) {
  return __half22float2(*reinterpret_cast<const __half2*>(&w));
}

template <typename T>
__device__ __forceinline__ void mma_16bit(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T, __half>) {
    mma_f16(d, a, b0, b1);
  } else {
    mma_bf16(d, a, b0, b1);
  }
}

// Element (row, c) of a tile with D-element rows in swizzled 16-byte chunks (ldmatrix reads without bank conflicts).
template <int D>
__device__ __forceinline__ int tile_index(int row, int c) {
  return swizzled_chunk<D / 8>(row, c / 8) * 8 + c % 8;
}

// The element a lane gives ldmatrix_x4 for the 16 × 16 block at rows row0 …, columns 16·i … of a tile (matrices in
// A-fragment order: rows 0–7 then 8–15 of columns 0–7, then of columns 8–15). Chunks 2i and 2i + 1 XOR row % 8 only in
// their low three bits, so blocks i and i + 4 lie a constant 64 elements apart: four places (i = 0 … 3, made once)
// serve every block of a row, through block_at.
template <int D>
__device__ __forceinline__ int fragment_place(int lane, int row0, int i) {
  return tile_index<D>(row0 + (lane & 7) + ((lane >> 3) & 1) * 8, 16 * i + (lane >> 4) * 8);
}
// Shared address of block i, `offset` elements further on, from the four places of fragment_place as shared addresses
// (one sum of constants, so that a place plus an immediate addresses every block).
__device__ __forceinline__ uint32_t block_at(const uint32_t (&places)[4], int i, int offset = 0) {
  return places[i % 4] + (64 * (i / 4) + offset) * static_cast<int>(sizeof(uint16_t));
}

constexpr float kLog2E = 1.4426950408889634f;

// A thread's share of moving a tile of kRows rows of D 16-bit elements between global rows and a swizzled shared tile,
// kThreads threads at a time: the thread always takes chunk threadIdx % chunks of the rows threadIdx / chunks + j·step
// (step = kThreads / chunks, a multiple of 8, so each of its rows has the same swizzle: one shared address plus
// constants). The global side is a pointer advanced by step rows: no index arithmetic per chunk beyond that add.
template <int D, int kRows, int kThreads>
struct TileRows {
  static constexpr int kChunks = D / 8, kStep = kThreads / kChunks, kPerThread = kRows / kStep;
  static_assert(kStep % 8 == 0 && kRows % kStep == 0, "whole passes of rows with one swizzle");
  static __device__ __forceinline__ int row() { return threadIdx.x / kChunks; }
  static __device__ __forceinline__ int chunk() { return threadIdx.x % kChunks; }
  // The thread's first place in a tile at shared address `tile`; its j-th is this plus j·kStep rows.
  static __device__ __forceinline__ uint32_t shared_place(uint32_t tile) {
    return tile + swizzled_chunk<kChunks>(row(), chunk()) * 16;
  }

  // Rows first_row, first_row + stride, … (live_rows of them valid, the rest become zeros) into the tile, by
  // asynchronous copies; the caller commits the group.
  static __device__ __forceinline__ void load(uint32_t tile, const uint16_t* first_row, int64_t stride, int64_t live_rows) {
    const uint16_t* src = first_row + row() * stride + chunk() * 8;
    const uint32_t dst = shared_place(tile);
#pragma unroll
    for (int j = 0; j < kPerThread; ++j, src += kStep * stride) {
      const bool live = row() + j * kStep < live_rows;
      cp_async_16(dst + j * kStep * kChunks * 16, live ? src : first_row, live);  // any valid address when nothing is read
    }
  }

  // The tile's first live_rows rows to first_row, first_row + stride, … in 16-byte stores.
  static __device__ __forceinline__ void store(const uint16_t* tile, uint16_t* first_row, int64_t stride, int64_t live_rows) {
    uint16_t* dst = first_row + row() * stride + chunk() * 8;
    const uint16_t* src = tile + swizzled_chunk<kChunks>(row(), chunk()) * 8;
#pragma unroll
    for (int j = 0; j < kPerThread; ++j, dst += kStep * stride)
      if (row() + j * kStep < live_rows)
        *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src + j * kStep * D);
  }
};

// One block per (b·H + h, split of tokens); D/16 warps, warp w owns rows 16w..16w+15 of KV (channels d of φ(k)). The
// raw k and v rows of each 64-token step arrive by asynchronous copies into a two-stage ring of swizzled tiles (the
// next step's copies fly while this one computes; no registers hold them, so two blocks fit per SM). Each step: every
// quad of lanes turns a row of k into φ(k) (a lane holds D/4 channels, whole 16-byte chunks, so a row's max and sum
// take two shuffles, not five) in a shared tile, then KV += φ(k)ᵀ·v with both operands through ldmatrix.trans, v
// straight from its stage. Σφ(k) comes from the same products: φ(k)ᵀ times a column of ones (one more 8-column tile).
// kStats: each thread also sums 4 channels of k (float64: exact for 16-bit values, so in any order the sum the
// statistics pass makes) and, with kKeyMeanAndValueScales, takes the absmax of the same 4 channels of v, over every
// (2·D / (D/4))-th row of each step's tiles (rows past the end are zeros: they add nothing); the row groups meet in
// shared memory at the end.
template <int D, typename T, KeyStats kStats>
__global__ void __launch_bounds__(2 * D, 2) sla_key_sums_kernel(View k, View v, const int32_t* __restrict__ key_lengths,
                                                                int64_t heads, int64_t length, int64_t tokens_per_split,
                                                                float* __restrict__ kv_partial, float* __restrict__ ksum_partial,
                                                                KeyValueStats stats) {
  constexpr int kChunks = D / 8, kTile = kKeyTile * D;
  constexpr int kStatLanes = D / 4, kStatRows = 2 * D / kStatLanes;  // threads per row (4 channels each), rows at once
  constexpr int kQuads = 2 * D / 4, kRowsPerQuad = kKeyTile / kQuads, kChunksPerLane = kChunks / 4;
  static_assert(kKeyTile % kQuads == 0 && kChunks % 4 == 0, "whole rows per quad, whole chunks per lane");
  extern __shared__ __align__(16) uint16_t key_shared[];
  uint16_t* raw_k = key_shared;          // [2][kKeyTile][D]
  uint16_t* raw_v = raw_k + 2 * kTile;   // [2][kKeyTile][D]
  uint16_t* phi = raw_v + 2 * kTile;     // [kKeyTile][D]
  wait_for_previous_grid();
  allow_next_grid();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, quad = threadIdx.x / 4, part = threadIdx.x % 4;
  const int64_t bh = blockIdx.x, split = blockIdx.y, b = bh / heads, h = bh % heads;
  const int64_t valid = key_lengths ? min(static_cast<int64_t>(key_lengths[b]), length) : length;
  const int64_t begin = split * tokens_per_split, end = min(begin + tokens_per_split, valid);

  using Rows = TileRows<D, kKeyTile, 2 * D>;
  const uint16_t* k_head = k.row(b, h, 0);
  const uint16_t* v_head = v.row(b, h, 0);
  // The step at `start` into stage `stage`; rows past `end` become zeros.
  auto load_step = [&](int64_t start, int stage) {
    Rows::load(shared_address(raw_k + stage * kTile), k_head + start * k.stride_l, k.stride_l, end - start);
    Rows::load(shared_address(raw_v + stage * kTile), v_head + start * v.stride_l, v.stride_l, end - start);
    cp_async_commit();
  };

  float acc[D / 8][4] = {};
  double k_sum[4] = {};
  float v_absmax[4] = {};
  float ksum_acc[4] = {};  // column 0 of φ(k)ᵀ·[1 0 … 0]: Σφ(k) of rows g and g + 8 in the quads' first lanes
  // B fragment of a 16×8 tile whose first column is ones: lanes 0–3 hold column 0.
  const uint32_t ones = lane < 4 ? pack2<T>(1.f, 1.f) : 0u;
  // The lanes' ldmatrix rows, as byte offsets in a tile, for the first k-step of 16 tokens (the others are 16·D elements
  // further on). φ(k)ᵀ: this warp's 16 channels. v: the four places of fragment_place.
  const int a_offset = tile_index<D>((lane & 7) + ((lane >> 4) << 3), 16 * warp + ((lane >> 3) & 1) * 8) * 2;
  int v_offset[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) v_offset[i] = fragment_place<D>(lane, 0, i) * 2;
  if (begin < end) load_step(begin, 0);
  int stage = 0;
  for (int64_t start = begin; start < end; start += kKeyTile, stage ^= 1) {
    if (start + kKeyTile < end) {
      load_step(start + kKeyTile, stage ^ 1);
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();  // this step's rows have landed for every thread
    const uint16_t* ks = raw_k + stage * kTile;
    const uint16_t* vs = raw_v + stage * kTile;
#pragma unroll
    for (int r = 0; r < kRowsPerQuad; ++r) {
      const int row = r * kQuads + quad;
      const bool live = start + row < end;
      float x[kChunksPerLane][8];
#pragma unroll
      for (int c = 0; c < kChunksPerLane; ++c) {
        const uint4 words = *reinterpret_cast<const uint4*>(&ks[swizzled_chunk<kChunks>(row, part + 4 * c) * 8]);
        const uint32_t w[4] = {words.x, words.y, words.z, words.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const float2 pair = unpack2<T>(w[i]);
          x[c][2 * i] = pair.x;
          x[c][2 * i + 1] = pair.y;
        }
      }
      float m = x[0][0];
#pragma unroll
      for (int c = 0; c < kChunksPerLane; ++c)
#pragma unroll
        for (int i = 0; i < 8; ++i) m = fmaxf(m, x[c][i]);
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
      const float shift = m * kLog2E;
      float s = 0.f;
#pragma unroll
      for (int c = 0; c < kChunksPerLane; ++c)
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          x[c][i] = exp2_approx(fmaf(x[c][i], kLog2E, -shift));
          s += x[c][i];
        }
      s += __shfl_xor_sync(0xffffffffu, s, 1);
      s += __shfl_xor_sync(0xffffffffu, s, 2);
      const float inv = live ? 1.f / s : 0.f;  // a token past the end (or the key length) adds nothing
#pragma unroll
      for (int c = 0; c < kChunksPerLane; ++c) {
        uint32_t w[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) w[i] = pack2<T>(x[c][2 * i] * inv, x[c][2 * i + 1] * inv);
        *reinterpret_cast<uint4*>(&phi[swizzled_chunk<kChunks>(row, part + 4 * c) * 8]) = make_uint4(w[0], w[1], w[2], w[3]);
      }
    }
    if constexpr (kStats != kNoStats) {
      const int lane4 = threadIdx.x % kStatLanes;  // channels 4·lane4 .. 4·lane4 + 3
#pragma unroll
      for (int i = 0; i < kKeyTile / kStatRows; ++i) {  // a fixed count, so that every row's loads issue together
        const int row = threadIdx.x / kStatLanes + i * kStatRows;
        const int at = swizzled_chunk<kChunks>(row, lane4 / 2) * 8 + (lane4 % 2) * 4;
        const uint2 kw = *reinterpret_cast<const uint2*>(&ks[at]);
        const float2 k01 = unpack2<T>(kw.x), k23 = unpack2<T>(kw.y);
        k_sum[0] += k01.x;
        k_sum[1] += k01.y;
        k_sum[2] += k23.x;
        k_sum[3] += k23.y;
        if constexpr (kStats == kKeyMeanAndValueScales) {
          const uint2 vw = *reinterpret_cast<const uint2*>(&vs[at]);
          const float2 v01 = unpack2<T>(vw.x), v23 = unpack2<T>(vw.y);
          v_absmax[0] = fmaxf(v_absmax[0], fabsf(v01.x));
          v_absmax[1] = fmaxf(v_absmax[1], fabsf(v01.y));
          v_absmax[2] = fmaxf(v_absmax[2], fabsf(v23.x));
          v_absmax[3] = fmaxf(v_absmax[3], fabsf(v23.y));
        }
      }
    }
    __syncthreads();
    const uint32_t phi_at = shared_address(phi) + a_offset;
    uint32_t v_at[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) v_at[i] = shared_address(vs) + v_offset[i];
#pragma unroll
    for (int s = 0; s < kKeyTile / 16; ++s) {
      uint32_t a[4];
      ldmatrix_x4_trans(a, phi_at + 16 * s * D * 2);
      mma_16bit<T>(ksum_acc, a, ones, ones);
#pragma unroll
      for (int p = 0; p < D / 16; ++p) {
        uint32_t bf[4];
        ldmatrix_x4_trans(bf, block_at(v_at, p, 16 * s * D));
        mma_16bit<T>(acc[2 * p], a, bf[0], bf[1]);
        mma_16bit<T>(acc[2 * p + 1], a, bf[2], bf[3]);
      }
    }
    __syncthreads();  // phi and this stage are free for the next steps
  }

  const int g = lane / 4, q4 = lane % 4;
  float* kv = kv_partial + (split * gridDim.x + bh) * D * D;
#pragma unroll
  for (int j = 0; j < D / 8; ++j) {
    const int d = 16 * warp + g, e = 8 * j + 2 * q4;
    *reinterpret_cast<float2*>(&kv[d * D + e]) = make_float2(acc[j][0], acc[j][1]);
    *reinterpret_cast<float2*>(&kv[(d + 8) * D + e]) = make_float2(acc[j][2], acc[j][3]);
  }
  if (q4 == 0) {
    float* ksum = ksum_partial + (split * gridDim.x + bh) * D + 16 * warp + g;
    ksum[0] = ksum_acc[0];
    ksum[8] = ksum_acc[2];
  }
  if constexpr (kStats != kNoStats) {
    // The row groups' values meet in the φ tile (free since the loop's last barrier), summed in a fixed order.
    double* group_sums = reinterpret_cast<double*>(phi);                        // [kStatRows][D]
    float* group_absmax = reinterpret_cast<float*>(group_sums + kStatRows * D);  // [kStatRows][D]
    static_assert(kStatRows * D * (sizeof(double) + sizeof(float)) <= kTile * sizeof(uint16_t), "fits in the φ tile");
    const int group = threadIdx.x / kStatLanes, first = 4 * (threadIdx.x % kStatLanes);
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      group_sums[group * D + first + c] = k_sum[c];
      if constexpr (kStats == kKeyMeanAndValueScales) group_absmax[group * D + first + c] = v_absmax[c];
    }
    __syncthreads();
    if (threadIdx.x < D) {
      double total = 0.0;
      float amax = 0.f;
#pragma unroll
      for (int r = 0; r < kStatRows; ++r) {
        total += group_sums[r * D + threadIdx.x];
        if constexpr (kStats == kKeyMeanAndValueScales) amax = fmaxf(amax, group_absmax[r * D + threadIdx.x]);
      }
      const int64_t at = (bh * gridDim.y + split) * D + threadIdx.x;
      stats.k_sum[at] = total;
      if constexpr (kStats == kKeyMeanAndValueScales) stats.v_absmax[at] = amax;
    }
  }
}

// Blocks of 8 warps of 16 rows, gridDim.y of them per b·H + h; block y takes the head's tiles of 128 query rows y,
// y + gridDim.y, … (the blocks running together cover neighbouring tokens of every head), and the host sizes the grid
// to the blocks that fit on the device at once. Fᵀ ([D + 16, D]: output column n by channel d; row D is Σφ(k), rows past
// it zero) stays in shared memory. A tile's q and sparse rows arrive by asynchronous copies, 16 bytes per thread and
// step, into swizzled tiles, pipelined across tiles: the next tile's q is asked for as soon as this one's is in
// registers, and its sparse rows as soon as this tile has left, so that the copies fly while the block computes. q goes
// into A fragments, whose rows get their softmax from the quad that holds them; φ(q)·F runs on tensor cores, first the
// normaliser's columns, then the output's in two halves (fewer accumulators live at once: two blocks fit per SM). Each
// output pair is written over its sparse pair in shared memory, and the finished tile leaves in 16-byte stores, whole
// rows at once.
template <int D, typename T>
__global__ void __launch_bounds__(32 * kQueryWarps, 2) sla_linear_out_kernel(View q, const uint16_t* __restrict__ folded_t,
                                                                             const float* __restrict__ bias, View sparse,
                                                                             uint16_t* __restrict__ out, int64_t out_stride_b,
                                                                             int64_t out_stride_h, int64_t out_stride_l,
                                                                             int64_t heads, int64_t length) {
  constexpr int kN = D + 16, kChunks = D / 8, kSteps = D / 16, kHalfTiles = D / 16;  // n-tiles of 8 per half
  extern __shared__ __align__(16) uint16_t shared[];
  uint16_t* f = shared;                        // [kN][D]
  uint16_t* q_tile = f + kN * D;               // [kQueryTile][D]
  uint16_t* s_tile = q_tile + kQueryTile * D;  // [kQueryTile][D]: the sparse rows, then the output rows
  float* bias_s = reinterpret_cast<float*>(s_tile + kQueryTile * D);  // [D]
  wait_for_previous_grid();
  allow_next_grid();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, q4 = lane % 4;
  const int64_t bh = blockIdx.x, b = bh / heads, h = bh % heads;
  const int64_t tiles = (length + kQueryTile - 1) / kQueryTile;
  // The lanes' ldmatrix rows in the q and sparse tiles (this warp's 16 rows): the four places of fragment_place.
  uint32_t q_at[4], s_at[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    q_at[i] = shared_address(q_tile + fragment_place<D>(lane, 16 * warp, i));
    s_at[i] = shared_address(s_tile + fragment_place<D>(lane, 16 * warp, i));
  }

  using Rows = TileRows<D, kQueryTile, 32 * kQueryWarps>;
  const uint16_t* q_head = q.row(b, h, 0);
  const uint16_t* sparse_head = sparse.row(b, h, 0);
  // The rows of tile `tile` of q or the sparse output into `dst`, as one group of copies; rows past the end become zeros.
  auto load_tile = [&](const uint16_t* head, int64_t stride, uint16_t* dst, int64_t tile) {
    const int64_t first = tile * kQueryTile;
    Rows::load(shared_address(dst), head + first * stride, stride, length - first);
    cp_async_commit();
  };

  int64_t tile = blockIdx.y;
  if (tile >= tiles) return;
  uint16_t* out_head = out + b * out_stride_b + h * out_stride_h;
  for (int i = threadIdx.x; i < D; i += blockDim.x) bias_s[i] = bias[i];  // seen after the first barrier below
  const uint16_t* fsrc = folded_t + bh * kN * D;
  for (int i = threadIdx.x; i < kN * kChunks; i += blockDim.x)
    cp_async_16(&f[swizzled_chunk<kChunks>(i / kChunks, i % kChunks) * 8], fsrc + i * 8);
  load_tile(q_head, q.stride_l, q_tile, tile);  // one group with F
  load_tile(sparse_head, sparse.stride_l, s_tile, tile);
  for (; tile < tiles; tile += gridDim.y) {
    const int64_t next = tile + gridDim.y;
    const bool has_next = next < tiles;
    cp_async_wait<1>();  // in flight: at most this tile's sparse rows, so F and its q have landed
    __syncthreads();

    // φ(q) in A fragments: a[s] holds rows g and g+8 of this warp's 16, channels 16s + 2·q4 (+1) and 16s + 8 + 2·q4 (+1).
    uint32_t a[kSteps][4];
#pragma unroll
    for (int s = 0; s < kSteps; ++s) ldmatrix_x4(a[s], block_at(q_at, s));
    __syncthreads();  // every warp holds its q: the tile is free for the next one's
    if (has_next) load_tile(q_head, q.stride_l, q_tile, next);
#pragma unroll
    for (int half = 0; half < 2; ++half) {  // registers 0, 2 are row g; 1, 3 are row g + 8
      float m = -INFINITY;
#pragma unroll
      for (int s = 0; s < kSteps; ++s)
#pragma unroll
        for (int r = half; r < 4; r += 2) {
          const float2 x = unpack2<T>(a[s][r]);
          m = fmaxf(m, fmaxf(x.x, x.y));
        }
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
      const float shift = m * kLog2E;
      float e[kSteps][2][2];  // the half's exponentials, kept for φ (no accumulator is live yet: registers are free)
      float sum = 0.f;
#pragma unroll
      for (int s = 0; s < kSteps; ++s)
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          const float2 x = unpack2<T>(a[s][half + 2 * i]);
          e[s][i][0] = exp2_approx(fmaf(x.x, kLog2E, -shift));
          e[s][i][1] = exp2_approx(fmaf(x.y, kLog2E, -shift));
          sum += e[s][i][0] + e[s][i][1];
        }
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const float inv = 1.f / sum;
#pragma unroll
      for (int s = 0; s < kSteps; ++s)
#pragma unroll
        for (int i = 0; i < 2; ++i) a[s][half + 2 * i] = pack2<T>(e[s][i][0] * inv, e[s][i][1] * inv);
    }

    // φ(q)·F over the 16 columns that start at 16·p (two n-tiles of 8).
    auto product = [&](float (&acc)[2][4], int p) {
#pragma unroll
      for (int s = 0; s < kSteps; ++s) {
        uint32_t bf[4];
        const int row = 16 * p + (lane & 7) + (lane >> 4) * 8, chunk = 2 * s + ((lane >> 3) & 1);
        ldmatrix_x4(bf, &f[swizzled_chunk<kChunks>(row, chunk) * 8]);
        mma_16bit<T>(acc[0], a[s], bf[0], bf[1]);
        mma_16bit<T>(acc[1], a[s], bf[2], bf[3]);
      }
    };
    // Column D (element 0 of the quad's first thread in the first n-tile) is the normaliser of rows g and g + 8.
    float norm_acc[2][4] = {};
    product(norm_acc, D / 16);
    // Each row's numerators are multiplied by its reciprocal (a float32 ulp from dividing): a division per element
    // costs more, and far more for a zero numerator (an untrained proj_l), which leaves the division's fast path.
    const float inverse[2] = {1.f / (__shfl_sync(0xffffffffu, norm_acc[0][0], lane & ~3) + kLinearEps),
                              1.f / (__shfl_sync(0xffffffffu, norm_acc[0][2], lane & ~3) + kLinearEps)};
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float acc[kHalfTiles / 2][2][4] = {};
#pragma unroll
      for (int p = 0; p < kHalfTiles / 2; ++p) product(acc[p], half * kHalfTiles / 2 + p);
      if (half == 0) {  // this tile's sparse rows are needed from here on
        if (has_next) {
          cp_async_wait<1>();  // the next tile's q may still be in flight
        } else {
          cp_async_wait<0>();
        }
        __syncthreads();
      }
#pragma unroll
      for (int p = 0; p < kHalfTiles / 2; ++p) {
        // The sparse rows of these 16 columns in the accumulators' layout: word 2n + r is row g + 8r, columns
        // 16·column + 8n + 2·q4 and + 1, as acc[p][n][2r], [2r + 1].
        const int column = half * kHalfTiles / 2 + p;
        const uint32_t at = block_at(s_at, column);
        uint32_t w[4];
        ldmatrix_x4(w, at);
#pragma unroll
        for (int n = 0; n < 2; ++n) {
          const float2 b2 = *reinterpret_cast<const float2*>(&bias_s[16 * column + 8 * n + 2 * q4]);
#pragma unroll
          for (int r = 0; r < 2; ++r) {  // rows g and g + 8
            const float2 base = unpack2<T>(w[2 * n + r]);
            w[2 * n + r] = pack2<T>(base.x + b2.x + acc[p][n][2 * r] * inverse[r], base.y + b2.y + acc[p][n][2 * r + 1] * inverse[r]);
          }
        }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
        stmatrix_x4(at, w[0], w[1], w[2], w[3]);
#else
#pragma unroll
        for (int i = 0; i < 4; ++i)
          *reinterpret_cast<uint32_t*>(&s_tile[tile_index<D>(16 * warp + g + 8 * (i % 2), 16 * column + 8 * (i / 2) + 2 * q4)]) = w[i];
#endif
      }
    }
    __syncthreads();
    const int64_t first = tile * kQueryTile;
    Rows::store(s_tile, out_head + first * out_stride_l, out_stride_l, length - first);
    if (has_next) {
      __syncthreads();  // the tile has left shared memory
      load_tile(sparse_head, sparse.stride_l, s_tile, next);
    }
  }
}

// Fᵀ for the query side from the key side's split sums, one block per (b·H + h, kFoldRows channels d of φ(k)): those
// rows of KV and of Σφ(k), the splits added in split order, then Fᵀ[n][d] = Σ_e W[n][e]·KV[d][e] for every n in
// float32, row D = Σφ(k), rows past it zeros, each value rounded once to the dtype. The reference is the torch ops of
// SparseLinearAttention.FoldedLinearBranch (the sums in another order). Few rows a block, so that many blocks share
// the reads of the splits' sums (latency-bound chains otherwise).
//
// With `overlap` the fold does not wait for the kernel before it on the stream (dependent_launch.cuh): SageSLA launches
// it right after the sparse kernel, whose last wave leaves most multiprocessors idle, and the fold runs there. That is
// safe where the caller guarantees what the fold touches is none of that kernel's business: the key side's sums were
// complete before it started (it began only after its own predecessors had completed), W is the caller's, and
// folded_t was allocated before it was launched, so it cannot be memory that kernel reads and its caller has freed
// since. The fold still waits before it exits, so that whatever comes after it on the stream finds that kernel
// complete too.
constexpr int kFoldRows = 4, kFoldThreads = 256;

template <int D, typename T>
__global__ void __launch_bounds__(kFoldThreads) sla_fold_kernel(const float* __restrict__ kv_partial,
                                                                const float* __restrict__ ksum_partial, int splits,
                                                                const float* __restrict__ weight, uint16_t* __restrict__ folded_t,
                                                                bool overlap) {
  if (!overlap) wait_for_previous_grid();
  allow_next_grid();
  constexpr int kPerThread = kFoldRows * D / kFoldThreads;  // elements of the block's rows a thread sums
  static_assert(kFoldRows == 4 && kPerThread * kFoldThreads == kFoldRows * D, "four outputs a row: one 8-byte store");
  __shared__ __align__(16) float kv[kFoldRows][D];
  const int64_t bh = blockIdx.x, batch_heads = gridDim.x;
  const int d0 = blockIdx.y * kFoldRows;
  {
    // The block's rows are contiguous in each split: thread i sums elements i (and i + kFoldThreads), the loads of
    // several splits issued together.
    const float* from = kv_partial + (bh * D + d0) * D + threadIdx.x;
    float sum[kPerThread] = {};
#pragma unroll 8
    for (int split = 0; split < splits; ++split)
#pragma unroll
      for (int j = 0; j < kPerThread; ++j) sum[j] += from[split * batch_heads * D * D + j * kFoldThreads];
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) (&kv[0][0])[threadIdx.x + j * kFoldThreads] = sum[j];
  }
  __syncthreads();

  // Fᵀ[n][d0 …]: the lanes of a row split e into float4s, so that W's rows are read whole by neighbouring lanes; the
  // block's KV rows stay in registers, and each output is a sum over those lanes.
  constexpr int kLanesPerRow = D / 4, kRowsPerWarp = 32 / kLanesPerRow, kRowsPerPass = kFoldThreads / 32 * kRowsPerWarp;
  const int lane = threadIdx.x % 32, e4 = lane % kLanesPerRow;
  float4 x[kFoldRows];
#pragma unroll
  for (int r = 0; r < kFoldRows; ++r) x[r] = reinterpret_cast<const float4*>(kv[r])[e4];
  uint16_t* const out = folded_t + bh * (D + 16) * D + d0;
  float4 w[D / kRowsPerPass];  // all of the thread's loads of W first: one wait instead of one per row
#pragma unroll
  for (int i = 0; i < D / kRowsPerPass; ++i)
    w[i] = reinterpret_cast<const float4*>(weight + (i * kRowsPerPass + threadIdx.x / kLanesPerRow) * D)[e4];
#pragma unroll
  for (int i = 0; i < D / kRowsPerPass; ++i) {
    const int n = i * kRowsPerPass + threadIdx.x / kLanesPerRow;
    float dot[kFoldRows];
#pragma unroll
    for (int r = 0; r < kFoldRows; ++r) {
      dot[r] = fmaf(w[i].w, x[r].w, fmaf(w[i].z, x[r].z, fmaf(w[i].y, x[r].y, w[i].x * x[r].x)));
#pragma unroll
      for (int offset = kLanesPerRow / 2; offset > 0; offset /= 2) dot[r] += __shfl_xor_sync(0xffffffffu, dot[r], offset);
    }
    if (e4 == 0) *reinterpret_cast<uint2*>(out + n * D) = make_uint2(pack2<T>(dot[0], dot[1]), pack2<T>(dot[2], dot[3]));
  }
  // Row D: Σφ(k); rows D + 1 … D + 15: zeros.
  if (threadIdx.x < 16 * kFoldRows) {
    const int row = threadIdx.x / kFoldRows, d = threadIdx.x % kFoldRows;
    float value = 0.f;
    if (row == 0)
      for (int split = 0; split < splits; ++split) value += ksum_partial[(split * batch_heads + bh) * D + d0 + d];
    out[(D + row) * D + d] = static_cast<uint16_t>(pack2<T>(value, 0.f) & 0xffffu);
  }
  wait_for_previous_grid();
}

View view_of(const void* data, const int64_t* strides) {
  return View{static_cast<const uint16_t*>(data), strides[0], strides[1], strides[2]};
}

const char* invalid_shape(int dtype, int64_t batch, int64_t heads, int64_t length, int dim) {
  if (dtype != TURBO_BF16 && dtype != TURBO_F16) return "dtype must be bf16 or f16";
  if (dim != 64 && dim != 128) return "dim must be 64 or 128";
  if (batch < 1 || heads < 1 || batch * heads > 65535) return "batch·heads must be in 1..65535";
  if (length < 1) return "length must be positive";
  return nullptr;
}

// How many blocks of `kernel` the device runs at once (its occupancy times the multiprocessors; at least one). The
// kernel's dynamic shared memory limit must be set first.
template <typename Kernel>
int64_t resident_blocks(Kernel kernel, int threads, int smem) {
  int per_sm = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, smem) != cudaSuccess) {
    cudaGetLastError();  // a failed query must not linger as the next call's error
    per_sm = 1;
  }
  return static_cast<int64_t>(std::max(per_sm, 1)) * device_multiprocessors();
}

template <int D>
constexpr int key_sums_smem() {
  return 5 * kKeyTile * D * static_cast<int>(sizeof(uint16_t));  // two stages of k and v, and φ(k)
}

// The split of turbo_sla_key_tokens_per_split: the multiple of 64 tokens whose blocks finish soonest, counted as the
// waves of blocks the device runs at once times each block's steps, plus about two steps for writing its D × D partial
// sums (which the caller reads again). Splitting by a fixed count instead left, e.g., 384 blocks of 16 steps at the
// 1.3B shape to 264 places: a second wave, under half full.
int64_t best_tokens_per_split(int64_t batch_heads, int64_t length, int64_t resident) {
  constexpr int64_t kBlockCostInSteps = 2;
  const int64_t steps = (length + kKeyTile - 1) / kKeyTile;
  const int64_t shortest = std::max<int64_t>(1, (steps + 65534) / 65535);  // at most 65535 splits
  int64_t best = steps, best_cost = std::numeric_limits<int64_t>::max();
  for (int64_t per = steps; per >= shortest; --per) {  // from the longest split down: a tie keeps fewer partial sums
    const int64_t blocks = batch_heads * ((steps + per - 1) / per);
    const int64_t cost = (blocks + resident - 1) / resident * (per + kBlockCostInSteps);
    if (cost < best_cost) {
      best_cost = cost;
      best = per;
    }
  }
  return best * kKeyTile;
}

template <int D>
int64_t key_sums_resident_blocks() {
  // Once per process and head dim, as device_multiprocessors: the occupancy does not change between calls.
  static const int64_t count = [] {
    const auto kernel = sla_key_sums_kernel<D, __nv_bfloat16, kKeyMean>;  // every instantiation fits as many per SM
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, key_sums_smem<D>()) != cudaSuccess) {
      cudaGetLastError();
      return static_cast<int64_t>(device_multiprocessors());
    }
    return resident_blocks(kernel, 2 * D, key_sums_smem<D>());
  }();
  return count;
}

template <int D, typename T>
int launch_key_sums(View k, View v, const int32_t* key_lengths, int64_t batch, int64_t heads, int64_t length,
                    int64_t tokens_per_split, float* kv_partial, float* ksum_partial, const KeyValueStats& stats,
                    cudaStream_t s) {
  const char* fn = "turbo_sla_key_sums";
  // b·H + h fastest: the blocks running together read whole token rows of the token-major tensors.
  const int64_t splits = (length + tokens_per_split - 1) / tokens_per_split;
  const dim3 grid(static_cast<unsigned>(batch * heads), static_cast<unsigned>(splits));
  constexpr int smem = key_sums_smem<D>();
  const auto kernel = !stats.k_sum      ? sla_key_sums_kernel<D, T, kNoStats>
                      : !stats.v_absmax ? sla_key_sums_kernel<D, T, kKeyMean>
                                        : sla_key_sums_kernel<D, T, kKeyMeanAndValueScales>;
  if (int err = turbo_check(fn, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem))) return err;
  return turbo_check(fn, launch_dependent(kernel, grid, 2 * D, smem, s, k, v, key_lengths, heads, length, tokens_per_split,
                                          kv_partial, ksum_partial, stats));
}

template <int D, typename T>
int launch_linear_out(View q, const uint16_t* folded_t, const float* bias, View sparse, uint16_t* out, const int64_t* out_strides,
                      int64_t batch, int64_t heads, int64_t length, cudaStream_t s) {
  constexpr int smem = ((D + 16) * D + 2 * kQueryTile * D) * static_cast<int>(sizeof(uint16_t)) + D * static_cast<int>(sizeof(float));
  const auto kernel = sla_linear_out_kernel<D, T>;
  if (int err = turbo_check("turbo_sla_linear_out", cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem)))
    return err;
  const int64_t tiles = (length + kQueryTile - 1) / kQueryTile;
  // Every (b, h) gets an equal share of the blocks that run at once, each block a strided share of its tiles; b·H + h
  // fastest, so that the blocks running together read whole token rows of the token-major tensors.
  static const int64_t resident = resident_blocks(kernel, 32 * kQueryWarps, smem);  // once per instantiation
  const int64_t per_head = std::clamp<int64_t>(resident / (batch * heads), 1, std::min<int64_t>(tiles, 65535));
  const dim3 grid(static_cast<unsigned>(batch * heads), static_cast<unsigned>(per_head));
  return turbo_check("turbo_sla_linear_out", launch_dependent(kernel, grid, 32 * kQueryWarps, smem, s, q, folded_t, bias, sparse,
                                                              out, out_strides[0], out_strides[1], out_strides[2], heads, length));
}
}  // namespace

extern "C" int turbo_sla_key_sums(const void* k, const int64_t* k_strides, const void* v, const int64_t* v_strides, int dtype,
                                  const int32_t* key_lengths, int64_t batch, int64_t heads, int64_t length, int dim,
                                  int64_t tokens_per_split, float* kv_partial, float* ksum_partial, double* stats_partial,
                                  float* k_mean, float* v_scales, void* stream) {
  const char* fn = "turbo_sla_key_sums";
  const char* why = invalid_shape(dtype, batch, heads, length, dim);
  const bool with_stats = k_mean || v_scales;
  if (!why && (!k || !v || !k_strides || !v_strides || !kv_partial || !ksum_partial)) why = "null buffer";
  if (!why && with_stats && (!k_mean || !stats_partial)) why = "v_scales needs k_mean, and k_mean needs stats_partial";
  if (!why && (tokens_per_split < kKeyTile || tokens_per_split % kKeyTile != 0)) why = "tokens_per_split must be a positive multiple of 64";
  if (!why && (length + tokens_per_split - 1) / tokens_per_split > 65535) why = "too many splits (at most 65535)";
  if (!why && (!aligned_rows(k, k_strides) || !aligned_rows(v, v_strides))) why = "k and v rows must be 16-byte aligned";
  if (why) { turbo_set_error(fn, why); return -1; }
  const auto s = static_cast<cudaStream_t>(stream);
  const View kv = view_of(k, k_strides), vv = view_of(v, v_strides);
  const int64_t splits = (length + tokens_per_split - 1) / tokens_per_split;
  const KeyValueStats stats = KeyValueStats{with_stats ? stats_partial : nullptr,
                                             v_scales ? stats_partial + batch * heads * splits * dim : nullptr};
  int rc;
  if (dtype == TURBO_BF16)
    rc = dim == 64 ? launch_key_sums<64, __nv_bfloat16>(kv, vv, key_lengths, batch, heads, length, tokens_per_split, kv_partial, ksum_partial, stats, s)
                   : launch_key_sums<128, __nv_bfloat16>(kv, vv, key_lengths, batch, heads, length, tokens_per_split, kv_partial, ksum_partial, stats, s);
  else
    rc = dim == 64 ? launch_key_sums<64, __half>(kv, vv, key_lengths, batch, heads, length, tokens_per_split, kv_partial, ksum_partial, stats, s)
                   : launch_key_sums<128, __half>(kv, vv, key_lengths, batch, heads, length, tokens_per_split, kv_partial, ksum_partial, stats, s);
  if (rc || !with_stats) return rc;
  if (int err = finish_channel_stats(fn, stats.k_sum, key_lengths, batch * heads, heads, length, dim, static_cast<int>(splits),
                                     TURBO_STAT_MEAN, k_mean, s))
    return err;
  if (!v_scales) return 0;
  return finish_channel_stats(fn, stats.v_absmax, key_lengths, batch * heads, heads, length, dim, static_cast<int>(splits),
                              TURBO_STAT_E4M3_SCALE, v_scales, s);
}

extern "C" int turbo_sla_linear_out(const void* q, const int64_t* q_strides, const void* folded_t, const float* bias,
                                    const void* sparse, const int64_t* sparse_strides, void* out, const int64_t* out_strides,
                                    int dtype, int64_t batch, int64_t heads, int64_t length, int dim, void* stream) {
  const char* why = invalid_shape(dtype, batch, heads, length, dim);
  if (!why && (!q || !q_strides || !folded_t || !bias || !sparse || !sparse_strides || !out || !out_strides)) why = "null buffer";
  if (!why && (!aligned_rows(q, q_strides) || !aligned_rows(sparse, sparse_strides) || !aligned_rows(out, out_strides) ||
               !aligned_to(folded_t, 16)))
    why = "q, sparse, out and folded_t rows must be 16-byte aligned";
  if (why) { turbo_set_error("turbo_sla_linear_out", why); return -1; }
  const auto s = static_cast<cudaStream_t>(stream);
  const View qv = view_of(q, q_strides), sv = view_of(sparse, sparse_strides);
  const auto f = static_cast<const uint16_t*>(folded_t);
  const auto o = static_cast<uint16_t*>(out);
  if (dtype == TURBO_BF16)
    return dim == 64 ? launch_linear_out<64, __nv_bfloat16>(qv, f, bias, sv, o, out_strides, batch, heads, length, s)
                     : launch_linear_out<128, __nv_bfloat16>(qv, f, bias, sv, o, out_strides, batch, heads, length, s);
  return dim == 64 ? launch_linear_out<64, __half>(qv, f, bias, sv, o, out_strides, batch, heads, length, s)
                   : launch_linear_out<128, __half>(qv, f, bias, sv, o, out_strides, batch, heads, length, s);
}

extern "C" int turbo_sla_fold(const float* kv_partial, const float* ksum_partial, int64_t splits, const float* weight,
                              int dtype, int64_t batch_heads, int dim, void* folded_t, int overlap_previous, void* stream) {
  const char* fn = "turbo_sla_fold";
  const char* why = invalid_shape(dtype, 1, batch_heads, 1, dim);
  if (!why && (!kv_partial || !ksum_partial || !weight || !folded_t)) why = "null buffer";
  if (!why && (splits < 1 || splits > std::numeric_limits<int>::max())) why = "splits must be in 1..2^31-1";
  if (!why && !aligned_to(weight, 16)) why = "weight must be 16-byte aligned";
  if (why) { turbo_set_error(fn, why); return -1; }
  const auto s = static_cast<cudaStream_t>(stream);
  const dim3 grid(static_cast<unsigned>(batch_heads), static_cast<unsigned>(dim / kFoldRows));
  const auto out = static_cast<uint16_t*>(folded_t);
  const int n = static_cast<int>(splits);
  const auto kernel = dtype == TURBO_BF16 ? (dim == 64 ? sla_fold_kernel<64, __nv_bfloat16> : sla_fold_kernel<128, __nv_bfloat16>)
                                          : (dim == 64 ? sla_fold_kernel<64, __half> : sla_fold_kernel<128, __half>);
  return turbo_check(fn, launch_dependent(kernel, grid, kFoldThreads, 0, s, kv_partial, ksum_partial, n, weight, out,
                                          overlap_previous != 0));
}

extern "C" int64_t turbo_sla_key_tokens_per_split(int64_t batch, int64_t heads, int64_t length, int dim) {
  const char* why = invalid_shape(TURBO_BF16, batch, heads, length, dim);
  if (why) {
    turbo_set_error("turbo_sla_key_tokens_per_split", why);
    return -1;
  }
  const int64_t resident = dim == 64 ? key_sums_resident_blocks<64>() : key_sums_resident_blocks<128>();
  return best_tokens_per_split(batch * heads, length, resident);
}

// SageAttention-style flash attention over INT8 q/k codes and 16-bit V (fp16 prepared by attention_prep.cu, or bf16,
// prepared or the caller's own), dense or block-sparse (SLA's kept key blocks). Reference:
// Turbo.Runtime.Attention.SageAttention, block for block.
//
// One CTA per (b·h, query block of BQ rows), one warp per 16 query rows. The query block's codes stay in registers;
// key blocks of BK tokens (int8 K, 16-bit V) stream through shared memory, two stages deep (cp.async, the next tile
// loading while this one computes). Per key block each warp computes S = Q·Kᵀ with INT8 mma (exact INT32 sums),
// dequantizes with (q_scale·k_scale)·softmax_scale·log2(e) (so softmax uses exp2; the reference multiplies in the
// same order, so the scores agree bit for bit), updates the running row max (raised only where a score passes it by
// more than kRowMaxSlack, the reference's RowMaxSlack; O is rescaled only then) and sum in fp32, rounds P to V's type
// (or ×448 to E4M3, stored exactly in fp16) straight from the accumulator registers, and accumulates P·V with FP16 or
// BF16 mma into fp32. Keys past the key length get −∞ before the max, so
// a partial last block is exact; query rows past Lq are computed on the zero padding and not stored.
#pragma once
#include <cuda_fp8.h>
#include <cmath>
#include "common.cuh"
#include "warp_mma.cuh"

namespace turbo {

constexpr float kE4M3Max = 448.f;

// The P·V formats: P rounded to fp16 and V fp16; P ×448 rounded to E4M3 and V E4M3 (both held exactly in fp16, V
// scaled per channel); P rounded to bf16 and V bf16.
enum class PvFormat { kF16, kE4M3, kBf16 };

// How far (log2 units) a row's running max may lag behind its scores: P up to 2^8 is exact enough in fp16 and bf16 and
// spares O most rescales; E4M3's ×448 needs P ≤ 1. The reference's RowMaxSlack.
template <PvFormat F>
constexpr float kRowMaxSlack = F == PvFormat::kE4M3 ? 0.f : 8.f;

template <int D, int BQ, int BK>
struct SageTile {
  static constexpr int kWarps = BQ / 16;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kCodeChunks = D / 16;  // 16-byte chunks in a row of int8 codes
  static constexpr int kValueChunks = D / 8;  // ... in a row of 16-bit values
  static constexpr int kQBytes = BQ * D;
  static constexpr int kKBytes = BK * D;
  static constexpr int kVBytes = BK * D * 2;
  static constexpr int kSharedBytes = kQBytes + 2 * (kKBytes + kVBytes);
  static constexpr int kScoreTiles = BK / 8;  // 16×8 tiles of S per warp
  static constexpr int kQkSteps = D / 32;     // k-steps of 32 channels in Q·Kᵀ
  static constexpr int kOutTiles = D / 8;     // 16×8 tiles of O per warp
  static constexpr int kPvSteps = BK / 16;    // k-steps of 16 keys in P·V
  static_assert(kQkSteps % 2 == 0, "K fragments are loaded two k-steps at a time");
  static_assert((BQ * kCodeChunks) % kThreads == 0 && (BK * kCodeChunks) % kThreads == 0 &&
                    (BK * kValueChunks) % kThreads == 0,
                "every thread copies the same number of 16-byte chunks");
};

__device__ __forceinline__ uint32_t pack_f16(float lo, float hi) {
  const __half2_raw r = __floats2half2_rn(lo, hi);
  return static_cast<uint32_t>(r.x) | (static_cast<uint32_t>(r.y) << 16);
}

// Both values rounded to FP8 E4M3 (nearest even, saturating at ±448), returned as the exactly equal fp16 pair.
__device__ __forceinline__ uint32_t pack_e4m3_as_f16(float lo, float hi) {
  const __half2_raw r = __nv_cvt_fp8x2_to_halfraw2(
      __nv_cvt_float2_to_fp8x2(make_float2(lo, hi), __NV_SATFINITE, __NV_E4M3), __NV_E4M3);
  return static_cast<uint32_t>(r.x) | (static_cast<uint32_t>(r.y) << 16);
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 r = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&r);
}

// Two values of P (already ×448 for E4M3) as the 16-bit pair of the A fragment of P·V.
template <PvFormat F>
__device__ __forceinline__ uint32_t pack_p(float lo, float hi) {
  if constexpr (F == PvFormat::kE4M3) return pack_e4m3_as_f16(lo, hi);
  else if constexpr (F == PvFormat::kBf16) return pack_bf16(lo, hi);
  else return pack_f16(lo, hi);
}

// P of one key block from its scores, tile by tile: p_of(j, e) is value e of score tile j (rows g: e = 0, 1; g+8: e = 2,
// 3). Summed unrounded into this thread's part of the two row sums, rounded into the A fragments of P·V (tiles 2t,
// 2t+1 → k-step t).
template <PvFormat F, int kPvSteps, class PValue>
__device__ __forceinline__ void make_p(PValue p_of, float (&sum)[2], uint32_t (&p_frag)[kPvSteps][4]) {
#pragma unroll
  for (int t = 0; t < kPvSteps; ++t)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int j = 2 * t + half;
      float p[4];
#pragma unroll
      for (int e = 0; e < 4; ++e) p[e] = p_of(j, e);
      sum[0] += p[0] + p[1];
      sum[1] += p[2] + p[3];
      p_frag[t][2 * half] = pack_p<F>(p[0], p[1]);
      p_frag[t][2 * half + 1] = pack_p<F>(p[2], p[3]);
    }
}

// One unit of work of the attention kernels: query block q_block (of q_blocks) of head bh = b·H + h, its codes, the
// head's K codes, V and K scales, and the key blocks it visits (the kept ones, or all up to the key length). The warp
// kernel's CTA takes query block blockIdx.x of head blockIdx.y; the warpgroup kernel's persistent CTAs take several.
template <int D, int BQ, int BK>
struct SageQueryBlock {
  int q_block, q_blocks, tiles;
  int64_t bh, b, h, key_len, k_blocks;
  const int8_t* q_tile;
  const int8_t* k_head;
  const uint16_t* v_head;     // V of head (b, h): 16-bit values, rows v_row_stride apart, v_rows of them
  int64_t v_row_stride, v_rows;
  const float* k_scales;
  const int32_t* kept;

  __device__ explicit SageQueryBlock(const turbo_sage_args& a) : SageQueryBlock(a, blockIdx.x, blockIdx.y, gridDim.x) {}

  __device__ SageQueryBlock(const turbo_sage_args& a, int query_block, int64_t head, int query_blocks) {
    q_block = query_block;
    q_blocks = query_blocks;
    bh = head;
    b = bh / a.heads;
    h = bh % a.heads;
    k_blocks = (a.kv_len + BK - 1) / BK;
    key_len = a.key_lengths ? min(static_cast<int64_t>(a.key_lengths[b]), a.kv_len) : a.kv_len;
    q_tile = a.q_codes + (bh * q_blocks + q_block) * static_cast<int64_t>(BQ) * D;
    k_head = a.k_codes + bh * k_blocks * BK * D;
    v_head = static_cast<const uint16_t*>(a.values) + b * a.value_strides[0] + h * a.value_strides[1];
    v_row_stride = a.value_strides[2];
    v_rows = a.values_len;
    k_scales = a.k_scales + bh * k_blocks;
    kept = a.kept_blocks ? a.kept_blocks + (bh * q_blocks + q_block) * a.max_kept : nullptr;
    tiles = kept ? a.kept_counts[bh * q_blocks + q_block] : static_cast<int>((key_len + BK - 1) / BK);
  }
  // The key block of the i-th tile this CTA visits.
  __device__ int key_block(int i) const { return kept ? kept[i] : i; }
};

// The epilogue of a warp's 16 query rows from `first_row` on: each row's sum of P over the 4 threads that share it,
// out times the sum's reciprocal (· the per-channel V scale for E4M3), rows past Lq dropped. out(n, k) is the
// accumulator register k of the 8-channel tile n (the mma.sync C fragment: rows lane/4 and +8, channels
// 8n + 2·(lane%4) and +1). One reciprocal per row instead of a division per value (a float32 ulp apart, before the
// rounding to the output dtype). 16-bit outputs: the 4 lanes of a row transpose their values of 4 tiles, so that each
// thread stores a tile's 8 channels in one 16-byte store and a quad a row's 64 bytes at once (whole sectors, a
// quarter of the store instructions); float32 outputs: a thread's two channels in one store where the row is aligned
// for it.
template <bool kE4M3, int D, int BQ, int BK, class Accumulator>
__device__ __forceinline__ void store_attention_rows(const turbo_sage_args& a, const SageQueryBlock<D, BQ, BK>& cta,
                                                     int64_t first_row, float (&row_sum)[2], Accumulator out) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 1);
    row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 2);
  }
  const float* const v_scales = a.v_scales ? a.v_scales + cta.bh * D : nullptr;
  auto value = [&](int n, int k, float inverse) {
    const float x = out(n, k) * inverse;
    if constexpr (kE4M3) return x * v_scales[n * 8 + (lane & 3) * 2 + (k & 1)];
    else return x;
  };
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t q = first_row + lane / 4 + 8 * r;
    const bool live = q < a.q_len;  // every lane takes part in the swaps below
    const int64_t row = cta.b * a.out_strides[0] + cta.h * a.out_strides[1] + q * a.out_strides[2];
    const float inverse = 1.f / row_sum[r];  // a row without keys: 0 · ∞ = NaN, as 0 / 0
    if (a.out_dtype == TURBO_F32) {
      if (!live) continue;
      float* const y = static_cast<float*>(a.out) + row;
      const bool paired = reinterpret_cast<uintptr_t>(y) % 8 == 0;
#pragma unroll
      for (int n = 0; n < D / 8; ++n) {
        const int channel = n * 8 + (lane & 3) * 2;
        const float v0 = value(n, 2 * r, inverse), v1 = value(n, 2 * r + 1, inverse);
        if (paired) {
          *reinterpret_cast<float2*>(y + channel) = make_float2(v0, v1);
        } else {
          y[channel] = v0;
          y[channel + 1] = v1;
        }
      }
      continue;
    }
    uint16_t* const y = static_cast<uint16_t*>(a.out) + row;
    const bool bf16 = a.out_dtype == TURBO_BF16, t0 = lane & 1, t1 = lane & 2;
#pragma unroll
    for (int n = 0; n < D / 8; n += 4) {
      // Word j: this thread's two channels of tile n + j. The quad transposes its 4 × 4 words in two swaps (with the
      // neighbour across lane bit 0, then across bit 1), so that lane t ends with all 8 channels of tile n + t.
      uint32_t w[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float v0 = value(n + j, 2 * r, inverse), v1 = value(n + j, 2 * r + 1, inverse);
        w[j] = bf16 ? pack_bf16(v0, v1) : pack_f16(v0, v1);
      }
      // First swap: keep the tiles whose bit 0 is the lane's (own words), take the neighbour's words of them.
      const uint32_t own0 = t0 ? w[1] : w[0], own1 = t0 ? w[3] : w[2];
      const uint32_t got0 = __shfl_xor_sync(0xffffffffu, t0 ? w[0] : w[1], 1);
      const uint32_t got1 = __shfl_xor_sync(0xffffffffu, t0 ? w[2] : w[3], 1);
      // Second swap: keep the tile whose bit 1 is the lane's, take the neighbour's two words of it.
      const uint32_t keep_own = t1 ? own1 : own0, keep_got = t1 ? got1 : got0;
      const uint32_t far_own = __shfl_xor_sync(0xffffffffu, t1 ? own0 : own1, 2);
      const uint32_t far_got = __shfl_xor_sync(0xffffffffu, t1 ? got0 : got1, 2);
      // Channels 2s, 2s + 1 came from lane s: this lane's (s = t), its bit-0 neighbour's, its bit-1 neighbour's and
      // the one across both.
      uint32_t v[4];
#pragma unroll
      for (int src = 0; src < 4; ++src) {
        const bool same1 = ((src & 2) != 0) == t1, same0 = ((src & 1) != 0) == t0;
        v[src] = same1 ? (same0 ? keep_own : keep_got) : (same0 ? far_own : far_got);
      }
      uint16_t* const at = y + (n + (lane & 3)) * 8;
      if (!live) continue;
      if (reinterpret_cast<uintptr_t>(at) % 16 == 0) {
        *reinterpret_cast<uint4*>(at) = make_uint4(v[0], v[1], v[2], v[3]);
      } else {
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          at[2 * c] = static_cast<uint16_t>(v[c]);
          at[2 * c + 1] = static_cast<uint16_t>(v[c] >> 16);
        }
      }
    }
  }
}

template <int D, int BQ, int BK, PvFormat F>
__global__ void __launch_bounds__(BQ / 16 * 32) sage_attention_kernel(const turbo_sage_args a) {
  using T = SageTile<D, BQ, BK>;
  extern __shared__ __align__(128) unsigned char shared[];
  int8_t* const q_smem = reinterpret_cast<int8_t*>(shared);
  int8_t* const k_smem = q_smem + T::kQBytes;                                    // 2 stages
  uint16_t* const v_smem = reinterpret_cast<uint16_t*>(k_smem + 2 * T::kKBytes);  // 2 stages

  const SageQueryBlock<D, BQ, BK> cta(a);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  auto load_key_block = [&](int block, int stage) {
    const int8_t* k_src = cta.k_head + static_cast<int64_t>(block) * BK * D;
    int8_t* k_dst = k_smem + stage * T::kKBytes;
#pragma unroll
    for (int it = 0; it < BK * T::kCodeChunks / T::kThreads; ++it) {
      const int c = threadIdx.x + it * T::kThreads, row = c / T::kCodeChunks, chunk = c % T::kCodeChunks;
      cp_async_16(k_dst + swizzled_chunk<T::kCodeChunks>(row, chunk) * 16, k_src + row * D + chunk * 16);
    }
    // V's rows past its end (a caller's unpadded v) are zero-filled.
    uint16_t* v_dst = v_smem + stage * BK * D;
#pragma unroll
    for (int it = 0; it < BK * T::kValueChunks / T::kThreads; ++it) {
      const int c = threadIdx.x + it * T::kThreads, row = c / T::kValueChunks, chunk = c % T::kValueChunks;
      const int64_t key = static_cast<int64_t>(block) * BK + row;
      const bool live = key < cta.v_rows;
      cp_async_16(shared_address(v_dst + swizzled_chunk<T::kValueChunks>(row, chunk) * 8),
                  cta.v_head + (live ? key * cta.v_row_stride + chunk * 8 : 0), live);
    }
  };

  if (cta.tiles > 0) {
#pragma unroll
    for (int it = 0; it < BQ * T::kCodeChunks / T::kThreads; ++it) {
      const int c = threadIdx.x + it * T::kThreads, row = c / T::kCodeChunks, chunk = c % T::kCodeChunks;
      cp_async_16(q_smem + swizzled_chunk<T::kCodeChunks>(row, chunk) * 16, cta.q_tile + row * D + chunk * 16);
    }
    load_key_block(cta.key_block(0), 0);
  }
  cp_async_commit();

  const float q_scale = a.q_scales[cta.bh * cta.q_blocks + cta.q_block];
  uint32_t q_frag[T::kQkSteps][4];
  float out[T::kOutTiles][4];
#pragma unroll
  for (int n = 0; n < T::kOutTiles; ++n) out[n][0] = out[n][1] = out[n][2] = out[n][3] = 0.f;
  // Rows g and g+8 of the warp's 16 (g = lane / 4): running max (log2 domain) and this thread's part of the sum.
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.f, 0.f};

  int block = cta.tiles > 0 ? cta.key_block(0) : 0;
  int next_block = cta.tiles > 1 ? cta.key_block(1) : 0;
  for (int i = 0; i < cta.tiles; ++i) {
    const int stage = i & 1;
    if (i + 1 < cta.tiles) load_key_block(next_block, stage ^ 1);
    cp_async_commit();  // possibly empty: keeps "all but the newest group" meaning "this tile" below
    const int block_after = i + 2 < cta.tiles ? cta.key_block(i + 2) : 0;
    const float qk_scale = (q_scale * cta.k_scales[block]) * a.score_scale;
    cp_async_wait<1>();
    __syncthreads();

    if (i == 0) {
#pragma unroll
      for (int s = 0; s < T::kQkSteps; ++s)
        ldmatrix_x4(q_frag[s], q_smem + swizzled_chunk<T::kCodeChunks>(warp * 16 + (lane & 15), 2 * s + (lane >> 4)) * 16);
    }

    // S = Q·Kᵀ: per 8-key tile, one ldmatrix.x4 gives the B fragments of two k-steps.
    const int8_t* k_tile = k_smem + stage * T::kKBytes;
    int acc[T::kScoreTiles][4];
#pragma unroll
    for (int j = 0; j < T::kScoreTiles; ++j) {
      acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0;
#pragma unroll
      for (int s = 0; s < T::kQkSteps; s += 2) {
        uint32_t k_frag[4];
        ldmatrix_x4(k_frag, k_tile + swizzled_chunk<T::kCodeChunks>(j * 8 + (lane & 7), 2 * s + (lane >> 3)) * 16);
        mma_s8(acc[j], q_frag[s], k_frag[0], k_frag[1]);
        mma_s8(acc[j], q_frag[s + 1], k_frag[2], k_frag[3]);
      }
    }

    // Dequantize (log2 domain), mask keys past the length, row max over the tile (4 threads share a row).
    const bool partial = static_cast<int64_t>(block + 1) * BK > cta.key_len;
    float score[T::kScoreTiles][4];
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < T::kScoreTiles; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float x = static_cast<float>(acc[j][e]) * qk_scale;
        if (partial && static_cast<int64_t>(block) * BK + j * 8 + (lane & 3) * 2 + (e & 1) >= cta.key_len) x = -INFINITY;
        score[j][e] = x;
        tile_max[e >> 1] = fmaxf(tile_max[e >> 1], x);
      }
    float shift[2], decay[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
      // The running max is raised only where the block's scores pass it by more than the slack (P ≤ 2^slack then);
      // most blocks leave it, and O, as they are. Ties and −∞ keep the old max.
      const float new_max = tile_max[r] > row_max[r] + kRowMaxSlack<F> ? tile_max[r] : row_max[r];
      // A row that has seen only masked keys keeps max −∞; shifting by 0 then keeps exp2 at 0 instead of NaN.
      shift[r] = new_max == -INFINITY ? 0.f : new_max;
      decay[r] = exp2f(row_max[r] - shift[r]);
      row_max[r] = new_max;
      row_sum[r] *= decay[r];
    }
    // O, which holds the blocks before this one relative to the old max, rescaled to the new one; a warp whose row
    // maxima all stayed (decay exactly 1) skips the multiplications. Blocks of 64 keys do it before P, where the
    // multiplications hide among the exp2s; blocks of 128 after P, when the scores hold no registers, for the vote's
    // branch spills there otherwise (each placement measured on both tiles: docs/PERF.md, 2026-12-01, ninth).
    auto rescale = [&] {
      if (__any_sync(0xffffffffu, decay[0] != 1.f || decay[1] != 1.f)) {
#pragma unroll
        for (int n = 0; n < T::kOutTiles; ++n)
#pragma unroll
          for (int e = 0; e < 4; ++e) out[n][e] *= decay[e >> 1];
      }
    };
    if constexpr (BK == 64) rescale();

    // P = exp2(s − max) (× 448 for E4M3).
    uint32_t p_frag[T::kPvSteps][4];
    make_p<F>([&](int j, int e) {
      const float p = exp2f(score[j][e] - shift[e >> 1]);
      return F == PvFormat::kE4M3 ? p * kE4M3Max : p;
    }, row_sum, p_frag);
    if constexpr (BK != 64) rescale();

    // O += P·V: per 16 keys and 16 channels, one ldmatrix.x4.trans gives the B fragments of two 8-channel tiles.
    const uint16_t* v_tile = v_smem + stage * BK * D;
#pragma unroll
    for (int t = 0; t < T::kPvSteps; ++t)
#pragma unroll
      for (int pair = 0; pair < T::kOutTiles / 2; ++pair) {
        uint32_t v_frag[4];
        ldmatrix_x4_trans(v_frag, v_tile + swizzled_chunk<T::kValueChunks>(t * 16 + (lane & 15), 2 * pair + (lane >> 4)) * 8);
        if constexpr (F == PvFormat::kBf16) {
          mma_bf16(out[2 * pair], p_frag[t], v_frag[0], v_frag[1]);
          mma_bf16(out[2 * pair + 1], p_frag[t], v_frag[2], v_frag[3]);
        } else {
          mma_f16(out[2 * pair], p_frag[t], v_frag[0], v_frag[1]);
          mma_f16(out[2 * pair + 1], p_frag[t], v_frag[2], v_frag[3]);
        }
      }

    __syncthreads();  // every warp is done with this stage before iteration i + 1 refills it
    block = next_block;
    next_block = block_after;
  }

  store_attention_rows<F == PvFormat::kE4M3>(a, cta, static_cast<int64_t>(cta.q_block) * BQ + warp * 16, row_sum,
                              [&](int n, int k) { return out[n][k]; });
}

}  // namespace turbo

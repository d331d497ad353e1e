// The quantized attention of sage_attention_kernel.cuh on Hopper's warpgroup tensor-core instructions (sm_90a), for
// the shape the packages use: head dim 128, query blocks of 128, key blocks of 64. It computes the same function, step
// for step (same INT32 scores, same dequantization order, same rounding of P and of V), so its results differ from the
// mma.sync kernel's only by the order of the fp32 sums of P·V. Reference: Turbo.Runtime.Attention.SageAttention.
//
// One CTA per (b·h, query block), two warpgroups of 64 query rows each. Q's codes stay in shared memory; key blocks
// (int8 K, fp16 V) stream through two shared-memory stages (cp.async, the next block loading while this one
// computes), laid out in the 128-byte swizzle that wgmma reads (warpgroup_mma.cuh):
//   Q: 128 rows × 128 bytes (K-major A; warpgroup w reads rows 64w..64w+63), K: 64 rows × 128 bytes (K-major B),
//   V: two halves of 64 channels, each 64 keys × 128 bytes (MN-major B: keys along K, channels along N).
// Per key block a warpgroup computes S = Q·Kᵀ (4 × m64n64k32 s8, exact INT32), the softmax update in registers (the
// accumulator fragment is mma.sync's, so this part is the mma.sync kernel's code), and O += P·V with P in registers
// (4 × m64n128k16 f16, fp32 accumulators).
#pragma once
#include "sage_attention_kernel.cuh"
#include "warpgroup_mma.cuh"

namespace turbo {

struct SageWgmmaTile {
  static constexpr int D = 128, BQ = 128, BK = 64;
  static constexpr int kThreads = 256;           // two warpgroups
  static constexpr int kQBytes = BQ * D;          // int8 codes
  static constexpr int kKBytes = BK * D;          // int8 codes
  static constexpr int kVHalfBytes = BK * 64 * 2; // 64 fp16 channels of every key
  static constexpr int kStageBytes = kKBytes + 2 * kVHalfBytes;
  static constexpr int kStages = 2;
  static constexpr int kAtomAlign = 1024;         // the swizzle pattern repeats every 1024 bytes
  static constexpr int kSharedBytes = kQBytes + kStages * kStageBytes + kAtomAlign;
  static constexpr int kScoreTiles = BK / 8;      // 8-key column tiles of S
  static constexpr int kOutTiles = D / 8;         // 8-channel column tiles of O
  static constexpr int kPvSteps = BK / 16;        // k-steps of 16 keys in P·V
  static_assert(kQBytes % kAtomAlign == 0 && kKBytes % kAtomAlign == 0 && kStageBytes % kAtomAlign == 0,
                "every tile starts on a swizzle atom");
};

template <bool kE4M3>
__global__ void __launch_bounds__(SageWgmmaTile::kThreads, 1) sage_attention_wgmma_kernel(const turbo_sage_args a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using T = SageWgmmaTile;
  constexpr int D = T::D, BQ = T::BQ, BK = T::BK;
  extern __shared__ unsigned char shared_raw[];
  unsigned char* const shared = reinterpret_cast<unsigned char*>(
      (reinterpret_cast<uintptr_t>(shared_raw) + T::kAtomAlign - 1) / T::kAtomAlign * T::kAtomAlign);
  int8_t* const q_smem = reinterpret_cast<int8_t*>(shared);
  auto k_stage = [&](int stage) { return reinterpret_cast<int8_t*>(shared + T::kQBytes + stage * T::kStageBytes); };
  auto v_stage = [&](int stage) { return shared + T::kQBytes + stage * T::kStageBytes + T::kKBytes; };

  const int q_block = blockIdx.x, q_blocks = gridDim.x;
  const int64_t bh = blockIdx.y, b = bh / a.heads, h = bh % a.heads;
  const int64_t k_blocks = (a.kv_len + BK - 1) / BK;
  const int warpgroup = threadIdx.x / 128, warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
  const int64_t key_len = a.key_lengths ? min(static_cast<int64_t>(a.key_lengths[b]), a.kv_len) : a.kv_len;

  const int8_t* const q_tile = a.q_codes + (bh * q_blocks + q_block) * static_cast<int64_t>(BQ) * D;
  const int8_t* const k_head = a.k_codes + bh * k_blocks * BK * D;
  const __half* const v_head = static_cast<const __half*>(a.values) + bh * k_blocks * BK * D;
  const float* const k_scales = a.k_scales + bh * k_blocks;
  const int32_t* const kept = a.kept_blocks ? a.kept_blocks + (bh * q_blocks + q_block) * a.max_kept : nullptr;
  const int tiles = kept ? a.kept_counts[bh * q_blocks + q_block] : static_cast<int>((key_len + BK - 1) / BK);
  auto key_block = [&](int i) { return kept ? kept[i] : i; };

  auto load_key_block = [&](int block, int stage) {
    const int8_t* k_src = k_head + static_cast<int64_t>(block) * BK * D;
    int8_t* k_dst = k_stage(stage);
#pragma unroll
    for (int it = 0; it < BK * 8 / T::kThreads; ++it) {
      const int c = threadIdx.x + it * T::kThreads, row = c / 8, chunk = c % 8;
      cp_async_16(k_dst + swizzled_chunk<8>(row, chunk) * 16, k_src + row * D + chunk * 16);
    }
    const __half* v_src = v_head + static_cast<int64_t>(block) * BK * D;
    unsigned char* v_dst = v_stage(stage);
#pragma unroll
    for (int it = 0; it < BK * 16 / T::kThreads; ++it) {
      const int c = threadIdx.x + it * T::kThreads, row = c / 16, chunk = c % 16;
      cp_async_16(v_dst + (chunk / 8) * T::kVHalfBytes + swizzled_chunk<8>(row, chunk % 8) * 16, v_src + row * D + chunk * 8);
    }
  };

  if (tiles > 0) {
#pragma unroll
    for (int it = 0; it < BQ * 8 / T::kThreads; ++it) {
      const int c = threadIdx.x + it * T::kThreads, row = c / 8, chunk = c % 8;
      cp_async_16(q_smem + swizzled_chunk<8>(row, chunk) * 16, q_tile + row * D + chunk * 16);
    }
    load_key_block(key_block(0), 0);
  }
  cp_async_commit();

  // Q: this warpgroup's 64 rows, 8 atoms of 8 rows 1024 bytes apart; K likewise; V: halves kVHalfBytes apart.
  const uint64_t q_desc = wgmma_descriptor(shared_address(q_smem + warpgroup * 64 * D), 16, 1024);
  const float q_scale = a.q_scales[bh * q_blocks + q_block];
  float out[T::kOutTiles * 4];
#pragma unroll
  for (int i = 0; i < T::kOutTiles * 4; ++i) out[i] = 0.f;
  // Rows g and g+8 of the warp's 16 (g = lane / 4): running max (log2 domain) and this thread's part of the sum.
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.f, 0.f};

  int block = tiles > 0 ? key_block(0) : 0;
  int next_block = tiles > 1 ? key_block(1) : 0;
  for (int i = 0; i < tiles; ++i) {
    const int stage = i & 1;
    if (i + 1 < tiles) load_key_block(next_block, stage ^ 1);
    cp_async_commit();  // possibly empty: keeps "all but the newest group" meaning "this tile" below
    const int block_after = i + 2 < tiles ? key_block(i + 2) : 0;
    const float qk_scale = (q_scale * k_scales[block]) * a.score_scale;
    cp_async_wait<1>();
    fence_shared_for_async_proxy();
    __syncthreads();

    // S = Q·Kᵀ over the 128 channels, 32 at a time.
    const uint64_t k_desc = wgmma_descriptor(shared_address(k_stage(stage)), 16, 1024);
    int acc[T::kScoreTiles * 4];
    wgmma_fence();
#pragma unroll
    for (int s = 0; s < D / 32; ++s) wgmma_s8_m64n64k32(acc, wgmma_advance(q_desc, 32 * s), wgmma_advance(k_desc, 32 * s), s > 0);
    wgmma_commit();
    wgmma_wait<0>();

    // Dequantize (log2 domain), mask keys past the length, row max over the tile (4 threads share a row).
    const bool partial = static_cast<int64_t>(block + 1) * BK > key_len;
    float score[T::kScoreTiles][4];
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < T::kScoreTiles; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float x = static_cast<float>(acc[4 * j + e]) * qk_scale;
        if (partial && static_cast<int64_t>(block) * BK + j * 8 + (lane & 3) * 2 + (e & 1) >= key_len) x = -INFINITY;
        score[j][e] = x;
        tile_max[e >> 1] = fmaxf(tile_max[e >> 1], x);
      }
    float shift[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
      const float new_max = fmaxf(row_max[r], tile_max[r]);
      // A row that has seen only masked keys keeps max −∞; shifting by 0 then keeps exp2 at 0 instead of NaN.
      shift[r] = new_max == -INFINITY ? 0.f : new_max;
      const float decay = exp2f(row_max[r] - shift[r]);
      row_max[r] = new_max;
      row_sum[r] *= decay;
#pragma unroll
      for (int n = 0; n < T::kOutTiles; ++n) {
        out[4 * n + 2 * r] *= decay;
        out[4 * n + 2 * r + 1] *= decay;
      }
    }

    // P = exp2(s − max): summed unrounded, rounded into the A fragments of P·V (tiles 2t, 2t+1 → k-step t).
    uint32_t p_frag[T::kPvSteps][4];
#pragma unroll
    for (int t = 0; t < T::kPvSteps; ++t)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int j = 2 * t + half;
        float p[4];
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          p[e] = exp2f(score[j][e] - shift[e >> 1]);
          if constexpr (kE4M3) p[e] *= kE4M3Max;
        }
        row_sum[0] += p[0] + p[1];
        row_sum[1] += p[2] + p[3];
        p_frag[t][2 * half] = kE4M3 ? pack_e4m3_as_f16(p[0], p[1]) : pack_f16(p[0], p[1]);
        p_frag[t][2 * half + 1] = kE4M3 ? pack_e4m3_as_f16(p[2], p[3]) : pack_f16(p[2], p[3]);
      }

    // O += P·V, 16 keys (two atoms of 8 key rows, 2048 bytes) at a time.
    const uint64_t v_desc = wgmma_descriptor(shared_address(v_stage(stage)), T::kVHalfBytes, 1024);
    wgmma_fence();
#pragma unroll
    for (int t = 0; t < T::kPvSteps; ++t) wgmma_f16_m64n128k16_rs(out, p_frag[t], wgmma_advance(v_desc, 2048 * t));
    wgmma_commit();
    wgmma_wait<0>();

    __syncthreads();  // every warpgroup is done with this stage before iteration i + 1 refills it
    block = next_block;
    next_block = block_after;
  }

  // out / sum (· per-channel V scale), rows past Lq dropped.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 1);
    row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 2);
  }
  const float* const v_scales = a.v_scales ? a.v_scales + bh * D : nullptr;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t q = static_cast<int64_t>(q_block) * BQ + warpgroup * 64 + warp * 16 + lane / 4 + 8 * r;
    if (q >= a.q_len) continue;
    const int64_t row = b * a.out_strides[0] + h * a.out_strides[1] + q * a.out_strides[2];
#pragma unroll
    for (int n = 0; n < T::kOutTiles; ++n)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int channel = n * 8 + (lane & 3) * 2 + e;
        float value = out[4 * n + 2 * r + e] / row_sum[r];
        if constexpr (kE4M3) value *= v_scales[channel];
        store_from_float(a.out, a.out_dtype, row + channel, value);
      }
  }
#endif
}

// Writes 1 where the code that runs was built for sm_90a (wgmma present), 0 elsewhere.
__global__ void sm90a_probe_kernel(int* built_for_sm90a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  *built_for_sm90a = 1;
#else
  *built_for_sm90a = 0;
#endif
}

}  // namespace turbo

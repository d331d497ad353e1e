// The quantized attention of sage_attention_kernel.cuh on Hopper's warpgroup tensor-core instructions (sm_90a), for
// the shape the packages use: head dim 128, query blocks of 128, key blocks of 64. Same function: the same INT32
// scores and scales, the same row max, P rounded to fp16 (or ×448 to E4M3) the same way, the same P·V. Two steps are
// computed the faster way, which moves P by a few float32 ulps before its rounding: exp2 of a fused multiply-add
// (score · scale − max) on the special-function unit, and E4M3's ×448 folded into the exponent. `turbo
// check-attention` holds both kernels to the reference Turbo.Runtime.Attention.SageAttention.
//
// One CTA per (b·h, query block), two warpgroups of 64 query rows each. Q's codes stay in shared memory; key blocks
// (int8 K, fp16 V) stream through four shared-memory stages (cp.async, two blocks loading ahead of the one in Q·Kᵀ),
// laid out in the 128-byte swizzle that wgmma reads (warpgroup_mma.cuh):
//   Q: 128 rows × 128 bytes (K-major A; warpgroup w reads rows 64w..64w+63), K: 64 rows × 128 bytes (K-major B),
//   V: two halves of 64 channels, each 64 keys × 128 bytes (MN-major B: keys along K, channels along N).
// Per key block i a warpgroup issues S = Q·Kᵀ (4 × m64n64k32 s8, exact INT32) and, behind it, O += P·V of block
// i − 1 (4 × m64n128k16 f16, P from registers, fp32 accumulators); as soon as S is done it computes the softmax
// update in registers (the accumulator fragment is mma.sync's) while the tensor cores still run P·V, then waits for
// P·V and rescales O to the new row max. The row max is taken on the INT32 sums (the scale is positive), and the
// masked keys of a block that reaches past the key length carry a sentinel instead of −∞.
#pragma once
#include <climits>
#include <type_traits>
#include "sage_attention_kernel.cuh"
#include "warpgroup_mma.cuh"

namespace turbo {

constexpr float kLog2E4M3Max = 8.807354922057604f;  // log2(448)

// 2^x by the special-function unit alone (denormal results flush to 0: far below what fp16 or E4M3 P can hold).
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

struct SageWgmmaTile {
  static constexpr int D = 128, BQ = 128, BK = 64;
  static constexpr int kThreads = 256;           // two warpgroups
  static constexpr int kQBytes = BQ * D;          // int8 codes
  static constexpr int kKBytes = BK * D;          // int8 codes
  static constexpr int kVHalfBytes = BK * 64 * 2; // 64 fp16 channels of every key
  static constexpr int kStageBytes = kKBytes + 2 * kVHalfBytes;
  static constexpr int kPrefetch = 2;            // key blocks loading ahead of the one in Q·Kᵀ (3 measured no faster)
  static constexpr int kStages = kPrefetch + 2;  // + block i in Q·Kᵀ, block i − 1 in P·V
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

  const SageQueryBlock<D, BQ, BK> cta(a);
  const int warpgroup = threadIdx.x / 128, warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;

  auto load_key_block = [&](int block, int stage) {
    const int8_t* k_src = cta.k_head + static_cast<int64_t>(block) * BK * D;
    int8_t* k_dst = k_stage(stage);
#pragma unroll
    for (int it = 0; it < BK * 8 / T::kThreads; ++it) {
      const int c = threadIdx.x + it * T::kThreads, row = c / 8, chunk = c % 8;
      cp_async_16(k_dst + swizzled_chunk<8>(row, chunk) * 16, k_src + row * D + chunk * 16);
    }
    const __half* v_src = cta.v_head + static_cast<int64_t>(block) * BK * D;
    unsigned char* v_dst = v_stage(stage);
#pragma unroll
    for (int it = 0; it < BK * 16 / T::kThreads; ++it) {
      const int c = threadIdx.x + it * T::kThreads, row = c / 16, chunk = c % 16;
      cp_async_16(v_dst + (chunk / 8) * T::kVHalfBytes + swizzled_chunk<8>(row, chunk % 8) * 16, v_src + row * D + chunk * 8);
    }
  };

  if (cta.tiles > 0) {
#pragma unroll
    for (int it = 0; it < BQ * 8 / T::kThreads; ++it) {
      const int c = threadIdx.x + it * T::kThreads, row = c / 8, chunk = c % 8;
      cp_async_16(q_smem + swizzled_chunk<8>(row, chunk) * 16, cta.q_tile + row * D + chunk * 16);
    }
    load_key_block(cta.key_block(0), 0);
  }
  cp_async_commit();
#pragma unroll
  for (int ahead = 1; ahead < T::kPrefetch; ++ahead) {
    if (ahead < cta.tiles) load_key_block(cta.key_block(ahead), ahead);
    cp_async_commit();
  }

  // Q: this warpgroup's 64 rows, 8 atoms of 8 rows 1024 bytes apart; K likewise; V: halves kVHalfBytes apart.
  const uint64_t q_desc = wgmma_descriptor(shared_address(q_smem + warpgroup * 64 * D), 16, 1024);
  const float q_scale = a.q_scales[cta.bh * cta.q_blocks + cta.q_block];
  float out[T::kOutTiles * 4];
#pragma unroll
  for (int i = 0; i < T::kOutTiles * 4; ++i) out[i] = 0.f;
  // Rows g and g+8 of the warp's 16 (g = lane / 4): running max (log2 domain) and this thread's part of the sum.
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.f, 0.f};

  using Fragments = uint32_t[T::kPvSteps][4];  // P of one key block: the A operand of its P·V
  auto issue_pv = [&](int stage, const Fragments& p) {
    const uint64_t v_desc = wgmma_descriptor(shared_address(v_stage(stage)), T::kVHalfBytes, 1024);
#pragma unroll
    for (int t = 0; t < T::kPvSteps; ++t) wgmma_f16_m64n128k16_rs(out, p[t], wgmma_advance(v_desc, 2048 * t));
    wgmma_commit();
  };
  int acc[T::kScoreTiles * 4];
  auto issue_qk = [&](int stage) {
    const uint64_t k_desc = wgmma_descriptor(shared_address(k_stage(stage)), 16, 1024);
#pragma unroll
    for (int s = 0; s < D / 32; ++s) wgmma_s8_m64n64k32(acc, wgmma_advance(q_desc, 32 * s), wgmma_advance(k_desc, 32 * s), s > 0);
    wgmma_commit();
  };
  // Waits for key block i's copies, then starts those of block i + kPrefetch into the stage that held block i − 2
  // (both warpgroups are past iteration i − 1, whose wait retired the last read of that stage). Returns block i + 1's
  // index.
  auto next_key_block = [&](int i) {
    cp_async_wait<T::kPrefetch - 1>();
    fence_shared_for_async_proxy();
    __syncthreads();
    const int ahead = i + T::kPrefetch;
    if (ahead < cta.tiles) load_key_block(cta.key_block(ahead), ahead % T::kStages);
    cp_async_commit();
    return i + 1 < cta.tiles ? cta.key_block(i + 1) : 0;
  };

  // The softmax update of one key block from its scores in acc: the new row max, O's decay factor, the row sums and P
  // (exp2(s − max), summed unrounded, rounded into the A fragments of P·V: tiles 2t, 2t+1 → k-step t).
  auto softmax = [&](int block, float (&decay)[2], Fragments& p_frag) {
    const float qk_scale = (q_scale * cta.k_scales[block]) * a.score_scale;
    // Keys past the length (only in a key block that reaches past it) get the sentinel INT_MIN, which no sum of 128
    // products of INT8 codes reaches; their P is 0.
    const bool partial = static_cast<int64_t>(block + 1) * BK > cta.key_len;
    if (partial) {
      const int64_t valid = cta.key_len - static_cast<int64_t>(block) * BK;
#pragma unroll
      for (int j = 0; j < T::kScoreTiles; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (j * 8 + (lane & 3) * 2 + (e & 1) >= valid) acc[4 * j + e] = INT_MIN;
    }
    // Row max over the tile on the INT32 sums (4 threads share a row): the scale is positive, so it commutes with max.
    int tile_max[2] = {INT_MIN, INT_MIN};
#pragma unroll
    for (int j = 0; j < T::kScoreTiles; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) tile_max[e >> 1] = max(tile_max[e >> 1], acc[4 * j + e]);
    float shift[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      tile_max[r] = max(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
      tile_max[r] = max(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
      const float scaled_max = tile_max[r] == INT_MIN ? -INFINITY : static_cast<float>(tile_max[r]) * qk_scale;
      const float new_max = fmaxf(row_max[r], scaled_max);
      // A row that has seen only masked keys keeps max −∞; shifting by 0 then keeps exp2 at 0 instead of NaN.
      shift[r] = new_max == -INFINITY ? 0.f : new_max;
      decay[r] = exp2f(row_max[r] - shift[r]);
      row_max[r] = new_max;
      row_sum[r] *= decay[r];
      // E4M3 P·V takes P × 448: exp2(s − max + log2 448) is that product.
      if constexpr (kE4M3) shift[r] -= kLog2E4M3Max;
    }
    auto exponentiate = [&](auto masked) {
#pragma unroll
      for (int t = 0; t < T::kPvSteps; ++t)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int j = 2 * t + half;
          float p[4];
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            p[e] = exp2_approx(fmaf(static_cast<float>(acc[4 * j + e]), qk_scale, -shift[e >> 1]));
            if constexpr (decltype(masked)::value) p[e] = acc[4 * j + e] == INT_MIN ? 0.f : p[e];
          }
          row_sum[0] += p[0] + p[1];
          row_sum[1] += p[2] + p[3];
          p_frag[t][2 * half] = kE4M3 ? pack_e4m3_as_f16(p[0], p[1]) : pack_f16(p[0], p[1]);
          p_frag[t][2 * half + 1] = kE4M3 ? pack_e4m3_as_f16(p[2], p[3]) : pack_f16(p[2], p[3]);
        }
    };
    if (partial) exponentiate(std::true_type{});
    else exponentiate(std::false_type{});
  };

  // Key block i ≥ 1: S of block i, and behind it O += P·V of block i − 1 (P in p_running), then the softmax of block
  // i into p_next while P·V still runs. The two P buffers alternate, so that no instruction writes registers a
  // running wgmma reads (the compiler would serialize the wgmma otherwise), and every wait is unconditional.
  int block = 0, next = 0;
  float decay[2];
  auto step = [&](int i, const Fragments& p_running, Fragments& p_next) {
    block = next;
    next = next_key_block(i);
    pin_registers(out);
    wgmma_fence();
    issue_qk(i % T::kStages);
    issue_pv((i - 1) % T::kStages, p_running);
    wgmma_wait<1>();  // S is done; P·V runs on under the softmax
    pin_registers(acc);
    softmax(block, decay, p_next);
    wgmma_wait<0>();  // O holds blocks up to i − 1, relative to the old max: rescale it to the new one
    pin_registers(out);
    // Once the row maxima settle most blocks leave them unchanged (decay exactly 1): the warp then skips the 64
    // multiplications.
    if (__any_sync(0xffffffffu, decay[0] != 1.f || decay[1] != 1.f)) {
#pragma unroll
      for (int n = 0; n < T::kOutTiles; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) out[4 * n + e] *= decay[e >> 1];
    }
  };
  auto finish = [&](const Fragments& p_last) {
    wgmma_fence();
    issue_pv((cta.tiles - 1) % T::kStages, p_last);
    wgmma_wait<0>();
  };

  if (cta.tiles > 0) {
    // Key block 0: S, then P (O is still zero: nothing to rescale).
    Fragments p0, p1;
    block = cta.key_block(0);
    next = next_key_block(0);
    wgmma_fence();
    issue_qk(0);
    wgmma_wait<0>();
    softmax(block, decay, p0);
    int i = 1;
    for (; i + 1 < cta.tiles; i += 2) {  // p0 holds P of block i − 1
      step(i, p0, p1);
      step(i + 1, p1, p0);
    }
    if (i < cta.tiles) {
      step(i, p0, p1);
      finish(p1);
    } else {
      finish(p0);
    }
  }

  store_attention_rows<kE4M3>(a, cta, static_cast<int64_t>(cta.q_block) * BQ + warpgroup * 64 + warp * 16, row_sum,
                              [&](int n, int k) { return out[4 * n + k]; });
#endif
}

}  // namespace turbo

// The quantized attention of sage_attention_kernel.cuh on Hopper's warpgroup tensor-core instructions (sm_90a), for
// the shape the packages use: head dim 128, query blocks of 128, key blocks of 64. Same function, with the running
// max updated once per two key blocks over kept blocks (the reference's KeyBlocksPerUpdate = 2) and once per block
// dense, raised with 16-bit P only where a score passes it by more than kRowMaxSlack as in the warp kernel: the same
// INT32 scores and scales, the same row max, P rounded to fp16 or bf16 (or ×448 to E4M3) the same way, the same P·V.
// Two steps are computed the faster way, which moves P by a few float32 ulps before its rounding:
// exp2 of a fused multiply-add (score · scale − max) on the special-function unit, and E4M3's ×448 folded into the
// exponent. `turbo check-attention` holds both kernels to the reference Turbo.Runtime.Attention.SageAttention.
//
// Persistent and warp-specialized: one CTA per multiprocessor walks the units i = blockIdx.x, blockIdx.x + gridDim.x,
// ... — 64 query rows of one b·h per consumer warpgroup — with a producer warpgroup and two or three consumers:
//   warpgroup 0, one warp: the producer. Per unit it asks the bulk tensor copy engine for the unit's Q codes (with
//     two consumers into one of two Q buffers, so the next unit's Q loads during this one's last blocks and
//     epilogue; with three into the one buffer, during the epilogue), then for each key block it visits, once a stage
//     of the ring is free, K's codes and V's two halves — completing on the stage's "full" barrier — and leaves the
//     block's index beside the stage (dense visits need none: the i-th visit is key block i). V's map is 4-D
//     (channels, keys, head, batch) at V's own strides, so a caller's token-major bf16 v is read where it lies; keys
//     past its end arrive as zeros. The kept-block list is read 32 entries at a time, one per lane.
//   the consumers, 64 query rows each. They wait on the stages, never on each other. Per softmax update of one key
//     block, or two, a warpgroup issues S = Q·Kᵀ of its blocks (4 × m64n64k32 s8 each, exact INT32) and, behind it,
//     O += P·V of the previous update (4 × m64n128k16 f16 or bf16 a block, P from registers, fp32 accumulators); as
//     soon as S is done it computes the softmax update in registers (the accumulator fragment is mma.sync's) while the
//     tensor cores still run P·V, then waits for P·V, releases the previous update's stages and rescales O to the new
//     row max. With 16-bit P a unit's later updates first take P against the running max as it stands; the block maxima
//     are computed, and P again, only where that P says a score may have passed the max by the slack. The epilogue
//     writes O from registers while the producer fills the ring for the next unit.
//   The two forms (SageWgmmaTile):
//   - two consumers, a unit a query block: the form for kept blocks, whose lists belong to query blocks. Its 232
//     registers a thread hold a pair of blocks per update (an odd count: the last alone), which halves the max
//     reductions, rescales and waits per key and gives each softmax twice the independent work.
//   - three consumers, a unit 192 rows (a query block and a half, each warpgroup's 64 rows inside one block and
//     taking its scale): dense. Three warps a scheduler hide more of each one's latencies than a pair per update
//     saves; their 160 registers a thread hold one block per update. 5–9% faster dense (docs/PERF.md).
// Shared memory, every tile 1024-byte aligned in the 128-byte swizzle that wgmma reads (warpgroup_mma.cuh) and the
// copy engine writes: Q 64 rows × 128 bytes a consumer (K-major A; warpgroup w reads rows 64w..64w+63), K 64 rows ×
// 128 bytes (K-major B), V two halves of 64 channels, each 64 keys × 128 bytes (MN-major B: keys along K, channels
// along N). The row max is taken on the INT32 sums of each block (its scale is positive) and met scaled, and the
// masked keys of a block that reaches past the key length carry a sentinel instead of −∞.
#pragma once
#include <climits>
#include <type_traits>
#include "dependent_launch.cuh"
#include "sage_attention_kernel.cuh"
#include "tma.cuh"
#include "warpgroup_mma.cuh"

namespace turbo {

constexpr float kLog2E4M3Max = 8.807354922057604f;  // log2(448)
constexpr int kSageQueryBlock = 128;  // the query blocks of the INT8 scales and the kept-block lists
// A bound on P taken against the running max under which no score passed it by the slack: 250 = 2^7.97, short of 2^8
// by far more than the float32 roundings of fma(s, scale, −max) and of the exact test (s · scale > max + 8) differ for
// scores below 2^18 in log2 units.
constexpr float kKeptMaxBound = 250.f;

template <int kConsumerGroups>
struct SageWgmmaTile {
  static constexpr int kConsumers = kConsumerGroups;  // warpgroups of 64 query rows
  static constexpr bool kKeptBlocks = kConsumers == 2;  // two visit kept blocks, three all (sage_attention.cu)
  static constexpr int D = 128, BK = 64;
  static constexpr int kUnitRows = 64 * kConsumers;  // the query rows of a unit
  static constexpr int kThreads = 128 * (1 + kConsumers);  // the producer's warpgroup and the consumers
  static constexpr int kQBytes = kUnitRows * D;   // int8 codes
  static constexpr int kKBytes = BK * D;          // int8 codes
  static constexpr int kVHalfBytes = BK * 64 * 2; // 64 16-bit channels of every key
  static constexpr int kStageBytes = kKBytes + 2 * kVHalfBytes;
  // Key blocks per softmax update: two where the registers allow (two consumers), else one.
  static constexpr int kUpdateBlocks = kConsumers == 2 ? 2 : 1;
  // The ring: with pairs six stages (two updates held, one in P·V and one in S, and one ahead); dense eight, in the
  // shared memory a second Q buffer would take, which also makes the stage and parity of a visit a mask and a shift.
  // Each measured fastest for its form (docs/PERF.md, 2026-12-01, tenth).
  static constexpr int kStages = kKeptBlocks ? 6 : 8;
  static constexpr int kQBuffers = kKeptBlocks ? 2 : 1;
  static constexpr int kReaders = 4 * kConsumers; // consumer warps, each releasing what it read
  // Registers a thread after setmaxnreg: the producer's warpgroup gives what the consumers take (64 K a multiprocessor).
  static constexpr int kProducerRegisters = kConsumers == 2 ? 40 : 32;
  static constexpr int kConsumerRegisters = kConsumers == 2 ? 232 : 160;
  static constexpr int kAtomAlign = 1024;         // the swizzle pattern repeats every 1024 bytes
  static constexpr int kBarriers = 2 * kStages + 2 * kQBuffers;  // full and empty per stage and per Q buffer
  static constexpr int kStageBlockBytes = kKeptBlocks ? kStages * 4 : 0;  // each stage's key-block index (kept visits)
  static constexpr int kSharedBytes =
      kQBuffers * kQBytes + kStages * kStageBytes + kBarriers * 8 + kStageBlockBytes + kAtomAlign;
  static constexpr int kScoreTiles = BK / 8;      // 8-key column tiles of S
  static constexpr int kOutTiles = D / 8;         // 8-channel column tiles of O
  static constexpr int kPvSteps = BK / 16;        // k-steps of 16 keys in P·V
  static_assert(kConsumers == 2 || kConsumers == 3, "two or three consumer warpgroups");
  static_assert(128 * kProducerRegisters + 128 * kConsumers * kConsumerRegisters <= 65536, "the register file");
  static_assert(kSharedBytes <= 227 * 1024, "a CTA's shared memory");
  static_assert(kQBytes % kAtomAlign == 0 && kKBytes % kAtomAlign == 0 && kStageBytes % kAtomAlign == 0,
                "every tile starts on a swizzle atom");
};

// A unit of a CTA's work: kConsumers · 64 query rows of head bh from first_row on. With two consumers a unit is a
// query block of the INT8 quantization (128 rows) and may visit its own kept key blocks; with three (dense only) it
// spans one and a half, and each consumer's 64 rows take the scale of the block that holds them.
template <class T>
struct SageWgmmaUnit {
  int64_t bh;
  int first_row;
  __device__ SageWgmmaUnit(int unit, int units_per_head) : bh(unit / units_per_head), first_row((unit % units_per_head) * T::kUnitRows) {}
};

// Where the pieces of shared memory start (shared-window addresses) and the block index left beside each stage.
template <class T>
struct SageWgmmaShared {
  uint32_t q, stages, q_full, q_empty, full, empty;
  int* stage_block;

  __device__ explicit SageWgmmaShared(unsigned char* raw) {
    const uint32_t base = (shared_address(raw) + T::kAtomAlign - 1) / T::kAtomAlign * T::kAtomAlign;
    q = base;
    stages = q + T::kQBuffers * T::kQBytes;
    q_full = stages + T::kStages * T::kStageBytes;
    q_empty = q_full + 8 * T::kQBuffers;
    full = q_empty + 8 * T::kQBuffers;
    empty = full + 8 * T::kStages;
    stage_block = reinterpret_cast<int*>(raw + (empty + 8 * T::kStages - shared_address(raw)));
  }
};

// The producer warp: for each unit of this CTA, its Q codes into Q buffer n % kQBuffers (n: the CTA's count of units
// so far), then each key block it visits into the next stage of the ring (the count of stage uses g runs on across
// units, as in the consumers), once the stage's readers released it.
template <class T>
__device__ __forceinline__ void sage_produce(const turbo_sage_args& a, const CUtensorMap* q_map, const CUtensorMap* k_map,
                                             const CUtensorMap* v_map, const SageWgmmaShared<T>& sm, int units,
                                             int units_per_head, int q_blocks) {
  const int lane = threadIdx.x % 32;
  uint32_t g = 0;
  int n = 0;
  for (int unit = blockIdx.x; unit < units; unit += gridDim.x, ++n) {
    const SageWgmmaUnit<T> u(unit, units_per_head);
    const SageQueryBlock<T::D, kSageQueryBlock, T::BK> cta(a, u.first_row / kSageQueryBlock, u.bh, q_blocks);
    const uint32_t qb = n % T::kQBuffers;
    if (lane == 0) {
      mbarrier_wait(sm.q_empty + 8 * qb, ((n / T::kQBuffers) & 1) ^ 1);
      mbarrier_arrive_expecting(sm.q_full + 8 * qb, T::kQBytes);
      tma_load_2d(sm.q + qb * T::kQBytes, q_map, 0, static_cast<int>(u.bh * q_blocks * kSageQueryBlock + u.first_row), sm.q_full + 8 * qb);
    }
    for (int first = 0; first < cta.tiles; first += 32) {
      const int mine = first + lane < cta.tiles ? cta.key_block(first + lane) : 0;
      const int count = min(32, cta.tiles - first);
      for (int t = 0; t < count; ++t, ++g) {
        const int block = __shfl_sync(0xffffffffu, mine, t);
        if (lane == 0) {
          const uint32_t s = g % T::kStages, stage = sm.stages + s * T::kStageBytes, full = sm.full + 8 * s;
          mbarrier_wait(sm.empty + 8 * s, ((g / T::kStages) & 1) ^ 1);
          if constexpr (T::kKeptBlocks) sm.stage_block[s] = block;  // published by the arrival below
          mbarrier_arrive_expecting(full, T::kStageBytes);
          const int row = static_cast<int>((cta.bh * cta.k_blocks + block) * T::BK);
          const int key = block * T::BK, h = static_cast<int>(cta.h), b = static_cast<int>(cta.b);
          tma_load_2d(stage, k_map, 0, row, full);
          tma_load_4d(stage + T::kKBytes, v_map, 0, key, h, b, full);
          tma_load_4d(stage + T::kKBytes + T::kVHalfBytes, v_map, 64, key, h, b, full);
        }
        __syncwarp();
      }
    }
  }
}

template <PvFormat F, int kConsumers>
__global__ void __launch_bounds__(SageWgmmaTile<kConsumers>::kThreads, 1)
    sage_attention_wgmma_kernel(const turbo_sage_args a, const __grid_constant__ CUtensorMap q_map,
                                const __grid_constant__ CUtensorMap k_map, const __grid_constant__ CUtensorMap v_map) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using T = SageWgmmaTile<kConsumers>;
  constexpr int D = T::D, BK = T::BK, BQ = kSageQueryBlock;
  extern __shared__ unsigned char shared_raw[];
  const SageWgmmaShared<T> sm(shared_raw);
  const int q_blocks = static_cast<int>((a.q_len + BQ - 1) / BQ);
  const int units_per_head = static_cast<int>((a.q_len + T::kUnitRows - 1) / T::kUnitRows);
  const int units = static_cast<int>(a.batch * a.heads) * units_per_head;
  // Launched as a dependent (sage_attention.cu): the barriers are set up while the kernel before still runs.
  if (threadIdx.x == 0) {
    for (int s = 0; s < T::kStages; ++s) {
      mbarrier_init(sm.full + 8 * s, 1);
      mbarrier_init(sm.empty + 8 * s, T::kReaders);
    }
    for (int b = 0; b < T::kQBuffers; ++b) {
      mbarrier_init(sm.q_full + 8 * b, 1);
      mbarrier_init(sm.q_empty + 8 * b, T::kReaders);
    }
    mbarrier_init_fence();
  }
  __syncthreads();
  wait_for_previous_grid();
  allow_next_grid();

  // The warpgroup index broadcast from lane 0: the compiler then knows it is the same in every lane, and keeps Q's
  // descriptors, which depend on it, in uniform registers instead of moving them there before each wgmma.
  const int warpgroup = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x / 128), 0), warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
  if (warpgroup == 0) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(T::kProducerRegisters));
    if (warp == 0) sage_produce(a, &q_map, &k_map, &v_map, sm, units, units_per_head, q_blocks);
    return;
  }
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(T::kConsumerRegisters));
  const int consumer = warpgroup - 1;

  using Fragments = uint32_t[T::kPvSteps][4];  // P of one key block: the A operand of its P·V
  uint32_t g = 0;  // stage uses before the current unit's first key block
  int n = 0;
  for (int unit = blockIdx.x; unit < units; unit += gridDim.x, ++n) {
    const SageWgmmaUnit<T> u(unit, units_per_head);
    const SageQueryBlock<D, BQ, BK> cta(a, u.first_row / BQ, u.bh, q_blocks);
    const uint32_t qb = n % T::kQBuffers;
    const int first_row = u.first_row + consumer * 64;  // this warpgroup's rows; those past the last block are not stored
    const float q_scale = a.q_scales[cta.bh * q_blocks + min(first_row / BQ, q_blocks - 1)];
    float out[T::kOutTiles * 4];
#pragma unroll
    for (int i = 0; i < T::kOutTiles * 4; ++i) out[i] = 0.f;
    // Rows g and g+8 of the warp's 16 (g = lane / 4): running max (log2 domain) and this thread's part of the sum.
    float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.f, 0.f};
    mbarrier_wait(sm.q_full + 8 * qb, (n / T::kQBuffers) & 1);
    // Q: this warpgroup's 64 rows, 8 atoms of 8 rows 1024 bytes apart; K likewise; V: halves kVHalfBytes apart.
    const uint64_t q_desc = wgmma_descriptor(sm.q + qb * T::kQBytes + consumer * 64 * D, 16, 1024);

    auto stage_of = [&](int i) { return sm.stages + ((g + i) % T::kStages) * T::kStageBytes; };
    // Waits for the copies of visit i.
    auto wait_stage = [&](int i) {
      const uint32_t u = g + i;
      mbarrier_wait(sm.full + 8 * (u % T::kStages), (u / T::kStages) & 1);
    };
    // Key block i's stage is no longer read by this warp (its P·V has retired).
    auto release = [&](int i) {
      if (lane == 0) mbarrier_arrive(sm.empty + 8 * ((g + i) % T::kStages));
    };
    auto issue_pv = [&](uint32_t stage, const Fragments& p) {
      const uint64_t v_desc = wgmma_descriptor(stage + T::kKBytes, T::kVHalfBytes, 1024);
#pragma unroll
      for (int t = 0; t < T::kPvSteps; ++t) {
        if constexpr (F == PvFormat::kBf16) wgmma_bf16_m64n128k16_rs(out, p[t], wgmma_advance(v_desc, 2048 * t));
        else wgmma_f16_m64n128k16_rs(out, p[t], wgmma_advance(v_desc, 2048 * t));
      }
    };
    int acc[T::kUpdateBlocks][T::kScoreTiles * 4];  // S of the key blocks of one softmax update
    auto issue_qk = [&](int (&s_acc)[T::kScoreTiles * 4], uint32_t stage) {
      const uint64_t k_desc = wgmma_descriptor(stage, 16, 1024);
#pragma unroll
      for (int s = 0; s < D / 32; ++s) wgmma_s8_m64n64k32(s_acc, wgmma_advance(q_desc, 32 * s), wgmma_advance(k_desc, 32 * s), s > 0);
    };
    // The visits i, i + 1, ... of one update (kBlocks of them) wait for their stages and read their indices and scales.
    // Dense, visit i is key block i: its scale is asked for before the wait, and no index is read after it.
    struct Visits {
      int block[T::kUpdateBlocks];
      float k_scale[T::kUpdateBlocks];
    };
    auto wait_visits = [&](int i, auto blocks) {
      Visits v;
#pragma unroll
      for (int b = 0; b < decltype(blocks)::value; ++b) {
        if constexpr (T::kKeptBlocks) {
          wait_stage(i + b);
          v.block[b] = sm.stage_block[(g + i + b) % T::kStages];
          v.k_scale[b] = cta.k_scales[v.block[b]];
        } else {
          v.k_scale[b] = cta.k_scales[i + b];
          wait_stage(i + b);
          v.block[b] = i + b;
        }
      }
      return v;
    };
    // S of visits i, ... (kBlocks) into acc, committed as one group.
    auto issue_scores = [&](int i, auto blocks) {
#pragma unroll
      for (int b = 0; b < decltype(blocks)::value; ++b) issue_qk(acc[b], stage_of(i + b));
      wgmma_commit();
    };
    // O += P·V of visits i, ... (kBlocks), committed as one group.
    auto issue_values = [&](int i, const Fragments (&p)[T::kUpdateBlocks], auto blocks) {
#pragma unroll
      for (int b = 0; b < decltype(blocks)::value; ++b) issue_pv(stage_of(i + b), p[b]);
      wgmma_commit();
    };
    auto pin_scores = [&]() {
#pragma unroll
      for (int b = 0; b < T::kUpdateBlocks; ++b) pin_registers(acc[b]);
    };

    // The softmax update of kBlocks key blocks from their scores in acc: the new row max over all of them, O's decay
    // factor, the row sums and P (exp2(s − max), summed unrounded, rounded into the A fragments of P·V: tiles 2t,
    // 2t+1 → k-step t). With `guess` (a unit's later updates, 16-bit P) P is first taken against the running max as it
    // stands, which the slack keeps in most updates: if no thread's part of a row sums past kKeptMaxBound, no score
    // passed the max by the slack, the exact test would keep it as well, and the block maxima are never computed.
    auto softmax = [&](const Visits& v, auto blocks, auto guess, float (&decay)[2], Fragments (&p_frag)[T::kUpdateBlocks]) {
      constexpr int kBlocks = decltype(blocks)::value;
      float qk_scale[kBlocks];
      bool partial[kBlocks], any_partial = false;
#pragma unroll
      for (int b = 0; b < kBlocks; ++b) {
        qk_scale[b] = (q_scale * v.k_scale[b]) * a.score_scale;
        // Keys past the length (only in a key block that reaches past it) get the sentinel INT_MIN, which no sum of 128
        // products of INT8 codes reaches; their P is 0.
        partial[b] = static_cast<int64_t>(v.block[b] + 1) * BK > cta.key_len;
        any_partial |= partial[b];
        if (partial[b]) {
          const int64_t valid = cta.key_len - static_cast<int64_t>(v.block[b]) * BK;
#pragma unroll
          for (int j = 0; j < T::kScoreTiles; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e)
              if (j * 8 + (lane & 3) * 2 + (e & 1) >= valid) acc[b][4 * j + e] = INT_MIN;
        }
      }
      // P of every block against shift into p_frag, and this thread's part of each row's sum into sum.
      auto exponentiate = [&](const float (&shift)[2], float (&sum)[2]) {
        auto block = [&](int b, auto masked) {
          make_p<F>([&](int j, int e) {
            const float p = exp2_approx(fmaf(static_cast<float>(acc[b][4 * j + e]), qk_scale[b], -shift[e >> 1]));
            return decltype(masked)::value && acc[b][4 * j + e] == INT_MIN ? 0.f : p;
          }, sum, p_frag[b]);
        };
#pragma unroll
        for (int b = 0; b < kBlocks; ++b) {
          if (partial[b]) block(b, std::true_type{});
          else block(b, std::false_type{});
        }
      };
      if constexpr (decltype(guess)::value && kRowMaxSlack<F> > 0.f) {
        if (!any_partial) {  // the blocks' key ranges alone decide it: the same in every lane
          float sum[2] = {0.f, 0.f};
          exponentiate(row_max, sum);
          if (!__any_sync(0xffffffffu, sum[0] > kKeptMaxBound || sum[1] > kKeptMaxBound)) {
            decay[0] = decay[1] = 1.f;
            row_sum[0] += sum[0];
            row_sum[1] += sum[1];
            return;
          }
        }
      }
      float block_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
      for (int b = 0; b < kBlocks; ++b) {
        // Row max over the block on the INT32 sums (4 threads share a row): the scale is positive, so it commutes
        // with max; the blocks of one update have their own scales, so their maxima meet scaled.
        int tile_max[2] = {INT_MIN, INT_MIN};
#pragma unroll
        for (int j = 0; j < T::kScoreTiles; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e) tile_max[e >> 1] = max(tile_max[e >> 1], acc[b][4 * j + e]);
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          tile_max[r] = max(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
          tile_max[r] = max(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
          if (tile_max[r] != INT_MIN) block_max[r] = fmaxf(block_max[r], static_cast<float>(tile_max[r]) * qk_scale[b]);
        }
      }
      float shift[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        // The running max is raised only where the update's scores pass it by more than the slack (P ≤ 2^slack then);
        // most updates leave it, and O, as they are. Ties and −∞ keep the old max.
        const float new_max = block_max[r] > row_max[r] + kRowMaxSlack<F> ? block_max[r] : row_max[r];
        // A row that has seen only masked keys keeps max −∞; shifting by 0 then keeps exp2 at 0 instead of NaN.
        shift[r] = new_max == -INFINITY ? 0.f : new_max;
        decay[r] = exp2f(row_max[r] - shift[r]);
        row_max[r] = new_max;
        row_sum[r] *= decay[r];
        // E4M3 P·V takes P × 448: exp2(s − max + log2 448) is that product.
        if constexpr (F == PvFormat::kE4M3) shift[r] -= kLog2E4M3Max;
      }
      float sum[2] = {0.f, 0.f};
      exponentiate(shift, sum);
      row_sum[0] += sum[0];
      row_sum[1] += sum[1];
    };
    // O, which holds the blocks before the update relative to the old max, rescaled to the new one. Most updates leave
    // the row maxima unchanged (decay exactly 1), the more so with a slack: the warp then skips the 64 multiplications.
    auto rescale = [&](const float (&decay)[2]) {
      if (__any_sync(0xffffffffu, decay[0] != 1.f || decay[1] != 1.f)) {
#pragma unroll
        for (int c = 0; c < T::kOutTiles; ++c)
#pragma unroll
          for (int e = 0; e < 4; ++e) out[4 * c + e] *= decay[e >> 1];
      }
    };
    using One = std::integral_constant<int, 1>;
    using Both = std::integral_constant<int, T::kUpdateBlocks>;

    // Update at visit i ≥ kUpdateBlocks, of kBlocks visits (one only for the last of an odd count): S of its blocks, and
    // behind it O += P·V of the previous update (P in p_running), then the softmax into p_next while P·V still runs. The
    // two P buffers alternate, so that no instruction writes registers a running wgmma reads (the compiler would
    // serialize the wgmma otherwise), and every wait is unconditional.
    auto step = [&](int i, auto blocks, const Fragments (&p_running)[T::kUpdateBlocks], Fragments (&p_next)[T::kUpdateBlocks]) {
      const Visits v = wait_visits(i, blocks);
      float decay[2];
      pin_registers(out);
      wgmma_fence();
      issue_scores(i, blocks);
      issue_values(i - T::kUpdateBlocks, p_running, Both{});
      wgmma_wait<1>();  // S is done; P·V runs on under the softmax
      pin_scores();
      softmax(v, blocks, std::true_type{}, decay, p_next);
      wgmma_wait<0>();  // O holds the blocks before visit i, relative to the old max: rescale it to the new one
      pin_registers(out);
#pragma unroll
      for (int b = 0; b < T::kUpdateBlocks; ++b) release(i - T::kUpdateBlocks + b);
      rescale(decay);
    };
    // The first update of a unit, of kBlocks visits from i on, with no P·V behind it: S, then P (O holds nothing yet).
    auto first = [&](int i, auto blocks, Fragments (&p)[T::kUpdateBlocks]) {
      const Visits v = wait_visits(i, blocks);
      float decay[2];
      wgmma_fence();
      issue_scores(i, blocks);
      wgmma_wait<0>();
      pin_scores();
      softmax(v, blocks, std::false_type{}, decay, p);
    };
    // O += P·V of the kBlocks visits from i on, alone; their stages released.
    auto drain = [&](int i, const Fragments (&p)[T::kUpdateBlocks], auto blocks) {
      pin_registers(out);
      wgmma_fence();
      issue_values(i, p, blocks);
      wgmma_wait<0>();
      pin_registers(out);
#pragma unroll
      for (int b = 0; b < decltype(blocks)::value; ++b) release(i + b);
    };

    // Updates take the visits kUpdateBlocks at a time; with pairs an odd count leaves the last alone, its S and softmax
    // under the P·V of the pair before it.
    if (cta.tiles == 1) {
      Fragments p[T::kUpdateBlocks];
      first(0, One{}, p);
      drain(0, p, One{});
    } else if (cta.tiles > 1) {
      Fragments p0[T::kUpdateBlocks], p1[T::kUpdateBlocks];
      first(0, Both{}, p0);
      int i = T::kUpdateBlocks;
      for (; i + 2 * T::kUpdateBlocks <= cta.tiles; i += 2 * T::kUpdateBlocks) {  // p0 holds P of the update before i
        step(i, Both{}, p0, p1);
        step(i + T::kUpdateBlocks, Both{}, p1, p0);
      }
      switch (cta.tiles - i) {  // 0 to 2 · kUpdateBlocks − 1 visits left
        case 0: drain(i - T::kUpdateBlocks, p0, Both{}); break;
        case 1: step(i, One{}, p0, p1); drain(i, p1, One{}); break;
        case 2: step(i, Both{}, p0, p1); drain(i, p1, Both{}); break;
        default:
          step(i, Both{}, p0, p1);
          step(i + T::kUpdateBlocks, One{}, p1, p0);
          drain(i + T::kUpdateBlocks, p0, One{});
      }
    }
    if (lane == 0) mbarrier_arrive(sm.q_empty + 8 * qb);  // every Q·Kᵀ of the unit has retired
    g += cta.tiles;

    store_attention_rows<F == PvFormat::kE4M3>(a, cta, static_cast<int64_t>(first_row) + warp * 16, row_sum,
                                [&](int c, int k) { return out[4 * c + k]; });
  }
#endif
}

}  // namespace turbo

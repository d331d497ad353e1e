// SLA's choice of key blocks from the pooled scores (the pooled q and smoothed k come from the INT8 quantizer,
// attention_prep.cu; the scores from one batched matmul): per row — one query block of one (b, h) — the kept
// highest-scoring key blocks, written as the ascending list the attention kernel iterates over, with no block map in
// between. Reference: Turbo.Runtime.Attention.BlockSelection.Keep, whose map block_indices.cu turns into the same lists.
#include <algorithm>
#include "dependent_launch.cuh"

namespace {
constexpr int kMaxKeyBlocks = 16384;
constexpr int kMaxRowsPerBlock = 8;              // one warp per row
constexpr int kSharedPerBlock = 64 * 1024;       // rows per block: as many as fit here (at least one)
constexpr int kDigits = 256;                     // 8 bits of the key per round of the radix select

// A score's bits as an unsigned integer of the same order (−0 taken as +0, so that equal scores are equal keys).
__device__ __forceinline__ uint32_t order_key(float score) {
  const uint32_t bits = __float_as_uint(score == 0.f ? 0.f : score);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

// BlockSelection.KeptBlocks in the same double arithmetic: clamp(⌊top_k · n⌋, 1, n).
__device__ __forceinline__ int kept_blocks(double top_k, int n) {
  return static_cast<int>(fmin(fmax(floor(top_k * static_cast<double>(n)), 1.0), static_cast<double>(n)));
}

// The digit, from the top, at which the histogram's running count reaches `needed`, and how many keys of that digit
// are still needed once the higher digits are all taken; every lane gets both. Lane l reads digits 255 − 8l … 248 − 8l.
__device__ __forceinline__ void find_digit(const int* histogram, int lane, int& needed, uint32_t& digit) {
  int count[8], lane_total = 0;
#pragma unroll
  for (int i = 0; i < 8; ++i) lane_total += count[i] = histogram[kDigits - 1 - 8 * lane - i];
  int inclusive = lane_total;
#pragma unroll
  for (int offset = 1; offset < 32; offset <<= 1) {
    const int below = __shfl_up_sync(0xffffffffu, inclusive, offset);
    if (lane >= offset) inclusive += below;
  }
  const int before = inclusive - lane_total;
  const bool here = before < needed && needed <= inclusive;  // true in exactly one lane
  int found_digit = 0, found_needed = 0;
  if (here) {
    int above = before;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      if (above + count[i] >= needed) {
        found_digit = kDigits - 1 - 8 * lane - i;
        found_needed = needed - above;
        break;
      }
      above += count[i];
    }
  }
  const int owner = __ffs(__ballot_sync(0xffffffffu, here)) - 1;
  digit = static_cast<uint32_t>(__shfl_sync(0xffffffffu, found_digit, owner));
  needed = __shfl_sync(0xffffffffu, found_needed, owner);
}

// One warp per row: the row's keys and a histogram in shared memory, a radix select 8 bits at a time for the kept-th
// largest key (the threshold) and how many keys equal to it are kept, then the kept indices compacted in ascending
// order by ballots. Warps never wait for each other.
__global__ void __launch_bounds__(kMaxRowsPerBlock * 32)
    top_blocks_kernel(const float* __restrict__ scores, int64_t rows, int64_t heads, int query_blocks, int key_blocks,
                      const int32_t* __restrict__ key_lengths, int64_t length, int block_k, double top_k,
                      int32_t* __restrict__ indices, int32_t* __restrict__ counts) {
  extern __shared__ uint32_t shared[];
  wait_for_previous_grid();
  allow_next_grid();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + warp;
  if (row >= rows) return;  // the whole warp leaves together
  uint32_t* keys = shared + warp * (key_blocks + kDigits);
  int* histogram = reinterpret_cast<int*>(keys + key_blocks);
  const int64_t b = row / query_blocks / heads;
  const int64_t valid = key_lengths ? min(static_cast<int64_t>(key_lengths[b]), length) : length;
  const int n = static_cast<int>(min((valid + block_k - 1) / block_k, static_cast<int64_t>(key_blocks)));
  if (n < 1) {  // no valid key (the callers' checks exclude it): nothing kept
    if (lane == 0) counts[row] = 0;
    return;
  }
  for (int j = lane; j < n; j += 32) keys[j] = order_key(scores[row * key_blocks + j]);

  uint32_t threshold = 0, known = 0;  // known: the bits of the threshold fixed so far
  int needed = kept_blocks(top_k, n);
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int d = lane; d < kDigits; d += 32) histogram[d] = 0;
    __syncwarp();
    for (int j = lane; j < n; j += 32)
      if ((keys[j] & known) == threshold) atomicAdd(&histogram[(keys[j] >> shift) & 0xffu], 1);
    __syncwarp();
    uint32_t digit;
    find_digit(histogram, lane, needed, digit);
    __syncwarp();  // every lane has read the histogram before the next round clears it
    threshold |= digit << shift;
    known |= 0xffu << shift;
  }

  // Every key above the threshold is kept, and the first `needed` keys equal to it.
  const unsigned below = (1u << lane) - 1u;
  int written = 0, ties_before = 0;
  for (int base = 0; base < n; base += 32) {
    const int j = base + lane;
    const uint32_t key = j < n ? keys[j] : 0u;
    const bool tie = j < n && key == threshold;
    const unsigned ties = __ballot_sync(0xffffffffu, tie);
    const bool take = (j < n && key > threshold) || (tie && ties_before + __popc(ties & below) < needed);
    const unsigned taken = __ballot_sync(0xffffffffu, take);
    if (take) indices[row * key_blocks + written + __popc(taken & below)] = j;
    written += __popc(taken);
    ties_before += __popc(ties);
  }
  if (lane == 0) counts[row] = written;
}
}  // namespace

extern "C" int turbo_sla_top_blocks(const float* scores, int64_t batch, int64_t heads, int query_blocks, int key_blocks,
                                    const int32_t* key_lengths, int64_t length, int block_k, double top_k,
                                    int32_t* indices, int32_t* counts, void* stream) {
  const char* fn = "turbo_sla_top_blocks";
  if (!scores || !indices || !counts) { turbo_set_error(fn, "null pointer"); return -1; }
  if (batch < 1 || heads < 1 || query_blocks < 1 || length < 1 || block_k < 1) {
    turbo_set_error(fn, "batch, heads, query_blocks, length and block_k must be positive");
    return -1;
  }
  if (key_blocks != (length + block_k - 1) / block_k || key_blocks > kMaxKeyBlocks) {
    turbo_set_error(fn, "key_blocks must be ceil(length / block_k) and at most 16384");
    return -1;
  }
  if (!(top_k > 0.0 && top_k <= 1.0)) { turbo_set_error(fn, "top_k must be in (0, 1]"); return -1; }
  const int64_t rows = batch * heads * query_blocks;
  const size_t per_row = (static_cast<size_t>(key_blocks) + kDigits) * sizeof(uint32_t);
  const int rows_per_block = static_cast<int>(std::max<size_t>(1, std::min<size_t>(kMaxRowsPerBlock, kSharedPerBlock / per_row)));
  const int64_t grid = (rows + rows_per_block - 1) / rows_per_block;
  if (grid > 0x7fffffff) { turbo_set_error(fn, "too many rows"); return -1; }
  const size_t shared = rows_per_block * per_row;
  if (shared > 48 * 1024) {  // past the default limit (only rows of more than 12,032 blocks: one per block)
    if (int rc = turbo_check(fn, cudaFuncSetAttribute(top_blocks_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                      static_cast<int>(shared))))
      return rc;
  }
  return turbo_check(fn, launch_dependent(top_blocks_kernel, static_cast<unsigned>(grid), rows_per_block * 32, shared,
                                          static_cast<cudaStream_t>(stream), scores, rows, heads, query_blocks, key_blocks,
                                          key_lengths, length, block_k, top_k, indices, counts));
}

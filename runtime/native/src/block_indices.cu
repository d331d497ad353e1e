// SLA's block map (which key blocks each query block keeps) → per-row lists of the kept key-block indices, the form
// the attention kernel iterates over. Reference: Turbo.Runtime.Attention.NativeSageAttention.KeptBlockLists.
#include "common.cuh"

namespace {
constexpr int kWarpsPerBlock = 8;

// One warp per row: 32 flags at a time, each kept flag's position = kept so far + kept lanes below it (ballot).
__global__ void block_indices_kernel(const uint8_t* __restrict__ map, int64_t rows, int blocks, int max_kept,
                                     int32_t* __restrict__ indices, int32_t* __restrict__ counts) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;  // the whole warp leaves together
  int count = 0;
  for (int base = 0; base < blocks; base += 32) {
    const int j = base + lane;
    const bool kept = j < blocks && map[row * blocks + j] != 0;
    const unsigned ballot = __ballot_sync(0xffffffffu, kept);
    const int position = count + __popc(ballot & ((1u << lane) - 1u));
    if (kept && position < max_kept) indices[row * max_kept + position] = j;
    count += __popc(ballot);
  }
  if (lane == 0) counts[row] = min(count, max_kept);
}
}  // namespace

extern "C" int turbo_block_map_indices(const uint8_t* map, int64_t rows, int blocks, int max_kept, int32_t* indices,
                                       int32_t* counts, void* stream) {
  const char* fn = "turbo_block_map_indices";
  if (!map || !indices || !counts) { turbo_set_error(fn, "null pointer"); return -1; }
  if (rows < 1 || blocks < 1 || max_kept < 1 || max_kept > blocks) {
    turbo_set_error(fn, "rows and blocks must be positive and max_kept in 1..blocks");
    return -1;
  }
  const int64_t grid = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  if (grid > 0x7fffffff) { turbo_set_error(fn, "too many rows"); return -1; }
  block_indices_kernel<<<static_cast<unsigned>(grid), kWarpsPerBlock * 32, 0, static_cast<cudaStream_t>(stream)>>>(
      map, rows, blocks, max_kept, indices, counts);
  return TURBO_LAUNCH_CHECK(fn);
}

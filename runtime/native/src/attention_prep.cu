// The passes that prepare q, k and v for the quantized attention kernel (sage_attention.cu): per-channel statistics
// over tokens (K's mean for smoothing, V's FP8 scales), INT8 quantization per block of tokens, and V rounded to the
// P·V operand format. References: Turbo.Runtime.Attention.SageAttention (BlockSelection.SmoothK,
// Int8BlockQuantizer, QuantizeV). All are memory-bound single passes, small next to the attention itself.
#include <cuda_fp8.h>
#include "channel_stats.cuh"
#include "dependent_launch.cuh"

namespace {
constexpr int kThreads = 256;
// Tokens one block of the statistics pass reduces; the partial results are then summed in a fixed order, so the
// statistics are deterministic (no atomics). Sums are float64: for activations they are exact, so the mean is the
// correctly rounded one whatever the order, and equal to the reference's float64 mean (BlockSelection.SmoothK).
constexpr int64_t kTokensPerSplit = 512;
// Scales multiply by these float constants, as the references do (Int8BlockQuantizer, SageAttention.QuantizeValues):
// an exact, device-independent definition (torch itself turns a division by a scalar into this product on CUDA).
constexpr float kInverseInt8Max = 1.f / 127.f;
constexpr float kInverseE4M3Max = 1.f / 448.f;
// The statistics pass is latency-bound when each thread waits for one load before issuing the next: each step reads
// this many tokens into registers first (the other passes read all of a block's values before using any). With 4,
// four blocks fit per SM (64 registers a thread).
constexpr int kLoadBatch = 4;
// Padded rows of V one block of the value pass writes (padded lengths are multiples of the 64- or 128-token blocks).
constexpr int kValueRows = 64;
// Every pass's grid is (b·H + h, piece of the tokens), b·H + h fastest: the blocks running together then read whole
// token rows of the token-major tensors rather than one head's 128 or 256 bytes of many rows. The pieces, on the
// grid's second axis, are at most this many.
constexpr int64_t kMaxGridY = 65535;

bool valid_attention_dim(int dim) { return dim == 64 || dim == 128; }

struct TokenView {
  const void* data;
  int dtype;
  int64_t stride_b, stride_h, stride_l;
};

__device__ __forceinline__ int64_t valid_tokens(const int32_t* key_lengths, int64_t b, int64_t length) {
  return key_lengths ? min(static_cast<int64_t>(key_lengths[b]), length) : length;
}

// Channels a thread handles together: one 16-byte load of bf16/f16 (two of float32) where rows allow it.
constexpr int kGroup = kVectorWidth;

// How a pass reads its token rows (its kernels' kLoads): vector loads of 8 elements at once of a dtype fixed at compile
// time, where rows start 16-byte aligned at strides of 8 elements (row_loads), else kElementLoads: element by element,
// at the view's run-time dtype.
constexpr int kElementLoads = -1;

// N groups of 8 consecutive channels, group u at (token[u], channel[u]), as float32, or zeros where live[u] is false
// (past the end, the key length or the padding: they add nothing to a sum or an absmax and quantize to 0). Vector
// loads of every group are issued before any group is converted, so that all of them are in flight at once.
template <int kLoads, int N>
__device__ __forceinline__ void load_groups(const TokenView& x, const bool (&live)[N], int64_t b, int64_t h,
                                            const int64_t (&token)[N], const int (&channel)[N], float (&v)[N][kGroup]) {
  const int64_t row = b * x.stride_b + h * x.stride_h;
  if constexpr (kLoads == kElementLoads) {
#pragma unroll
    for (int u = 0; u < N; ++u)
#pragma unroll
      for (int c = 0; c < kGroup; ++c)
        v[u][c] = live[u] ? load_as_float(x.data, x.dtype, row + token[u] * x.stride_l + channel[u] + c) : 0.f;
  } else {
    Raw8<kLoads> raw[N];
#pragma unroll
    for (int u = 0; u < N; ++u)
      raw[u] = live[u] ? load8_raw<kLoads>(x.data, row + token[u] * x.stride_l + channel[u]) : Raw8<kLoads>{};
#pragma unroll
    for (int u = 0; u < N; ++u) widen8(raw[u], v[u]);
  }
}

// kernel_for(std::integral_constant<int, kLoads>{}) for the kLoads of `loads` (a dtype or kElementLoads): the pass's
// instantiation for how its rows are read.
template <class KernelFor>
auto kernel_for_loads(int loads, KernelFor kernel_for) {
  switch (loads) {
    case TURBO_BF16: return kernel_for(std::integral_constant<int, TURBO_BF16>{});
    case TURBO_F16: return kernel_for(std::integral_constant<int, TURBO_F16>{});
    case TURBO_F32: return kernel_for(std::integral_constant<int, TURBO_F32>{});
    default: return kernel_for(std::integral_constant<int, kElementLoads>{});
  }
}

// partial[bh][split][d]: sum (or absmax) of channel d over the split's valid tokens. A thread owns a group of 8
// channels and visits every (kThreads / (dim/8))-th token, kLoadBatch tokens' loads in flight before any is used.
template <int kLoads>
__global__ void __launch_bounds__(kThreads, 4)
    channel_partials_kernel(TokenView x, const int32_t* __restrict__ key_lengths, int64_t heads, int64_t length, int dim,
                            int splits, bool absmax, double* __restrict__ partial) {
  __shared__ double scratch[kThreads * kGroup];
  wait_for_previous_grid();
  allow_next_grid();
  const int split = blockIdx.y;
  const int64_t bh = blockIdx.x, b = bh / heads, h = bh % heads;
  const int64_t end = min((split + 1) * kTokensPerSplit, valid_tokens(key_lengths, b, length));
  const int groups = dim / kGroup, slots = kThreads / groups;
  const int group = threadIdx.x % groups, slot = threadIdx.x / groups;
  double acc[kGroup] = {};
  for (int64_t t0 = split * kTokensPerSplit + slot; t0 < end; t0 += slots * kLoadBatch) {
    float v[kLoadBatch][kGroup];
    bool live[kLoadBatch];
    int64_t token[kLoadBatch];
    int channel[kLoadBatch];
#pragma unroll
    for (int u = 0; u < kLoadBatch; ++u) {
      token[u] = t0 + u * slots;
      live[u] = token[u] < end;
      channel[u] = group * kGroup;
    }
    load_groups<kLoads>(x, live, b, h, token, channel, v);
#pragma unroll
    for (int u = 0; u < kLoadBatch; ++u)
#pragma unroll
      for (int c = 0; c < kGroup; ++c) acc[c] = absmax ? fmax(acc[c], fabs(static_cast<double>(v[u][c]))) : acc[c] + v[u][c];
  }
#pragma unroll
  for (int c = 0; c < kGroup; ++c) scratch[threadIdx.x * kGroup + c] = acc[c];
  __syncthreads();
  if (threadIdx.x >= dim) return;
  // Channel d's partials sit at slot s, group d/8, element d%8: consecutive threads read consecutive doubles.
  double total = 0.0;
  for (int s = 0; s < slots; ++s) {
    const double p = scratch[s * dim + threadIdx.x];
    total = absmax ? fmax(total, p) : total + p;
  }
  partial[(bh * splits + split) * dim + threadIdx.x] = total;
}

__global__ void channel_finish_kernel(const double* __restrict__ partial, const int32_t* __restrict__ key_lengths,
                                      int64_t heads, int64_t length, int dim, int splits, int mode, float* __restrict__ out) {
  wait_for_previous_grid();
  allow_next_grid();
  const int64_t bh = blockIdx.x;
  const int channel = threadIdx.x;
  const bool absmax = mode == TURBO_STAT_E4M3_SCALE;
  double total = 0.0;
  for (int s = 0; s < splits; ++s) {
    const double p = partial[(bh * splits + s) * dim + channel];
    total = absmax ? fmax(total, p) : total + p;
  }
  if (absmax) {
    const float amax = static_cast<float>(total);  // exact: a maximum of float values
    out[bh * dim + channel] = amax > 0.f ? amax * kInverseE4M3Max : 1.f;
  } else {
    out[bh * dim + channel] = static_cast<float>(total / static_cast<double>(valid_tokens(key_lengths, bh / heads, length)));
  }
}

// Groups of 8 channels each quantizer thread holds, all loaded before any is used. A block of the quantizer has one
// thread per kQuantizeGroups groups of its token block: 128, 256 or 512 threads for 64 or 128 tokens of 64 or 128
// channels, so every thread's loads carry data whatever the shape, and 32 warps (64 registers a thread, the launch
// bound) fit per SM. 16 KB and 32 KB token blocks alike keep 64 KB of loads in flight per SM.
constexpr int kQuantizeGroups = 4;

// The quantizer's shape, fixed at compile time: kBlock tokens of kDim channels per CTA. A thread's groups all lie in
// one channel group (kThreads is a multiple of the groups per token), kRowStep tokens apart, so its index arithmetic
// is shifts and its share of the mean one load. (With the shape a run-time value, the divisions and 64-bit products
// of the indices made the kernel issue 44% more instructions, and it was bound by issue as much as by memory.)
template <int kTokens, int kChannels>
struct QuantizeShape {
  static constexpr int kBlock = kTokens, kDim = kChannels;
  static constexpr int kThreads = kBlock * kDim / (kGroup * kQuantizeGroups);
  static constexpr int kGroups = kDim / kGroup;  // channel groups of a token
  static constexpr int kRowStep = kThreads / kGroups;
  static_assert(kThreads % kGroups == 0 && kThreads % 32 == 0, "a thread's groups share a channel group");
};

// Four codes round-half-even(v · inverse) packed into one word, first channel in the lowest byte (inverse: the float32
// reciprocal of the block's scale, as Int8BlockQuantizer multiplies). The rounding adds 1.5·2^23, whose float has ulp
// 1 up to 2^24: the sum is the nearest-even integer plus 1.5·2^23 exactly, and its low byte is the code's two's
// complement (|v · inverse| ≤ 127.5). No division and no conversion instruction per value; the product and the sum
// are separate roundings, as the reference's (no fused multiply-add).
__device__ __forceinline__ uint32_t pack_codes(const float* v, float inverse) {
  uint32_t word = 0;
#pragma unroll
  for (int c = 0; c < 4; ++c) word |= (__float_as_uint(__fadd_rn(__fmul_rn(v[c], inverse), 12582912.f)) & 0xffu) << (8 * c);
  return word;
}

// pooled[d]: the mean over the block's live tokens of the values the threads hold (v[u], zero where not live), 0 for
// a block without any. Each thread sums its own groups, the lanes of a warp that share a channel group by shuffles,
// then the warps in a fixed order (deterministic).
template <class S>
__device__ __forceinline__ void store_block_mean(float (&v)[kQuantizeGroups][kGroup], int64_t live_tokens,
                                                 float* __restrict__ pooled) {
  __shared__ __align__(16) float partial[S::kThreads / 32][S::kDim];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int c = 0; c < kGroup; ++c) {
#pragma unroll
    for (int u = 1; u < kQuantizeGroups; ++u) v[0][c] += v[u][c];
#pragma unroll
    for (int offset = S::kGroups; offset < 32; offset *= 2) v[0][c] += __shfl_xor_sync(0xffffffffu, v[0][c], offset);
  }
  if (lane < S::kGroups) {
    float4* const to = reinterpret_cast<float4*>(&partial[warp][lane * kGroup]);
    to[0] = make_float4(v[0][0], v[0][1], v[0][2], v[0][3]);
    to[1] = make_float4(v[0][4], v[0][5], v[0][6], v[0][7]);
  }
  __syncthreads();
  if (threadIdx.x >= S::kDim) return;
  float total = 0.f;
#pragma unroll
  for (int w = 0; w < S::kThreads / 32; ++w) total += partial[w][threadIdx.x];
  pooled[threadIdx.x] = live_tokens > 0 ? total / static_cast<float>(live_tokens) : 0.f;
}

// One block per (bh, token block): the block's kBlock × kDim values (minus the mean) are read once into registers,
// their absmax reduced over the block, then the codes written 8 to a store (and, when pooled is given, the block's
// mean: SLA pools its blocks from the same values).
template <int kLoads, int kBlock, int kDim>
__global__ void __launch_bounds__(QuantizeShape<kBlock, kDim>::kThreads, 1024 / QuantizeShape<kBlock, kDim>::kThreads)
    quantize_int8_kernel(TokenView x, const float* __restrict__ mean, const int32_t* __restrict__ key_lengths, int heads,
                         int64_t length, int8_t* __restrict__ codes, float* __restrict__ scales, float* __restrict__ pooled) {
  using S = QuantizeShape<kBlock, kDim>;
  __shared__ float scratch[32];
  wait_for_previous_grid();
  allow_next_grid();
  const int blocks = gridDim.y, blk = blockIdx.y;
  const int bh = blockIdx.x, b = bh / heads, h = bh % heads;  // batch·heads is at most 65535
  const int64_t valid = valid_tokens(key_lengths, b, length);
  const int channel = threadIdx.x % S::kGroups * kGroup;
  const int64_t first_token = static_cast<int64_t>(blk) * kBlock + threadIdx.x / S::kGroups;

  float m[kGroup] = {};
  if (mean) load8_f32(mean, static_cast<int64_t>(bh) * kDim + channel, m);
  float v[kQuantizeGroups][kGroup];
  bool live[kQuantizeGroups];
  int64_t token[kQuantizeGroups];
  int channels[kQuantizeGroups];
#pragma unroll
  for (int u = 0; u < kQuantizeGroups; ++u) {
    token[u] = first_token + u * S::kRowStep;
    live[u] = token[u] < valid;
    channels[u] = channel;
  }
  load_groups<kLoads>(x, live, b, h, token, channels, v);
  float amax = 0.f;
#pragma unroll
  for (int u = 0; u < kQuantizeGroups; ++u) {
    if (live[u] && mean)
#pragma unroll
      for (int c = 0; c < kGroup; ++c) v[u][c] -= m[c];
#pragma unroll
    for (int c = 0; c < kGroup; ++c) amax = fmaxf(amax, fabsf(v[u][c]));
  }
  amax = block_max(amax, scratch);
  const float scale = amax > 0.f ? amax * kInverseInt8Max : 1.f, inverse = 1.f / scale;

  int8_t* const out = codes + (static_cast<int64_t>(bh) * blocks * kBlock + first_token) * kDim + channel;
#pragma unroll
  for (int u = 0; u < kQuantizeGroups; ++u)
    *reinterpret_cast<uint2*>(out + u * S::kRowStep * kDim) = make_uint2(pack_codes(v[u], inverse), pack_codes(v[u] + 4, inverse));
  if (threadIdx.x == 0) scales[static_cast<int64_t>(bh) * blocks + blk] = scale;
  if (pooled) {
    const int64_t live_tokens = max(int64_t{0}, min(static_cast<int64_t>(kBlock), valid - static_cast<int64_t>(blk) * kBlock));
    store_block_mean<S>(v, live_tokens, pooled + (static_cast<int64_t>(bh) * blocks + blk) * kDim);
  }
}

// Launches the quantizer's instantiation for (block, dim) and the rows' layout.
template <int kBlock, int kDim>
cudaError_t launch_quantize(int loads, dim3 grid, cudaStream_t stream, const TokenView& x, const float* mean,
                            const int32_t* key_lengths, int heads, int64_t length, int8_t* codes, float* scales, float* pooled) {
  const auto kernel = kernel_for_loads(loads, [](auto l) { return quantize_int8_kernel<decltype(l)::value, kBlock, kDim>; });
  return launch_dependent(kernel, grid, QuantizeShape<kBlock, kDim>::kThreads, 0, stream, x, mean, key_lengths, heads, length, codes,
                          scales, pooled);
}

// Groups of 8 channels one thread of the value pass holds: kValueRows rows of 128 channels over 256 threads.
constexpr int kValueGroups = kValueRows * 128 / kGroup / kThreads;

// One block per (kValueRows padded rows, b·H + h): every group of the block's rows is loaded before any is converted,
// then written as 8 fp16 or bf16 values (one 16-byte store).
template <int kLoads>
__global__ void prepare_values_kernel(TokenView v, const int32_t* __restrict__ key_lengths,
                                      const float* __restrict__ e4m3_scales, int64_t heads, int64_t length, int dim,
                                      int64_t padded, bool bf16, uint16_t* __restrict__ out) {
  wait_for_previous_grid();
  allow_next_grid();
  const int groups = dim / kGroup, count = kValueRows * groups;
  const int64_t bh = blockIdx.x, b = bh / heads, h = bh % heads;
  const int64_t valid = valid_tokens(key_lengths, b, length);
  const int64_t first_row = static_cast<int64_t>(blockIdx.y) * kValueRows;
  float x[kValueGroups][kGroup];
  bool live[kValueGroups];
  int64_t rows[kValueGroups];
  int channels[kValueGroups];
#pragma unroll
  for (int u = 0; u < kValueGroups; ++u) {
    const int i = threadIdx.x + u * kThreads;
    rows[u] = first_row + i / groups;
    live[u] = i < count && rows[u] < valid;
    channels[u] = (i % groups) * kGroup;
  }
  load_groups<kLoads>(v, live, b, h, rows, channels, x);
#pragma unroll
  for (int u = 0; u < kValueGroups; ++u) {
    const int i = threadIdx.x + u * kThreads;
    if (i >= count) break;
    const int channel = (i % groups) * kGroup;
    uint32_t words[kGroup / 2];
    if (e4m3_scales) {
      float s[kGroup];
      load8_f32(e4m3_scales, bh * dim + channel, s);
#pragma unroll
      for (int c = 0; c < kGroup; c += 2) {
        const __nv_fp8x2_storage_t fp8 =
            __nv_cvt_float2_to_fp8x2(make_float2(x[u][c] / s[c], x[u][c + 1] / s[c + 1]), __NV_SATFINITE, __NV_E4M3);
        const __half2_raw pair = __nv_cvt_fp8x2_to_halfraw2(fp8, __NV_E4M3);
        words[c / 2] = static_cast<uint32_t>(pair.x) | (static_cast<uint32_t>(pair.y) << 16);
      }
    } else if (bf16) {
#pragma unroll
      for (int c = 0; c < kGroup; c += 2) {
        const __nv_bfloat162 pair = __floats2bfloat162_rn(x[u][c], x[u][c + 1]);
        words[c / 2] = *reinterpret_cast<const uint32_t*>(&pair);
      }
    } else {
#pragma unroll
      for (int c = 0; c < kGroup; c += 2) {
        const __half2 pair = __floats2half2_rn(x[u][c], x[u][c + 1]);
        words[c / 2] = *reinterpret_cast<const uint32_t*>(&pair);
      }
    }
    *reinterpret_cast<uint4*>(out + (bh * padded + first_row + i / groups) * dim + channel) =
        make_uint4(words[0], words[1], words[2], words[3]);
  }
}

// Shared argument checks of the token-tensor passes; sets the error and returns false when one fails.
bool check_tokens(const char* fn, const void* x, int dtype, const int64_t* strides, int64_t batch, int64_t heads,
                  int64_t length, int dim) {
  if (!x || !strides) { turbo_set_error(fn, "null tensor or strides"); return false; }
  if (!valid_dtype(dtype)) { turbo_set_error(fn, "unsupported dtype"); return false; }
  if (!valid_attention_dim(dim)) { turbo_set_error(fn, "dim must be 64 or 128"); return false; }
  if (batch < 1 || heads < 1 || length < 1 || batch * heads > 65535) {
    turbo_set_error(fn, "batch, heads and length must be positive, batch·heads at most 65535");
    return false;
  }
  if (strides[0] < 0 || strides[1] < 0 || strides[2] < 0) { turbo_set_error(fn, "negative strides"); return false; }
  return true;
}

// The pass's row loads (kLoads): vectors of the dtype where every row starts 16-byte aligned at strides of 8 elements,
// else element by element.
int row_loads(const void* x, int dtype, const int64_t* strides) {
  return aligned_rows(x, strides) ? dtype : kElementLoads;
}

int64_t splits_for(int64_t length) { return (length + kTokensPerSplit - 1) / kTokensPerSplit; }
}  // namespace

int finish_channel_stats(const char* fn, const double* partial, const int32_t* key_lengths, int64_t batch_heads,
                         int64_t heads, int64_t length, int dim, int splits, int mode, float* out, cudaStream_t stream) {
  return turbo_check(fn, launch_dependent(channel_finish_kernel, static_cast<unsigned>(batch_heads), dim, 0, stream, partial,
                                          key_lengths, heads, length, dim, splits, mode, out));
}

extern "C" int64_t turbo_channel_stats_workspace(int64_t batch, int64_t heads, int64_t length, int dim) {
  return batch * heads * splits_for(length) * dim;
}

extern "C" int turbo_channel_stats(const void* x, int dtype, const int64_t* strides, const int32_t* key_lengths,
                                   int64_t batch, int64_t heads, int64_t length, int dim, int mode, double* partial,
                                   float* out, void* stream) {
  const char* fn = "turbo_channel_stats";
  if (!check_tokens(fn, x, dtype, strides, batch, heads, length, dim)) return -1;
  if (mode != TURBO_STAT_MEAN && mode != TURBO_STAT_E4M3_SCALE) { turbo_set_error(fn, "unknown mode"); return -1; }
  if (!partial || !out) { turbo_set_error(fn, "null workspace or output"); return -1; }
  const int64_t splits = splits_for(length);
  if (splits > kMaxGridY) { turbo_set_error(fn, "too many tokens (at most 33.5 million)"); return -1; }
  const TokenView view{x, dtype, strides[0], strides[1], strides[2]};
  const auto s = static_cast<cudaStream_t>(stream);
  const dim3 grid(static_cast<unsigned>(batch * heads), static_cast<unsigned>(splits));
  const auto partials = kernel_for_loads(row_loads(x, dtype, strides), [](auto l) { return channel_partials_kernel<decltype(l)::value>; });
  if (int rc = turbo_check(fn, launch_dependent(partials, grid, kThreads, 0, s, view, key_lengths, heads, length, dim,
                                               static_cast<int>(splits), mode == TURBO_STAT_E4M3_SCALE, partial)))
    return rc;
  return finish_channel_stats(fn, partial, key_lengths, batch * heads, heads, length, dim, static_cast<int>(splits), mode, out, s);
}

extern "C" int turbo_quantize_int8_blocks(const void* x, int dtype, const int64_t* strides, const float* mean,
                                          const int32_t* key_lengths, int64_t batch, int64_t heads, int64_t length,
                                          int dim, int block, int8_t* codes, float* scales, float* pooled,
                                          void* stream) {
  const char* fn = "turbo_quantize_int8_blocks";
  if (!check_tokens(fn, x, dtype, strides, batch, heads, length, dim)) return -1;
  if (block != 64 && block != 128) { turbo_set_error(fn, "block must be 64 or 128"); return -1; }
  if (!codes || !scales) { turbo_set_error(fn, "null output"); return -1; }
  // Codes are stored 8 and the mean read 8 channels at a time.
  if (!aligned_to(codes, 8) || (mean && !aligned_to(mean, 16))) {
    turbo_set_error(fn, "codes must be 8-byte and mean 16-byte aligned");
    return -1;
  }
  const int64_t blocks = (length + block - 1) / block;
  if (blocks > kMaxGridY) { turbo_set_error(fn, "too many token blocks (at most 65535)"); return -1; }
  const TokenView view{x, dtype, strides[0], strides[1], strides[2]};
  const dim3 grid(static_cast<unsigned>(batch * heads), static_cast<unsigned>(blocks));
  const auto s = static_cast<cudaStream_t>(stream);
  const int h = static_cast<int>(heads);
  const auto launch = block == 64 ? (dim == 64 ? launch_quantize<64, 64> : launch_quantize<64, 128>)
                                   : (dim == 64 ? launch_quantize<128, 64> : launch_quantize<128, 128>);
  return turbo_check(fn, launch(row_loads(x, dtype, strides), grid, s, view, mean, key_lengths, h, length, codes, scales,
                                pooled));
}

extern "C" int turbo_prepare_values(const void* v, int dtype, const int64_t* strides, const int32_t* key_lengths,
                                    const float* e4m3_scales, int64_t batch, int64_t heads, int64_t length, int dim,
                                    int block, int values_dtype, void* values, void* stream) {
  const char* fn = "turbo_prepare_values";
  if (!check_tokens(fn, v, dtype, strides, batch, heads, length, dim)) return -1;
  if (block != 64 && block != 128) { turbo_set_error(fn, "block must be 64 or 128"); return -1; }
  if (!values) { turbo_set_error(fn, "null output"); return -1; }
  if (values_dtype != TURBO_F16 && (values_dtype != TURBO_BF16 || e4m3_scales)) {
    turbo_set_error(fn, "values_dtype must be TURBO_F16, or TURBO_BF16 without e4m3_scales");
    return -1;
  }
  // Values are stored and the scales read 8 channels at a time.
  if (!aligned_to(values, 16) || (e4m3_scales && !aligned_to(e4m3_scales, 16))) {
    turbo_set_error(fn, "values and e4m3_scales must be 16-byte aligned");
    return -1;
  }
  const int64_t padded = (length + block - 1) / block * block;  // a multiple of kValueRows: blocks are 64 or 128
  if (padded / kValueRows > kMaxGridY) { turbo_set_error(fn, "too many tokens (at most 4.19 million)"); return -1; }
  const TokenView view{v, dtype, strides[0], strides[1], strides[2]};
  const dim3 grid(static_cast<unsigned>(batch * heads), static_cast<unsigned>(padded / kValueRows));
  const auto kernel = kernel_for_loads(row_loads(v, dtype, strides), [](auto l) { return prepare_values_kernel<decltype(l)::value>; });
  return turbo_check(fn, launch_dependent(kernel, grid, kThreads, 0, static_cast<cudaStream_t>(stream), view, key_lengths,
                                          e4m3_scales, heads, length, dim, padded, values_dtype == TURBO_BF16,
                                          static_cast<uint16_t*>(values)));
}

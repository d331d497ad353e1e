// The passes that prepare q, k and v for the quantized attention kernel (sage_attention.cu): per-channel statistics
// over tokens (K's mean for smoothing, V's FP8 scales), INT8 quantization per block of tokens, and V rounded to the
// P·V operand format. References: Turbo.Runtime.Attention.SageAttention (BlockSelection.SmoothK,
// Int8BlockQuantizer, QuantizeV). All are memory-bound single passes, small next to the attention itself.
#include <cuda_fp8.h>
#include "common.cuh"

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
// The passes are latency-bound when each thread waits for one load before issuing the next: each loop reads this many
// tokens (or groups of channels) into registers first.
constexpr int kLoadBatch = 8;
constexpr int kQuadBatch = 4;  // the quantizer's groups of 4 channels (16 values: registers for 3–4 blocks per SM)
// Padded rows of V one block of the value pass writes (padded lengths are multiples of the 64- or 128-token blocks).
constexpr int kValueRows = 64;

bool valid_attention_dim(int dim) { return dim == 64 || dim == 128; }

struct TokenView {
  const void* data;
  int dtype;
  int64_t stride_b, stride_h, stride_l;
  __device__ float at(int64_t b, int64_t h, int64_t token, int channel) const {
    return load_as_float(data, dtype, b * stride_b + h * stride_h + token * stride_l + channel);
  }
};

__device__ __forceinline__ int64_t valid_tokens(const int32_t* key_lengths, int64_t b, int64_t length) {
  return key_lengths ? min(static_cast<int64_t>(key_lengths[b]), length) : length;
}

// partial[bh][split][d]: sum (or absmax) of channel d over the split's valid tokens. 256/dim tokens at a time.
__global__ void channel_partials_kernel(TokenView x, const int32_t* __restrict__ key_lengths, int64_t heads,
                                        int64_t length, int dim, int splits, bool absmax, double* __restrict__ partial) {
  __shared__ double scratch[kThreads];
  const int split = blockIdx.x;
  const int64_t bh = blockIdx.y, b = bh / heads, h = bh % heads;
  const int64_t end = min((split + 1) * kTokensPerSplit, valid_tokens(key_lengths, b, length));
  const int parallel = kThreads / dim, channel = threadIdx.x % dim, slot = threadIdx.x / dim;
  double acc = 0.0;
  // kLoadBatch tokens' loads are issued before any is used (in the same order of sums: a token past the end adds 0).
  for (int64_t t0 = split * kTokensPerSplit + slot; t0 < end; t0 += parallel * kLoadBatch) {
    double v[kLoadBatch];
#pragma unroll
    for (int u = 0; u < kLoadBatch; ++u) {
      const int64_t t = t0 + u * parallel;
      v[u] = t < end ? x.at(b, h, t, channel) : 0.0;
    }
#pragma unroll
    for (int u = 0; u < kLoadBatch; ++u) acc = absmax ? fmax(acc, fabs(v[u])) : acc + v[u];
  }
  scratch[threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.x >= dim) return;
  double total = 0.0;
  for (int s = 0; s < parallel; ++s) total = absmax ? fmax(total, scratch[s * dim + channel]) : total + scratch[s * dim + channel];
  partial[(bh * splits + split) * dim + channel] = total;
}

__global__ void channel_finish_kernel(const double* __restrict__ partial, const int32_t* __restrict__ key_lengths,
                                      int64_t heads, int64_t length, int dim, int splits, int mode, float* __restrict__ out) {
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

// One block per (bh, token block): absmax over the block's block × dim values (after the mean), then the codes.
// Each thread handles 4 neighbouring channels, so a code store is one 4-byte word.
__global__ void quantize_int8_kernel(TokenView x, const float* __restrict__ mean, const int32_t* __restrict__ key_lengths,
                                     int64_t heads, int64_t length, int dim, int block, int8_t* __restrict__ codes,
                                     float* __restrict__ scales) {
  __shared__ float scratch[32];
  const int blocks = gridDim.x, blk = blockIdx.x;
  const int64_t bh = blockIdx.y, b = bh / heads, h = bh % heads;
  const int64_t valid = valid_tokens(key_lengths, b, length);
  const int quads = dim / 4, count = block * quads;
  auto value = [&](int64_t token, int channel) {
    if (token >= valid) return 0.f;
    const float v = x.at(b, h, token, channel);
    return mean ? v - mean[bh * dim + channel] : v;
  };

  // Both passes read kQuadBatch quads of every thread before using any, so that their loads are in flight together.
  auto load_quads = [&](int first, float (&v)[kQuadBatch][4]) {
#pragma unroll
    for (int u = 0; u < kQuadBatch; ++u) {
      const int i = first + u * static_cast<int>(blockDim.x);
      const int64_t token = static_cast<int64_t>(blk) * block + i / quads;
      const int channel = (i % quads) * 4;
#pragma unroll
      for (int c = 0; c < 4; ++c) v[u][c] = i < count ? value(token, channel + c) : 0.f;
    }
  };
  const int stride = static_cast<int>(blockDim.x) * kQuadBatch;

  float amax = 0.f;
  for (int first = threadIdx.x; first < count; first += stride) {
    float v[kQuadBatch][4];
    load_quads(first, v);
#pragma unroll
    for (int u = 0; u < kQuadBatch; ++u)
#pragma unroll
      for (int c = 0; c < 4; ++c) amax = fmaxf(amax, fabsf(v[u][c]));
  }
  amax = block_max(amax, scratch);
  const float scale = amax > 0.f ? amax * kInverseInt8Max : 1.f;

  for (int first = threadIdx.x; first < count; first += stride) {
    float v[kQuadBatch][4];
    load_quads(first, v);
#pragma unroll
    for (int u = 0; u < kQuadBatch; ++u) {
      const int i = first + u * static_cast<int>(blockDim.x);
      if (i >= count) break;
      const int64_t row = static_cast<int64_t>(blk) * block + i / quads;
      const int channel = (i % quads) * 4;
      char4 q;
      q.x = static_cast<signed char>(__float2int_rn(v[u][0] / scale));
      q.y = static_cast<signed char>(__float2int_rn(v[u][1] / scale));
      q.z = static_cast<signed char>(__float2int_rn(v[u][2] / scale));
      q.w = static_cast<signed char>(__float2int_rn(v[u][3] / scale));
      *reinterpret_cast<char4*>(codes + ((bh * blocks * block) + row) * dim + channel) = q;
    }
  }
  if (threadIdx.x == 0) scales[bh * blocks + blk] = scale;
}

// One block per (kValueRows padded rows, b·H + h): a thread holds one pair of channels and visits every
// (kThreads / (D/2))-th row of the block's rows, kLoadBatch rows' loads at a time.
__global__ void prepare_values_kernel(TokenView v, const int32_t* __restrict__ key_lengths,
                                      const float* __restrict__ e4m3_scales, int64_t heads, int64_t length, int dim,
                                      int64_t padded, __half2* __restrict__ out) {
  const int half_dim = dim / 2, rows_per_pass = static_cast<int>(blockDim.x) / half_dim;
  const int channel = (static_cast<int>(threadIdx.x) % half_dim) * 2;
  const int64_t bh = blockIdx.y, b = bh / heads, h = bh % heads;
  const int64_t valid = valid_tokens(key_lengths, b, length);
  const int64_t first_row = static_cast<int64_t>(blockIdx.x) * kValueRows;
  for (int r0 = static_cast<int>(threadIdx.x) / half_dim; r0 < kValueRows; r0 += rows_per_pass * kLoadBatch) {
    float2 x[kLoadBatch];
#pragma unroll
    for (int u = 0; u < kLoadBatch; ++u) {
      const int64_t row = first_row + r0 + u * rows_per_pass;
      const bool live = r0 + u * rows_per_pass < kValueRows && row < valid;
      x[u] = live ? make_float2(v.at(b, h, row, channel), v.at(b, h, row, channel + 1)) : make_float2(0.f, 0.f);
    }
#pragma unroll
    for (int u = 0; u < kLoadBatch; ++u) {
      if (r0 + u * rows_per_pass >= kValueRows) break;
      const int64_t at = (bh * padded + first_row + r0 + u * rows_per_pass) * half_dim + channel / 2;
      if (e4m3_scales) {
        const float x0 = x[u].x / e4m3_scales[bh * dim + channel], x1 = x[u].y / e4m3_scales[bh * dim + channel + 1];
        const __nv_fp8x2_storage_t fp8 = __nv_cvt_float2_to_fp8x2(make_float2(x0, x1), __NV_SATFINITE, __NV_E4M3);
        out[at] = __half2(__nv_cvt_fp8x2_to_halfraw2(fp8, __NV_E4M3));
      } else {
        out[at] = __floats2half2_rn(x[u].x, x[u].y);
      }
    }
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

int64_t splits_for(int64_t length) { return (length + kTokensPerSplit - 1) / kTokensPerSplit; }
}  // namespace

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
  if (splits > 0x7fffffff) { turbo_set_error(fn, "too many tokens"); return -1; }
  const TokenView view{x, dtype, strides[0], strides[1], strides[2]};
  const auto s = static_cast<cudaStream_t>(stream);
  channel_partials_kernel<<<dim3(static_cast<unsigned>(splits), static_cast<unsigned>(batch * heads)), kThreads, 0, s>>>(
      view, key_lengths, heads, length, dim, static_cast<int>(splits), mode == TURBO_STAT_E4M3_SCALE, partial);
  if (int rc = TURBO_LAUNCH_CHECK(fn)) return rc;
  channel_finish_kernel<<<static_cast<unsigned>(batch * heads), dim, 0, s>>>(partial, key_lengths, heads, length, dim,
                                                                            static_cast<int>(splits), mode, out);
  return TURBO_LAUNCH_CHECK(fn);
}

extern "C" int turbo_quantize_int8_blocks(const void* x, int dtype, const int64_t* strides, const float* mean,
                                          const int32_t* key_lengths, int64_t batch, int64_t heads, int64_t length,
                                          int dim, int block, int8_t* codes, float* scales, void* stream) {
  const char* fn = "turbo_quantize_int8_blocks";
  if (!check_tokens(fn, x, dtype, strides, batch, heads, length, dim)) return -1;
  if (block != 64 && block != 128) { turbo_set_error(fn, "block must be 64 or 128"); return -1; }
  if (!codes || !scales) { turbo_set_error(fn, "null output"); return -1; }
  const int64_t blocks = (length + block - 1) / block;
  const TokenView view{x, dtype, strides[0], strides[1], strides[2]};
  quantize_int8_kernel<<<dim3(static_cast<unsigned>(blocks), static_cast<unsigned>(batch * heads)), kThreads, 0,
                         static_cast<cudaStream_t>(stream)>>>(view, mean, key_lengths, heads, length, dim, block,
                                                              codes, scales);
  return TURBO_LAUNCH_CHECK(fn);
}

extern "C" int turbo_prepare_values(const void* v, int dtype, const int64_t* strides, const int32_t* key_lengths,
                                    const float* e4m3_scales, int64_t batch, int64_t heads, int64_t length, int dim,
                                    int block, void* values, void* stream) {
  const char* fn = "turbo_prepare_values";
  if (!check_tokens(fn, v, dtype, strides, batch, heads, length, dim)) return -1;
  if (block != 64 && block != 128) { turbo_set_error(fn, "block must be 64 or 128"); return -1; }
  if (!values) { turbo_set_error(fn, "null output"); return -1; }
  const int64_t padded = (length + block - 1) / block * block;  // a multiple of kValueRows: blocks are 64 or 128
  if (padded / kValueRows > 0x7fffffff) { turbo_set_error(fn, "too many tokens"); return -1; }
  const TokenView view{v, dtype, strides[0], strides[1], strides[2]};
  const dim3 grid(static_cast<unsigned>(padded / kValueRows), static_cast<unsigned>(batch * heads));
  prepare_values_kernel<<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      view, key_lengths, e4m3_scales, heads, length, dim, padded, static_cast<__half2*>(values));
  return TURBO_LAUNCH_CHECK(fn);
}

// RMSNorm over the whole row (across heads, as Wan2.1's q/k norm) times weight, then — when cos/sin tables are given —
// 3D RoPE on each head's interleaved pairs (without tables: the plain norm, e.g. cross-attention's q norm).
// Reference: Turbo.Runtime.Native.FusedOps.RmsNormRopeReference. Rows in multiples of 8 elements with head_dim a
// multiple of 8 use 16-byte loads and stores (four whole pairs of one head per lane and step): up to 2,048 elements
// (Wan2.1-1.3B's 1,536) one warp per row, wider rows (14B's 5,120) one block of 128 threads per row; other rows take
// the scalar block-per-row kernel.
#include "vector_rows.cuh"

namespace {
constexpr int kThreads = 256;
constexpr int kMaxPairsPerThread = 16;  // dim <= 8192

__global__ void rmsnorm_rope_kernel(const void* __restrict__ x, const float* __restrict__ weight,
                                    const float* __restrict__ cos_t, const float* __restrict__ sin_t,
                                    void* __restrict__ y, int dtype, int64_t tokens, int dim, int head_dim,
                                    float eps) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const int64_t base = row * dim;
  const int pairs = dim / 2, half_head = head_dim / 2;
  float a[kMaxPairsPerThread], b[kMaxPairsPerThread];
  float sq = 0.f;
#pragma unroll
  for (int k = 0; k < kMaxPairsPerThread; ++k) {
    const int p = threadIdx.x + k * kThreads;
    a[k] = p < pairs ? load_as_float(x, dtype, base + 2 * p) : 0.f;
    b[k] = p < pairs ? load_as_float(x, dtype, base + 2 * p + 1) : 0.f;
    sq += a[k] * a[k] + b[k] * b[k];
  }
  const float rms = rsqrtf(block_sum(sq, scratch) / dim + eps);
  const int64_t token = row % tokens;
#pragma unroll
  for (int k = 0; k < kMaxPairsPerThread; ++k) {
    const int p = threadIdx.x + k * kThreads;
    if (p >= pairs) break;
    const float u = a[k] * rms * weight[2 * p], w = b[k] * rms * weight[2 * p + 1];
    if (cos_t == nullptr) {
      store_from_float(y, dtype, base + 2 * p, u);
      store_from_float(y, dtype, base + 2 * p + 1, w);
      continue;
    }
    const int j = p % half_head;  // pair index inside the head
    const float c = cos_t[token * half_head + j], s = sin_t[token * half_head + j];
    store_from_float(y, dtype, base + 2 * p, u * c - w * s);
    store_from_float(y, dtype, base + 2 * p + 1, u * s + w * c);
  }
}

// Normalizes the 8 elements v of a row starting at element c (c % 8 == 0: four whole pairs of one head, as
// head_dim % 8 == 0), rotates them when there are tables, and stores them at y[base + c].
__device__ __forceinline__ void norm_rotate_store8(const float (&v)[kVectorWidth], int c, float rms,
                                                   const float* __restrict__ weight, const float* __restrict__ cos_t,
                                                   const float* __restrict__ sin_t, int64_t table_row, int half_head,
                                                   void* __restrict__ y, int dtype, int64_t base) {
  float w[kVectorWidth], out[kVectorWidth];
  load8_f32(weight, c, w);
#pragma unroll
  for (int i = 0; i < kVectorWidth; ++i) out[i] = v[i] * rms * w[i];
  if (cos_t != nullptr) {
    const int first_pair = c / 2 % half_head;  // the pair index inside the head of the first of the four pairs
    const float4 cos4 = *reinterpret_cast<const float4*>(cos_t + table_row + first_pair);
    const float4 sin4 = *reinterpret_cast<const float4*>(sin_t + table_row + first_pair);
    const float cs[4] = {cos4.x, cos4.y, cos4.z, cos4.w}, sn[4] = {sin4.x, sin4.y, sin4.z, sin4.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float u = out[2 * i], t = out[2 * i + 1];
      out[2 * i] = u * cs[i] - t * sn[i];
      out[2 * i + 1] = u * sn[i] + t * cs[i];
    }
  }
  store8(y, dtype, base + c, out);
}

// Rows of whole vectors, a warp or a block each (vector_rows.cuh). Every load of the row is issued before any value
// is used.
template <int kVecs, int kRowThreads>
__global__ void __launch_bounds__(kRowBlockThreads<kRowThreads>)
    rmsnorm_rope_rows_kernel(const void* __restrict__ x, const float* __restrict__ weight, const float* __restrict__ cos_t,
                             const float* __restrict__ sin_t, void* __restrict__ y, int dtype, int64_t rows,
                             int64_t tokens, int dim, int head_dim, float eps) {
  __shared__ float scratch[32];
  const VectorRow<kRowThreads> at(dim);
  if (at.row >= rows) return;  // whole warps leave together, so the shuffles below see full warps
  const int64_t base = at.row * dim;
  float v[kVecs][kVectorWidth];
  load_row(at, base, x, dtype, v);
  float sq = 0.f;
#pragma unroll
  for (int k = 0; k < kVecs; ++k) {
    if (!at.live(k)) break;
#pragma unroll
    for (int j = 0; j < kVectorWidth; ++j) sq += v[k][j] * v[k][j];
  }
  const float rms = rsqrtf(row_sum<kRowThreads>(sq, scratch) / dim + eps);
  const int64_t table_row = at.row % tokens * (head_dim / 2);
#pragma unroll
  for (int k = 0; k < kVecs; ++k) {
    if (!at.live(k)) break;
    norm_rotate_store8(v[k], at.column(k), rms, weight, cos_t, sin_t, table_row, head_dim / 2, y, dtype, base);
  }
}

// The 16-byte paths: whole vectors of four pairs of one head, every pointer 16-byte aligned (tables may be absent).
bool fits_vectors(const void* x, const float* weight, const float* cos_t, const float* sin_t, const void* y, int dim,
                  int head_dim) {
  if (dim % kVectorWidth != 0 || head_dim % 8 != 0) return false;
  for (const void* p : {x, static_cast<const void*>(weight), static_cast<const void*>(cos_t), static_cast<const void*>(sin_t), y})
    if (p != nullptr && !aligned_to(p, 16)) return false;
  return true;
}
}  // namespace

extern "C" int turbo_rmsnorm_rope(const void* x, const float* weight, const float* cos_table, const float* sin_table,
                                  void* y, int dtype, int64_t rows, int64_t tokens, int dim, int head_dim, float eps,
                                  void* stream) {
  const char* fn = "turbo_rmsnorm_rope";
  if (!valid_dtype(dtype)) { turbo_set_error(fn, "unsupported dtype"); return -1; }
  if (dim <= 0 || dim > 2 * kThreads * kMaxPairsPerThread || head_dim <= 0 || head_dim % 2 || dim % head_dim) {
    turbo_set_error(fn, "dim must be in 1..8192 and a multiple of an even head_dim");
    return -1;
  }
  if (rows <= 0 || tokens <= 0 || rows % tokens != 0) { turbo_set_error(fn, "rows must be a multiple of tokens"); return -1; }
  if ((cos_table == nullptr) != (sin_table == nullptr)) { turbo_set_error(fn, "give both RoPE tables or neither"); return -1; }
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (!fits_vectors(x, weight, cos_table, sin_table, y, dim, head_dim)) {
    rmsnorm_rope_kernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(
        x, weight, cos_table, sin_table, y, dtype, tokens, dim, head_dim, eps);
    return TURBO_LAUNCH_CHECK(fn);
  }
  launch_vector_rows(dim, rows, [&](auto vecs, auto row_threads, unsigned blocks, int threads) {
    rmsnorm_rope_rows_kernel<decltype(vecs)::value, decltype(row_threads)::value><<<blocks, threads, 0, s>>>(
        x, weight, cos_table, sin_table, y, dtype, rows, tokens, dim, head_dim, eps);
  });
  return TURBO_LAUNCH_CHECK(fn);
}

// C ABI of the quantized attention kernels: argument checks, the choice between the warpgroup kernel
// (sage_attention_wgmma.cuh, Hopper) and the warp kernel (sage_attention_kernel.cuh), and the dispatch over head dim,
// block sizes and P·V format (FP16, E4M3 or BF16) to their instantiations.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include "sage_attention_kernel.cuh"
// The warpgroup kernel is fed by tensor maps, which need CUDA 12.5; built with an older toolkit it is not available.
#if CUDART_VERSION >= 12050
#define TURBO_HAS_SAGE_WGMMA 1
#include "sage_attention_wgmma.cuh"
#endif

namespace {
using namespace turbo;

// Calls launch(format) with the P·V format the arguments ask for (checked by `invalid`) as a compile-time constant:
// E4M3 with V's scales, else the values' 16-bit type.
template <class Launch>
int with_pv_format(const turbo_sage_args& a, Launch launch) {
  if (a.v_scales) return launch(std::integral_constant<PvFormat, PvFormat::kE4M3>{});
  if (a.values_dtype == TURBO_BF16) return launch(std::integral_constant<PvFormat, PvFormat::kBf16>{});
  return launch(std::integral_constant<PvFormat, PvFormat::kF16>{});
}

template <int D, int BQ, int BK, PvFormat F>
int launch(const turbo_sage_args& a, cudaStream_t stream) {
  const char* fn = "turbo_sage_attention";
  using T = SageTile<D, BQ, BK>;
  auto kernel = sage_attention_kernel<D, BQ, BK, F>;
  if (int rc = turbo_check(fn, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, T::kSharedBytes)))
    return rc;
  const dim3 grid(static_cast<unsigned>((a.q_len + BQ - 1) / BQ), static_cast<unsigned>(a.batch * a.heads));
  kernel<<<grid, T::kThreads, T::kSharedBytes, stream>>>(a);
  return TURBO_LAUNCH_CHECK(fn);
}

#if TURBO_HAS_SAGE_WGMMA
// Tensor maps of the operands (the codes padded to whole blocks; V at its own strides; boxes past the end filled with
// zeros — a unit of 192 query rows may reach past its head's, into rows it computes and does not store), then one
// persistent CTA per multiprocessor, or fewer where there are fewer units.
template <PvFormat F, int kConsumers>
int launch_wgmma(const turbo_sage_args& a, cudaStream_t stream) {
  const char* fn = "turbo_sage_attention";
  using T = SageWgmmaTile<kConsumers>;
  const int64_t heads = a.batch * a.heads, q_blocks = (a.q_len + kSageQueryBlock - 1) / kSageQueryBlock;
  const int64_t k_blocks = (a.kv_len + T::BK - 1) / T::BK, units = heads * ((a.q_len + T::kUnitRows - 1) / T::kUnitRows);
  const int64_t v_dims[4] = {T::D, a.values_len, a.heads, a.batch};
  const int64_t v_strides[3] = {2 * a.value_strides[2], 2 * a.value_strides[1], 2 * a.value_strides[0]};
  const auto v_type = F == PvFormat::kBf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
  CUtensorMap q_map, k_map, v_map;
  if (!encode_tensor_map_2d(&q_map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, a.q_codes, heads * q_blocks * kSageQueryBlock, T::D, 128, T::kUnitRows) ||
      !encode_tensor_map_2d(&k_map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, a.k_codes, heads * k_blocks * T::BK, T::D, 128, T::BK) ||
      !encode_tensor_map_4d(&v_map, v_type, a.values, v_dims, v_strides, 64, T::BK)) {
    turbo_set_error(fn, "cuTensorMapEncodeTiled refused the attention operands (16-byte aligned buffers and strides needed)");
    return -1;
  }
  auto kernel = sage_attention_wgmma_kernel<F, kConsumers>;
  if (int rc = turbo_check(fn, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, T::kSharedBytes)))
    return rc;
  const int64_t ctas = std::min<int64_t>(units, device_multiprocessors());
  return turbo_check(fn, launch_dependent(kernel, static_cast<unsigned>(ctas), T::kThreads, T::kSharedBytes, stream, a, q_map, k_map,
                                          v_map));
}
#endif

// The warpgroup kernel's shape; its units and tensor-map rows are counted in 32-bit integers.
bool wgmma_shape(const turbo_sage_args& a) {
  constexpr int64_t kLimit = 0x7fffffff;
  const int64_t heads = a.batch * a.heads, q_rows = (a.q_len + 127) / 128 * 128, k_rows = (a.kv_len + 63) / 64 * 64;
  return a.head_dim == 128 && a.block_q == 128 && a.block_k == 64 && heads * q_rows <= kLimit && heads * k_rows <= kLimit;
}

bool wgmma_available() {
#if TURBO_HAS_SAGE_WGMMA
  return sm90a_kernels_available() && tensor_map_encoder();
#else
  return false;
#endif
}

template <int D, int BQ, int BK>
int launch_pv(const turbo_sage_args& a, cudaStream_t s) {
  return with_pv_format(a, [&](auto format) { return launch<D, BQ, BK, decltype(format)::value>(a, s); });
}

template <int D, int BQ>
int launch_bk(const turbo_sage_args& a, cudaStream_t s) {
  return a.block_k == 64 ? launch_pv<D, BQ, 64>(a, s) : launch_pv<D, BQ, 128>(a, s);
}

template <int D>
int launch_bq(const turbo_sage_args& a, cudaStream_t s) {
  return a.block_q == 64 ? launch_bk<D, 64>(a, s) : launch_bk<D, 128>(a, s);
}

const char* invalid(const turbo_sage_args& a) {
  if (!a.q_codes || !a.q_scales || !a.k_codes || !a.k_scales || !a.values || !a.out) return "null buffer";
  if (a.head_dim != 64 && a.head_dim != 128) return "head_dim must be 64 or 128";
  if ((a.block_q != 64 && a.block_q != 128) || (a.block_k != 64 && a.block_k != 128)) return "blocks must be 64 or 128";
  if (a.batch < 1 || a.heads < 1 || a.batch * a.heads > 65535) return "batch·heads must be in 1..65535";
  if (a.q_len < 1 || a.kv_len < 1) return "lengths must be positive";
  if ((a.q_len + a.block_q - 1) / a.block_q > 0x7fffffff) return "too many query blocks";
  if (!valid_dtype(a.out_dtype)) return "unsupported output dtype";
  if (!(a.score_scale > 0.f) || std::isinf(a.score_scale)) return "score_scale must be positive and finite";
  if ((a.kept_blocks == nullptr) != (a.kept_counts == nullptr)) return "kept_blocks and kept_counts come together";
  if (a.kept_blocks && a.max_kept < 1) return "max_kept must be positive";
  if (a.values_dtype != TURBO_F16 && a.values_dtype != TURBO_BF16) return "values_dtype must be TURBO_F16 or TURBO_BF16";
  if (a.v_scales && a.values_dtype != TURBO_F16) return "E4M3 P·V (v_scales) takes fp16 values";
  if (a.values_len < a.kv_len) return "values_len must be at least kv_len";
  // 16-byte rows for cp.async and the tensor maps.
  if (!aligned_rows(a.values, a.value_strides) || a.value_strides[0] < 0 || a.value_strides[1] < 0 || a.value_strides[2] < 0)
    return "values must be 16-byte aligned with non-negative strides of multiples of 8 elements";
  if (a.kernel < TURBO_SAGE_KERNEL_AUTO || a.kernel > TURBO_SAGE_KERNEL_WGMMA) return "unknown kernel";
  if (a.kernel == TURBO_SAGE_KERNEL_WGMMA && !wgmma_shape(a)) return "the wgmma kernel needs head_dim 128, block_q 128, block_k 64 (and fewer than 2^31 padded rows)";
  if (a.kernel == TURBO_SAGE_KERNEL_WGMMA && !wgmma_available()) return "the wgmma kernel needs a compute capability 9.0 GPU, a library built for sm_90a with CUDA 12.5 or later, and a driver with tensor maps";
  return nullptr;
}
}  // namespace

extern "C" int turbo_sage_attention(const turbo_sage_args* args, void* stream) {
  if (!args) { turbo_set_error("turbo_sage_attention", "null arguments"); return -1; }
  if (const char* why = invalid(*args)) { turbo_set_error("turbo_sage_attention", why); return -1; }
  const auto s = static_cast<cudaStream_t>(stream);
  const turbo_sage_args& a = *args;
#if TURBO_HAS_SAGE_WGMMA
  const bool wgmma = a.kernel == TURBO_SAGE_KERNEL_WGMMA || (a.kernel == TURBO_SAGE_KERNEL_AUTO && wgmma_shape(a) && wgmma_available());
  // Kept-block lists belong to query blocks: two consumer warpgroups, a unit a block. Dense: three, 192 rows a unit.
  if (wgmma)
    return with_pv_format(a, [&](auto format) {
      return a.kept_blocks ? launch_wgmma<decltype(format)::value, 2>(a, s) : launch_wgmma<decltype(format)::value, 3>(a, s);
    });
#endif
  return a.head_dim == 64 ? launch_bq<64>(a, s) : launch_bq<128>(a, s);
}

extern "C" int turbo_sage_wgmma_available(void) { return wgmma_available() ? 1 : 0; }

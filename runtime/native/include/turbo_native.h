/* C ABI of the bundled CUDA runtime library. Every function returns 0 on success or a non-zero code;
 * turbo_last_error() then returns a message naming the function and the CUDA error.
 * Tensors are passed as device pointers to contiguous row-major buffers; `stream` is a cudaStream_t
 * (0 = the legacy default stream, which is where libtorch queues work unless told otherwise). */
#pragma once
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

enum turbo_dtype { TURBO_F32 = 0, TURBO_BF16 = 1, TURBO_F16 = 2 };

const char* turbo_last_error(void);
int turbo_version(void);

/* Timing and memory (CUDA events on `stream`). */
int turbo_event_create(void** event);
int turbo_event_destroy(void* event);
int turbo_event_record(void* event, void* stream);
int turbo_event_elapsed_ms(void* start, void* end, float* ms); /* synchronizes on `end` */
int turbo_device_synchronize(void);
int turbo_mem_info(uint64_t* free_bytes, uint64_t* total_bytes);

/* y = (LayerNorm(x) [* weight + bias]) * (1 + scale[b]) + shift[b], per row of D elements, fp32 statistics.
 * x: [rows, D] of x_dtype; rows = batch * tokens; weight/bias: [D] fp32 or NULL; shift/scale: [batch, D] fp32 or NULL
 * (row r uses batch r / tokens); y: [rows, D] of y_dtype. */
int turbo_layernorm_modulate(const void* x, int x_dtype, const float* weight, const float* bias,
                             const float* shift, const float* scale, void* y, int y_dtype,
                             int64_t rows, int64_t tokens, int dim, float eps, void* stream);

/* The residual update of a Wan block and the next norm in one pass (since ABI v14): x' = x + update * gate[b] (gate
 * NULL: x + update), one rounding as turbo_gate_residual, written to x_out, then turbo_layernorm_modulate of x'.
 * x, x_out: [rows, D] fp32 (distinct); update: [rows, D] of update_dtype; gate: [batch, D] fp32 or NULL. */
int turbo_residual_layernorm_modulate(const float* x, const void* update, int update_dtype, const float* gate,
                                      float* x_out, const float* weight, const float* bias, const float* shift,
                                      const float* scale, void* y, int y_dtype, int64_t rows, int64_t tokens, int dim,
                                      float eps, void* stream);

/* y = RoPE(RMSNorm(x) * weight) for q or k: RMS over the whole row (all heads), then each head's interleaved
 * pairs (2j, 2j+1) rotated by cos/sin[token, j]. x, y: [rows, D] bf16/f32 (same dtype); weight: [D] fp32;
 * cos, sin: [tokens, head_dim/2] fp32, or both NULL for the plain RMSNorm (since ABI v6); rows = batch * tokens. */
int turbo_rmsnorm_rope(const void* x, const float* weight, const float* cos_table, const float* sin_table,
                       void* y, int dtype, int64_t rows, int64_t tokens, int dim, int head_dim, float eps,
                       void* stream);

/* out = x + y * gate[b] in one rounding (fma; since ABI v14). x, out: [rows, D] fp32 (out may be x); y: [rows, D] of
 * y_dtype; gate: [batch, D] fp32, or NULL for out = x + y (since ABI v14). */
int turbo_gate_residual(const float* x, const void* y, int y_dtype, const float* gate, float* out,
                        int64_t rows, int64_t tokens, int dim, void* stream);

/* W8A8 linear layers. Reference: Turbo.Runtime.Quant (QuantizedLinear, ActivationQuantizer, ReferenceGemm); every
 * float32 step below is rounded on its own, in the order written, so results equal the reference bit for bit. */

/* Per-token INT8 quantization: v = x[r, c] / smooth[c] (IEEE division; no division when smooth is NULL),
 * scale[r] = max_c |v| / 127 (1 for an all-zero row), q[r, c] = clamp(round_half_even(v · (1/scale[r])), -127, 127)
 * (the fp32 product with the fp32 reciprocal; since ABI v12, a division before).
 * x: [rows, cols] of x_dtype; smooth: [cols] fp32 or NULL; q: [rows, cols] int8; scale: [rows] fp32; cols <= 2^17. */
int turbo_int8_quantize_rows(const void* x, int x_dtype, const float* smooth, int8_t* q, float* scale,
                             int64_t rows, int cols, void* stream);

/* As turbo_int8_quantize_rows, of g = x_dtype(gelu_tanh(x)) (PyTorch's formula in fp32, rounded to x's dtype) instead
 * of x: a feed-forward block's hidden activations, written by the first Linear's epilogue, quantized for the second
 * Linear (since ABI v13). */
int turbo_int8_gelu_quantize_rows(const void* x, int x_dtype, const float* smooth, int8_t* q, float* scale,
                                  int64_t rows, int cols, void* stream);

enum turbo_int8_impl { TURBO_INT8_MMA = 0, TURBO_INT8_CUBLASLT = 1, TURBO_INT8_WGMMA = 2 };

/* acc[m, j] = sum_k x[m, k] * w[j, k], exact in INT32. x: [rows, k] int8; w: [n, k] int8; acc: [rows, n] int32.
 * TURBO_INT8_MMA (this library's kernel): k a multiple of 16, k <= 2^17, x, w and acc 16-byte aligned.
 * TURBO_INT8_CUBLASLT: n and k multiples of 4, k <= 2^17, pointers 4-byte aligned; one device per process.
 * TURBO_INT8_WGMMA (since ABI v10; Hopper): as TURBO_INT8_MMA, rows < 2^31, where turbo_int8_wgmma_available(). */
int turbo_int8_matmul_i32(const int8_t* x, const int8_t* w, int32_t* acc, int64_t rows, int n, int k, int impl,
                          void* stream);

/* y[m, j] = fp32(acc[m, j]) * x_scale[m] * w_scale[j] (+ bias[j]), stored as y_dtype. acc: [rows, n] int32;
 * x_scale: [rows], w_scale: [n], bias: [n] or NULL, all fp32; y: [rows, n]. */
int turbo_int8_dequantize(const int32_t* acc, const float* x_scale, const float* w_scale, const float* bias,
                          void* y, int y_dtype, int64_t rows, int n, void* stream);

/* A linear layer's input straight from its LayerNorm (since ABI v7): the rows of turbo_layernorm_modulate (same
 * arguments, x [rows, D], dim <= 8192), rounded to round_dtype (the model's dtype, where the unfused norm stores them),
 * quantized as turbo_int8_quantize_rows once per layer that reads them: count (1..3) outputs, smooth[i] [D] fp32 or
 * NULL, q[i] [rows, D] int8, q_scale[i] [rows] fp32 (host arrays of device pointers). Nothing is written in round_dtype. */
int turbo_int8_layernorm_quantize(const void* x, int x_dtype, const float* weight, const float* bias,
                                  const float* shift, const float* scale, int round_dtype, int count,
                                  const float* const* smooth, int8_t* const* q, float* const* q_scale,
                                  int64_t rows, int64_t tokens, int dim, float eps, void* stream);

/* turbo_int8_layernorm_quantize of x' after the residual update of turbo_residual_layernorm_modulate (since ABI v14). */
int turbo_int8_residual_layernorm_quantize(const float* x, const void* update, int update_dtype, const float* gate,
                                           float* x_out, const float* weight, const float* bias, const float* shift,
                                           const float* scale, int round_dtype, int count, const float* const* smooth,
                                           int8_t* const* q, float* const* q_scale, int64_t rows, int64_t tokens, int dim,
                                           float eps, void* stream);

/* The middle of a W8A8 feed-forward block in one pass: h = hidden_dtype(fp32(acc) * x_scale[m] * w_scale[j] (+ bias[j]))
 * (the first Linear's epilogue), g = hidden_dtype(gelu_tanh(h)) (PyTorch's formula in fp32), then per-token INT8
 * quantization of g for the second Linear as turbo_int8_quantize_rows (divided by smooth [n] first unless NULL).
 * acc: [rows, n] int32; x_scale [rows], w_scale [n], bias [n] or NULL, all fp32; q: [rows, n] int8; scale: [rows]. */
int turbo_int8_gelu_requantize(const int32_t* acc, const float* x_scale, const float* w_scale, const float* bias,
                               int hidden_dtype, const float* smooth, int8_t* q, float* scale, int64_t rows, int n,
                               void* stream);

enum turbo_int8_scale { TURBO_INT8_SCALE_CHANNEL = 0, TURBO_INT8_SCALE_BLOCK128 = 1 };

/* The whole quantized product in one kernel (INT8 mma.sync, epilogue fused; operands as TURBO_INT8_MMA above).
 * TURBO_INT8_SCALE_CHANNEL, w_scale [n]: y = fp32(acc) * x_scale[m] * w_scale[j] (+ bias[j]).
 * TURBO_INT8_SCALE_BLOCK128, w_scale [ceil(n/128), ceil(k/128)] row-major: each 128-wide slice b of k is one INT32 sum
 * acc_b, and y = 0 + fp32(acc_0) * x_scale[m] * w_scale[j/128, 0] + ... slice by slice in float32 (+ bias[j]). */
int turbo_int8_linear(const int8_t* x, const float* x_scale, const int8_t* w, const float* w_scale, int w_scale_kind,
                      const float* bias, void* y, int y_dtype, int64_t rows, int n, int k, void* stream);
/* The per-channel product of turbo_int8_linear (TURBO_INT8_SCALE_CHANNEL) on Hopper's wgmma, fed by the tensor copy
 * engine (since ABI v10; operands as TURBO_INT8_WGMMA). */
int turbo_int8_linear_wgmma(const int8_t* x, const float* x_scale, const int8_t* w, const float* w_scale,
                            const float* bias, void* y, int y_dtype, int64_t rows, int n, int k, void* stream);
/* 1 where turbo_int8_linear_wgmma and TURBO_INT8_WGMMA can run: a compute capability 9.0 GPU, a library built for
 * sm_90a with CUDA 12.5 or newer, and a driver with tensor maps; 0 elsewhere. */
int turbo_int8_wgmma_available(void);

/* FP8 (e4m3) W8A8 linear layers: the same per-token / per-channel scheme with e4m3 codes (uint8 bytes, OCP E4M3FN).
 * Per-token quantization as turbo_int8_quantize_rows with scale[r] = max_c |v| / 448 (1 for an all-zero row) and
 * q[r, c] = e4m3(v · (1/scale[r])) (since ABI v12), rounded to nearest even, saturated at ±448. Bit-equal to the reference. */
int turbo_fp8_quantize_rows(const void* x, int x_dtype, const float* smooth, uint8_t* q, float* scale,
                            int64_t rows, int cols, void* stream);

/* y[m, j] = x_scale[m] * w_scale[j] * sum_k x[m, k] * w[j, k] (+ bias[j]) through cuBLASLt's FP8 GEMM with its
 * outer-vector scales and bias epilogue (cuBLAS 12.9 or newer, Hopper or newer): float32 accumulation, so within
 * float32 rounding of the reference, not bit-equal. x: [rows, k], w: [n, k] e4m3 codes; x_scale [rows], w_scale [n]
 * fp32; bias [n] of y_dtype or NULL; y: [rows, n] of y_dtype, TURBO_BF16 or TURBO_F16. n and k multiples of 16,
 * k <= 2^17, every pointer 16-byte aligned; one device per process (shared with TURBO_INT8_CUBLASLT). */
int turbo_fp8_linear(const uint8_t* x, const float* x_scale, const uint8_t* w, const float* w_scale, const void* bias,
                     void* y, int y_dtype, int64_t rows, int n, int k, void* stream);

/* 1 when turbo_fp8_linear can run on the current device (built with cuBLAS 12.9 or newer, compute capability 9.0 or
 * newer), else 0. */
int turbo_fp8_linear_available(void);

/* ---- Quantized attention (SageAttention-style INT8 q·kᵀ; SLA's block-sparse branch). docs/attention.md. ----
 * Token tensors x are [B, H, L, D] of a turbo_dtype, D = 64 or 128, channels contiguous; `strides` gives the element
 * strides of the batch, head and token dimensions (so a [B, L, H, D] buffer viewed as [B, H, L, D] needs no copy).
 * key_lengths: int32 [B], each in 1..L, or NULL (all L tokens); tokens at or past a sample's length take no part.
 * Prepared buffers are [B·H, ⌈L/block⌉·block, D], contiguous, with zero rows past L and past the key lengths.
 * Since ABI v19 these kernels and SLA's below start as dependent launches of the kernel before them on the stream
 * (compute capability 9.0 or newer): resident while it finishes, they wait for it before touching memory, so stream
 * order holds as before (turbo_sla_fold's overlap_previous excepted). */

/* Per-channel statistics over the valid tokens of x, out: fp32 [B·H, D]. mode TURBO_STAT_MEAN: the mean (K
 * smoothing; summed in fp64, then rounded); TURBO_STAT_E4M3_SCALE: absmax · (1/448 as fp32), or 1 where the absmax
 * is 0 (per-channel FP8 E4M3 scales of V). partial: fp64 scratch of turbo_channel_stats_workspace(...) doubles. */
enum turbo_stat { TURBO_STAT_MEAN = 0, TURBO_STAT_E4M3_SCALE = 1 };
int64_t turbo_channel_stats_workspace(int64_t batch, int64_t heads, int64_t length, int dim);
int turbo_channel_stats(const void* x, int dtype, const int64_t* strides, const int32_t* key_lengths, int64_t batch,
                        int64_t heads, int64_t length, int dim, int mode, double* partial, float* out, void* stream);

/* Symmetric INT8 per block of `block` tokens of one (b, h): scale = absmax · (1/127 as fp32) (1 for an all-zero block), code =
 * round-half-even((x − mean) · (1/scale)), the fp32 product with the fp32 reciprocal (since ABI v12; a division before). mean: fp32 [B·H, D] subtracted first (K smoothing), or NULL. Tokens past the
 * key lengths count as 0 (pass NULL for queries). codes: int8 [B·H, ⌈L/block⌉·block, D]; scales: fp32 [B·H, ⌈L/block⌉].
 * pooled (since ABI v11): fp32 [B·H, ⌈L/block⌉, D], each block's mean of x − mean over its valid tokens (0 for a block
 * without any; fp32 sums in a fixed order), SLA's pooled blocks; or NULL. */
int turbo_quantize_int8_blocks(const void* x, int dtype, const int64_t* strides, const float* mean,
                               const int32_t* key_lengths, int64_t batch, int64_t heads, int64_t length, int dim,
                               int block, int8_t* codes, float* scales, float* pooled, void* stream);

/* V for the P·V product as values_dtype [B·H, ⌈L/block⌉·block, D]: with e4m3_scales (fp32 [B·H, D], from
 * turbo_channel_stats; values_dtype TURBO_F16) each value is v / scale rounded to FP8 E4M3 (nearest even,
 * saturating), stored exactly as fp16; with NULL, v rounded to values_dtype, TURBO_F16 or TURBO_BF16 (since ABI v16;
 * fp16 before). */
int turbo_prepare_values(const void* v, int dtype, const int64_t* strides, const int32_t* key_lengths,
                         const float* e4m3_scales, int64_t batch, int64_t heads, int64_t length, int dim, int block,
                         int values_dtype, void* values, void* stream);

/* SLA's selection from pooled scores (since ABI v11): scores fp32 [B·H, query_blocks, key_blocks], contiguous; per row,
 * with n = ⌈valid keys / block_k⌉ (the blocks holding a valid key; key_lengths int32 [B] or NULL, as above), keep the
 * clamp(⌊top_k · n⌋, 1, n) highest scores among the first n (computed in double; equal scores: the lower index first;
 * −0 counts as +0) → indices: int32 [rows, key_blocks], the kept blocks ascending (slots past the count unwritten);
 * counts: int32 [rows]. key_blocks at most 16384. */
int turbo_sla_top_blocks(const float* scores, int64_t batch, int64_t heads, int query_blocks, int key_blocks,
                         const int32_t* key_lengths, int64_t length, int block_k, double top_k, int32_t* indices,
                         int32_t* counts, void* stream);

/* A block map (bool/uint8 [rows, blocks], nonzero = kept) → the kept block indices of each row in ascending order,
 * indices: int32 [rows, max_kept] (slots past the count are left unwritten), counts: int32 [rows] (at most max_kept). */
int turbo_block_map_indices(const uint8_t* map, int64_t rows, int blocks, int max_kept, int32_t* indices,
                            int32_t* counts, void* stream);

/* Flash-style attention over the prepared buffers: per (b, h) and query block of block_q rows, scores in log2 units
 * s = (q codes · k codes) · ((q_scale · k_scale) · score_scale) (INT8 mma, INT32 sums; score_scale = log2(e)/√D as
 * fp32), online softmax in fp32 with exp2 (running max, the sum of the unrounded P), P rounded to the values' type
 * (fp16 or bf16; ×448 and rounded to E4M3 when v_scales is given, values fp16), P·V in FP16 or BF16 mma with fp32
 * sums; out = acc / sum (· v_scale). Key blocks: all up to the key length, or the kept ones of each query block
 * (kept_blocks: int32 [B·H, ⌈Lq/block_q⌉, max_kept] ascending, kept_counts: int32 [B·H, ⌈Lq/block_q⌉]).
 * out: [B, H, Lq, D] of out_dtype at out_strides (b, h, token). A query that sees no key gets 0/0 (NaN). */
typedef struct turbo_sage_args {
  const int8_t* q_codes;       /* [B·H, ⌈Lq/block_q⌉·block_q, D] */
  const float* q_scales;       /* [B·H, ⌈Lq/block_q⌉] */
  const int8_t* k_codes;       /* [B·H, ⌈Lk/block_k⌉·block_k, D], smoothed */
  const float* k_scales;       /* [B·H, ⌈Lk/block_k⌉] */
  const void* values;          /* [B, H, values_len, D] of values_dtype at value_strides: turbo_prepare_values' buffer, or
                                  a caller's bf16 v as it is (since ABI v16) */
  const float* v_scales;       /* fp32 [B·H, D] (E4M3 P·V) or NULL (FP16 P·V) */
  const int32_t* key_lengths;  /* [B] or NULL */
  const int32_t* kept_blocks;  /* or NULL: every key block */
  const int32_t* kept_counts;
  void* out;
  int64_t out_strides[3];
  int64_t batch, heads, q_len, kv_len;
  int32_t head_dim, block_q, block_k, max_kept, out_dtype;
  float score_scale;           /* softmax scale × log2(e) */
  int32_t kernel;              /* enum turbo_sage_kernel */
  /* Since ABI v16. values_dtype: TURBO_F16 (FP16 or, with v_scales, E4M3 P·V) or TURBO_BF16 (BF16 P·V). value_strides:
   * element strides of values' batch, head and token dimensions, channels contiguous; the buffer 16-byte aligned and
   * every stride a multiple of 8 elements. values_len: its rows per (b, h), at least kv_len; keys of a block at or
   * past it read as 0. Keys past the key lengths below values_len are read, and their P is 0. */
  int32_t values_dtype;
  int64_t value_strides[3];
  int64_t values_len;
} turbo_sage_args;
/* Which kernel computes it (the same function; they differ only in the order of fp32 sums): AUTO takes the
 * warpgroup (wgmma) kernel where turbo_sage_wgmma_available() and the shape is head_dim 128, block_q 128, block_k 64,
 * else the warp (mma.sync) kernel; MMA and WGMMA ask for one (WGMMA fails where it cannot run). */
enum turbo_sage_kernel { TURBO_SAGE_KERNEL_AUTO = 0, TURBO_SAGE_KERNEL_MMA = 1, TURBO_SAGE_KERNEL_WGMMA = 2 };
int turbo_sage_attention(const turbo_sage_args* args, void* stream);
/* 1 when the warpgroup attention kernel can run on the current device (a compute capability 9.0 GPU and a library
 * built for sm_90a), else 0. */
int turbo_sage_wgmma_available(void);

/* ---- SLA's linear branch (SageSLA's forward; reference: Turbo.Runtime.Attention.SparseLinearAttention) ----
 * φ = softmax over the head dim, rounded to the dtype (TURBO_BF16 or TURBO_F16); D = 64 or 128; token tensors as above
 * (strides of b, h, token), rows 16-byte aligned, strides multiples of 8 elements. Since ABI v9. */

/* Key side, per split s of tokens_per_split tokens (a positive multiple of 64; turbo_sla_key_tokens_per_split gives the
 * one that fills the device best) and (b, h) = bh:
 * kv_partial[s, bh, d, e] = Σ_t φ(k_t)[d]·v_t[e], ksum_partial[s, bh, d] = Σ_t φ(k_t)[d], over the split's tokens below
 * the key length (float32 sums; every split is written, zeros where it has no valid token). kv_partial: fp32
 * [⌈L/tokens_per_split⌉, B·H, D, D]; ksum_partial: fp32 [⌈L/tokens_per_split⌉, B·H, D]. The caller sums over s.
 * With k_mean and v_scales (fp32 [B·H, D]; since ABI v15) the same pass also writes what turbo_channel_stats gives for
 * k (TURBO_STAT_MEAN) and v (TURBO_STAT_E4M3_SCALE), the Sage preparation's statistics, through stats_partial: fp64
 * scratch of 2 · ⌈L/tokens_per_split⌉ · B·H · D doubles; with k_mean alone (v_scales NULL; since ABI v17) only K's
 * mean, the first half of that scratch. Pass three NULLs for the sums alone. */
int turbo_sla_key_sums(const void* k, const int64_t* k_strides, const void* v, const int64_t* v_strides, int dtype,
                       const int32_t* key_lengths, int64_t batch, int64_t heads, int64_t length, int dim,
                       int64_t tokens_per_split, float* kv_partial, float* ksum_partial, double* stats_partial,
                       float* k_mean, float* v_scales, void* stream);

/* The tokens per split that turbo_sla_key_sums finishes soonest with on the current device for these sizes: a multiple
 * of 64 (since ABI v17), or -1 for sizes it does not take (the error says why). */
int64_t turbo_sla_key_tokens_per_split(int64_t batch, int64_t heads, int64_t length, int dim);

/* Fold (since ABI v18): folded_t = [W·KVᵀ; Σφ(k); 0 …] for turbo_sla_linear_out, of the dtype ([B·H, D + 16, D]), from
 * turbo_sla_key_sums' kv_partial and ksum_partial (`splits` of them, summed in split order) and proj_l's weight W (fp32
 * [D, D], 16-byte aligned); float32 products, each value rounded once. overlap_previous (since ABI v19): non-zero lets
 * the fold run while the kernel before it on the stream finishes (on GPUs that take dependent launches), which the
 * caller may ask for only when that kernel writes none of the fold's inputs, the key sums were complete before it was
 * launched, and folded_t was allocated before it was launched; the fold still completes after it. */
int turbo_sla_fold(const float* kv_partial, const float* ksum_partial, int64_t splits, const float* weight, int dtype,
                   int64_t batch_heads, int dim, void* folded_t, int overlap_previous, void* stream);

/* Query side: out_t = sparse_t + bias + num / (den + 1e-5) with [num | den] = φ(q_t)·F in float32, rounded once to the
 * dtype. folded_t: [B·H, D + 16, D] of the dtype, contiguous: row j < D is column j of KV·Wᵀ (proj_l folded in), row D
 * is Σφ(k), the rest zeros. bias: fp32 [D]. q, sparse, out: [B, H, L, D] at their strides; out may be sparse. */
int turbo_sla_linear_out(const void* q, const int64_t* q_strides, const void* folded_t, const float* bias,
                         const void* sparse, const int64_t* sparse_strides, void* out, const int64_t* out_strides,
                         int dtype, int64_t batch, int64_t heads, int64_t length, int dim, void* stream);

#ifdef __cplusplus
}
#endif

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

/* y = RoPE(RMSNorm(x) * weight) for q or k: RMS over the whole row (all heads), then each head's interleaved
 * pairs (2j, 2j+1) rotated by cos/sin[token, j]. x, y: [rows, D] bf16/f32 (same dtype); weight: [D] fp32;
 * cos, sin: [tokens, head_dim/2] fp32; rows = batch * tokens. */
int turbo_rmsnorm_rope(const void* x, const float* weight, const float* cos_table, const float* sin_table,
                       void* y, int dtype, int64_t rows, int64_t tokens, int dim, int head_dim, float eps,
                       void* stream);

/* out = x + y * gate[b]. x, out: [rows, D] fp32 (out may be x); y: [rows, D] of y_dtype; gate: [batch, D] fp32. */
int turbo_gate_residual(const float* x, const void* y, int y_dtype, const float* gate, float* out,
                        int64_t rows, int64_t tokens, int dim, void* stream);

/* W8A8 linear layers. Reference: Turbo.Runtime.Quant (QuantizedLinear, ActivationQuantizer, ReferenceGemm); every
 * float32 step below is rounded on its own, in the order written, so results equal the reference bit for bit. */

/* Per-token INT8 quantization: v = x[r, c] / smooth[c] (IEEE division; no division when smooth is NULL),
 * scale[r] = max_c |v| / 127 (1 for an all-zero row), q[r, c] = clamp(round_half_even(v / scale[r]), -127, 127).
 * x: [rows, cols] of x_dtype; smooth: [cols] fp32 or NULL; q: [rows, cols] int8; scale: [rows] fp32; cols <= 2^17. */
int turbo_int8_quantize_rows(const void* x, int x_dtype, const float* smooth, int8_t* q, float* scale,
                             int64_t rows, int cols, void* stream);

enum turbo_int8_impl { TURBO_INT8_MMA = 0, TURBO_INT8_CUBLASLT = 1 };

/* acc[m, j] = sum_k x[m, k] * w[j, k], exact in INT32. x: [rows, k] int8; w: [n, k] int8; acc: [rows, n] int32.
 * TURBO_INT8_MMA (this library's kernel): k a multiple of 16, k <= 2^17, x, w and acc 16-byte aligned.
 * TURBO_INT8_CUBLASLT: n and k multiples of 4, k <= 2^17, pointers 4-byte aligned; one device per process. */
int turbo_int8_matmul_i32(const int8_t* x, const int8_t* w, int32_t* acc, int64_t rows, int n, int k, int impl,
                          void* stream);

/* y[m, j] = fp32(acc[m, j]) * x_scale[m] * w_scale[j] (+ bias[j]), stored as y_dtype. acc: [rows, n] int32;
 * x_scale: [rows], w_scale: [n], bias: [n] or NULL, all fp32; y: [rows, n]. */
int turbo_int8_dequantize(const int32_t* acc, const float* x_scale, const float* w_scale, const float* bias,
                          void* y, int y_dtype, int64_t rows, int n, void* stream);

enum turbo_int8_scale { TURBO_INT8_SCALE_CHANNEL = 0, TURBO_INT8_SCALE_BLOCK128 = 1 };

/* The whole quantized product in one kernel (INT8 mma.sync, epilogue fused; operands as TURBO_INT8_MMA above).
 * TURBO_INT8_SCALE_CHANNEL, w_scale [n]: y = fp32(acc) * x_scale[m] * w_scale[j] (+ bias[j]).
 * TURBO_INT8_SCALE_BLOCK128, w_scale [ceil(n/128), ceil(k/128)] row-major: each 128-wide slice b of k is one INT32 sum
 * acc_b, and y = 0 + fp32(acc_0) * x_scale[m] * w_scale[j/128, 0] + ... slice by slice in float32 (+ bias[j]). */
int turbo_int8_linear(const int8_t* x, const float* x_scale, const int8_t* w, const float* w_scale, int w_scale_kind,
                      const float* bias, void* y, int y_dtype, int64_t rows, int n, int k, void* stream);

#ifdef __cplusplus
}
#endif

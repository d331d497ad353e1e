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

#ifdef __cplusplus
}
#endif

// Error state of the C ABI: the last failure's message, per calling thread.
#include <cstdio>
#include <string>
#include "common.cuh"

static thread_local std::string last_error;

void turbo_set_error(const char* function, const char* message) {
  last_error = std::string(function) + ": " + message;
}

int turbo_check(const char* function, cudaError_t err) {
  if (err == cudaSuccess) return 0;
  char buf[256];
  std::snprintf(buf, sizeof buf, "CUDA error %d (%s): %s", static_cast<int>(err), cudaGetErrorName(err),
                cudaGetErrorString(err));
  turbo_set_error(function, buf);
  return static_cast<int>(err);
}

extern "C" const char* turbo_last_error(void) { return last_error.c_str(); }
extern "C" int turbo_version(void) { return 19; }  // 2: the W8A8 entries (turbo_int8_*); 3: the quantized attention entries; 4: FP8 linears (turbo_fp8_*); 5: turbo_int8_gelu_requantize; 6: turbo_rmsnorm_rope without tables; 7: turbo_int8_layernorm_quantize; 8: turbo_sage_args.kernel, turbo_sage_wgmma_available; 9: turbo_sla_key_sums, turbo_sla_linear_out; 10: TURBO_INT8_WGMMA, turbo_int8_linear_wgmma, turbo_int8_wgmma_available; 11: turbo_quantize_int8_blocks' pooled output, turbo_sla_top_blocks; 12: the INT8 and FP8 quantizers (attention blocks, W8A8 rows) multiply by the scale's reciprocal; 13: turbo_int8_gelu_quantize_rows; 14: turbo_residual_layernorm_modulate, turbo_int8_residual_layernorm_quantize, turbo_gate_residual in one rounding; 15: turbo_sla_key_sums' statistics of k and v; 16: BF16 P·V, turbo_sage_args' value layout (values_dtype, value_strides, values_len), turbo_prepare_values' values_dtype; 17: turbo_sla_key_sums' K mean alone, turbo_sla_key_tokens_per_split; 18: turbo_sla_fold; 19: the attention chain's kernels launched as dependents of the one before, turbo_sla_fold's overlap_previous

// The library GEMMs through cuBLASLt: INT8 → INT32 (rescaled afterwards by turbo_int8_dequantize, int8_dequantize.cu)
// and FP8 e4m3 → bf16/f16 with the per-token and per-channel scales and the bias applied by cuBLASLt itself
// (outer-vector scaling, cuBLAS 12.9 and newer on Hopper and later), so the FP8 layer needs no epilogue pass.
//
// cuBLASLt is column-major. The row-major y[rows, n] = x·wᵀ is, read column-major, yᵀ [n × rows] = op(A)·B with
// A = w read column-major as [k × n] (ld k) and op = transpose, and B = x read column-major as [k × rows] (ld k):
// the "TN" form, the only one cuBLASLt's INT8 and FP8 kernels take with the regular (non-COL32) layout. INT8 needs
// n and k multiples of 4 and 4-byte-aligned pointers (16 bytes are faster); FP8 needs n and k multiples of 16 and
// 16-byte-aligned pointers. In the column-major problem the weight's channels are its rows (M) and the tokens its
// columns (N): FP8's per-channel scales are "A" scales, the per-token ones "B" scales, and the bias is per row.
#include <cublasLt.h>
#include <cstdio>
#include <mutex>
#include <vector>
#include "int8_common.cuh"

#if CUBLAS_VERSION >= 120900
#define TURBO_HAS_OUTER_VECTOR_SCALES 1
#endif

namespace {
constexpr size_t kWorkspaceBytes = size_t{32} << 20;

// What a cached algorithm was chosen for: the product's kind (INT8, or FP8 with an output dtype and a bias or not),
// its shape and the pointers' alignment.
struct PlanKey {
  int kind = 0;  // kInt8, or kFp8Kinds + 2·output dtype + (bias ? 1 : 0)
  int64_t rows = 0;
  int n = 0, k = 0;
  uint32_t alignment = 0;
  bool operator==(const PlanKey& o) const {
    return kind == o.kind && rows == o.rows && n == o.n && k == o.k && alignment == o.alignment;
  }
};
constexpr int kInt8 = 0;
[[maybe_unused]] constexpr int kFp8Kinds = 16;

// The algorithm cuBLASLt's heuristic picked for one key, or none (then cublasLtMatmul is called without one and
// without workspace, and chooses by itself).
struct Plan {
  PlanKey key;
  bool has_algo = false;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
};

// One handle and workspace for the process, on the device current at the first call.
struct LtContext {
  std::mutex mutex;
  cublasLtHandle_t handle = nullptr;
  int device = -1;
  void* workspace = nullptr;
  std::vector<Plan> plans;  // one per key seen: a model has a handful
};

LtContext& context() {
  static LtContext instance;
  return instance;
}

int lt_error(const char* fn, const char* call, cublasStatus_t status) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s failed: %s (%s)", call, cublasLtGetStatusName(status), cublasLtGetStatusString(status));
  turbo_set_error(fn, buf);
  return static_cast<int>(status);
}

// Descriptors released on every path out.
struct MatmulDesc {
  cublasLtMatmulDesc_t d = nullptr;
  ~MatmulDesc() { if (d) cublasLtMatmulDescDestroy(d); }
};
struct Layout {
  cublasLtMatrixLayout_t d = nullptr;
  ~Layout() { if (d) cublasLtMatrixLayoutDestroy(d); }
};
struct Preference {
  cublasLtMatmulPreference_t d = nullptr;
  ~Preference() { if (d) cublasLtMatmulPreferenceDestroy(d); }
};

// Largest power of two up to 256 that divides every address: what the heuristic may assume (its default is 256).
uint32_t common_alignment(const void* a, const void* b, const void* c) {
  const uintptr_t bits = reinterpret_cast<uintptr_t>(a) | reinterpret_cast<uintptr_t>(b) | reinterpret_cast<uintptr_t>(c);
  uint32_t alignment = 256;
  while (alignment > 1 && bits % alignment != 0) alignment /= 2;
  return alignment;
}

template <typename T>
int set_attribute(const char* fn, const char* name, cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attribute, const T& value) {
  if (cublasStatus_t st = cublasLtMatmulDescSetAttribute(d, attribute, &value, sizeof value)) {
    char call[96];
    std::snprintf(call, sizeof call, "cublasLtMatmulDescSetAttribute(%s)", name);
    return lt_error(fn, call, st);
  }
  return 0;
}

// The process's handle (created on first use) with its mutex held by the caller.
int ensure_handle(const char* fn, LtContext& ctx) {
  int device = 0;
  if (int rc = turbo_check(fn, cudaGetDevice(&device))) return rc;
  if (!ctx.handle) {
    if (cublasStatus_t st = cublasLtCreate(&ctx.handle)) return lt_error(fn, "cublasLtCreate", st);
    if (int rc = turbo_check(fn, cudaMalloc(&ctx.workspace, kWorkspaceBytes))) {
      cublasLtDestroy(ctx.handle);
      ctx.handle = nullptr;
      return rc;
    }
    ctx.device = device;
  } else if (device != ctx.device) {
    turbo_set_error(fn, "the cuBLASLt path serves the first device it was used on only");
    return -1;
  }
  return 0;
}

// The cached plan of `key`, asking the heuristic the first time.
const Plan& plan_for(LtContext& ctx, const PlanKey& key, cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t a,
                     cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c) {
  for (const Plan& p : ctx.plans)
    if (p.key == key) return p;
  Plan plan;
  plan.key = key;
  Preference pref;
  if (cublasLtMatmulPreferenceCreate(&pref.d) == CUBLAS_STATUS_SUCCESS) {
    const uint64_t workspace_limit = kWorkspaceBytes;
    cublasLtMatmulPreferenceSetAttribute(pref.d, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_limit, sizeof workspace_limit);
    const cublasLtMatmulPreferenceAttributes_t alignments[] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (const auto attribute : alignments) cublasLtMatmulPreferenceSetAttribute(pref.d, attribute, &key.alignment, sizeof key.alignment);
    cublasLtMatmulHeuristicResult_t result{};
    int returned = 0;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(ctx.handle, op, a, b, c, c, pref.d, 1, &result, &returned);
    if (st == CUBLAS_STATUS_SUCCESS && returned > 0 && result.state == CUBLAS_STATUS_SUCCESS && result.workspaceSize <= kWorkspaceBytes) {
      plan.has_algo = true;
      plan.algo = result.algo;
      plan.workspace = result.workspaceSize;
    }
  }
  ctx.plans.push_back(plan);
  return ctx.plans.back();
}

// The TN operand layouts: w [k × n] (ld k) and x [k × rows] (ld k) of `in_type`, y [n × rows] (ld n) of `out_type`.
int tn_layouts(const char* fn, cudaDataType_t in_type, cudaDataType_t out_type, int64_t rows, int n, int k, Layout& a,
               Layout& b, Layout& c) {
  if (cublasStatus_t st = cublasLtMatrixLayoutCreate(&a.d, in_type, static_cast<uint64_t>(k), static_cast<uint64_t>(n), k))
    return lt_error(fn, "cublasLtMatrixLayoutCreate(w)", st);
  if (cublasStatus_t st = cublasLtMatrixLayoutCreate(&b.d, in_type, static_cast<uint64_t>(k), static_cast<uint64_t>(rows), k))
    return lt_error(fn, "cublasLtMatrixLayoutCreate(x)", st);
  if (cublasStatus_t st = cublasLtMatrixLayoutCreate(&c.d, out_type, static_cast<uint64_t>(n), static_cast<uint64_t>(rows), n))
    return lt_error(fn, "cublasLtMatrixLayoutCreate(y)", st);
  return 0;
}

int transposes(const char* fn, cublasLtMatmulDesc_t op) {
  const cublasOperation_t transa = CUBLAS_OP_T, transb = CUBLAS_OP_N;
  if (int rc = set_attribute(fn, "TRANSA", op, CUBLASLT_MATMUL_DESC_TRANSA, transa)) return rc;
  return set_attribute(fn, "TRANSB", op, CUBLASLT_MATMUL_DESC_TRANSB, transb);
}
}  // namespace

int int8_cublaslt_i32(const int8_t* x, const int8_t* w, int32_t* acc, int64_t rows, int n, int k, cudaStream_t stream) {
  const char* fn = "turbo_int8_matmul_i32 (cuBLASLt)";
  if (rows <= 0 || n <= 0 || k <= 0 || k > kInt8MaxK) { turbo_set_error(fn, "rows, n positive and k in 1..131072"); return -1; }
  if (n % 4 != 0 || k % 4 != 0) { turbo_set_error(fn, "cuBLASLt's INT8 kernels need n and k multiples of 4"); return -1; }
  if (!x || !w || !acc) { turbo_set_error(fn, "x, w and acc are required"); return -1; }
  const uint32_t alignment = common_alignment(x, w, acc);
  if (alignment < 4) { turbo_set_error(fn, "cuBLASLt's INT8 kernels need 4-byte-aligned x, w and acc"); return -1; }

  LtContext& ctx = context();
  std::lock_guard<std::mutex> lock(ctx.mutex);
  if (int rc = ensure_handle(fn, ctx)) return rc;
  MatmulDesc op;
  if (cublasStatus_t st = cublasLtMatmulDescCreate(&op.d, CUBLAS_COMPUTE_32I, CUDA_R_32I))
    return lt_error(fn, "cublasLtMatmulDescCreate", st);
  if (int rc = transposes(fn, op.d)) return rc;
  Layout a, b, c;
  if (int rc = tn_layouts(fn, CUDA_R_8I, CUDA_R_32I, rows, n, k, a, b, c)) return rc;
  const Plan& plan = plan_for(ctx, PlanKey{kInt8, rows, n, k, alignment}, op.d, a.d, b.d, c.d);
  const int32_t alpha = 1, beta = 0;
  const cublasStatus_t st = cublasLtMatmul(ctx.handle, op.d, &alpha, w, a.d, x, b.d, &beta, acc, c.d, acc, c.d,
                                           plan.has_algo ? &plan.algo : nullptr, plan.has_algo ? ctx.workspace : nullptr,
                                           plan.has_algo ? plan.workspace : 0, stream);
  if (st != CUBLAS_STATUS_SUCCESS) return lt_error(fn, "cublasLtMatmul", st);
  return TURBO_LAUNCH_CHECK(fn);
}

extern "C" int turbo_fp8_linear(const uint8_t* x, const float* x_scale, const uint8_t* w, const float* w_scale,
                                const void* bias, void* y, int y_dtype, int64_t rows, int n, int k, void* stream) {
  const char* fn = "turbo_fp8_linear (cuBLASLt)";
#ifndef TURBO_HAS_OUTER_VECTOR_SCALES
  (void)x; (void)x_scale; (void)w; (void)w_scale; (void)bias; (void)y; (void)y_dtype; (void)rows; (void)n; (void)k; (void)stream;
  turbo_set_error(fn, "this library was built with a cuBLAS older than 12.9, which has no per-channel FP8 scales");
  return -1;
#else
  if (y_dtype != TURBO_BF16 && y_dtype != TURBO_F16) { turbo_set_error(fn, "the output dtype must be bf16 or f16"); return -1; }
  if (rows <= 0 || n <= 0 || k <= 0 || k > kInt8MaxK) { turbo_set_error(fn, "rows, n positive and k in 1..131072"); return -1; }
  if (n % 16 != 0 || k % 16 != 0) { turbo_set_error(fn, "cuBLASLt's FP8 kernels need n and k multiples of 16"); return -1; }
  if (!x || !x_scale || !w || !w_scale || !y) { turbo_set_error(fn, "x, x_scale, w, w_scale and y are required"); return -1; }
  const uint32_t alignment = common_alignment(x, w, y);
  if (alignment < 16 || !aligned_to(x_scale, 16) || !aligned_to(w_scale, 16) || (bias && !aligned_to(bias, 16))) {
    turbo_set_error(fn, "cuBLASLt's FP8 kernels need 16-byte-aligned operands, scales and bias");
    return -1;
  }

  LtContext& ctx = context();
  std::lock_guard<std::mutex> lock(ctx.mutex);
  if (int rc = ensure_handle(fn, ctx)) return rc;
  const cudaDataType_t out_type = y_dtype == TURBO_BF16 ? CUDA_R_16BF : CUDA_R_16F;
  MatmulDesc op;
  if (cublasStatus_t st = cublasLtMatmulDescCreate(&op.d, CUBLAS_COMPUTE_32F, CUDA_R_32F))
    return lt_error(fn, "cublasLtMatmulDescCreate", st);
  if (int rc = transposes(fn, op.d)) return rc;
  const cublasLtMatmulMatrixScale_t outer = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
  if (int rc = set_attribute(fn, "A_SCALE_MODE", op.d, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, outer)) return rc;
  if (int rc = set_attribute(fn, "B_SCALE_MODE", op.d, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, outer)) return rc;
  if (int rc = set_attribute(fn, "A_SCALE_POINTER", op.d, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, static_cast<const void*>(w_scale))) return rc;
  if (int rc = set_attribute(fn, "B_SCALE_POINTER", op.d, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, static_cast<const void*>(x_scale))) return rc;
  if (bias) {
    const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
    if (int rc = set_attribute(fn, "EPILOGUE", op.d, CUBLASLT_MATMUL_DESC_EPILOGUE, epilogue)) return rc;
    if (int rc = set_attribute(fn, "BIAS_POINTER", op.d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias)) return rc;
    if (int rc = set_attribute(fn, "BIAS_DATA_TYPE", op.d, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, out_type)) return rc;
  }
  Layout a, b, c;
  if (int rc = tn_layouts(fn, CUDA_R_8F_E4M3, out_type, rows, n, k, a, b, c)) return rc;
  const PlanKey key{kFp8Kinds + 2 * y_dtype + (bias ? 1 : 0), rows, n, k, alignment};
  const Plan& plan = plan_for(ctx, key, op.d, a.d, b.d, c.d);
  const float alpha = 1.f, beta = 0.f;
  const cublasStatus_t st = cublasLtMatmul(ctx.handle, op.d, &alpha, w, a.d, x, b.d, &beta, y, c.d, y, c.d,
                                           plan.has_algo ? &plan.algo : nullptr, plan.has_algo ? ctx.workspace : nullptr,
                                           plan.has_algo ? plan.workspace : 0, static_cast<cudaStream_t>(stream));
  if (st != CUBLAS_STATUS_SUCCESS) return lt_error(fn, "cublasLtMatmul", st);
  return TURBO_LAUNCH_CHECK(fn);
#endif
}

extern "C" int turbo_fp8_linear_available(void) {
#ifdef TURBO_HAS_OUTER_VECTOR_SCALES
  int device = 0, major = 0;
  if (cudaGetDevice(&device) != cudaSuccess || cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
    cudaGetLastError();  // leave no sticky error for the next caller
    return 0;
  }
  return major >= 9 ? 1 : 0;
#else
  return 0;
#endif
}

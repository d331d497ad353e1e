// INT8 GEMM through cuBLASLt (INT8 tensor-core kernels, INT32 accumulation and output), the library alternative to
// the mma.sync kernel; its INT32 result is rescaled by turbo_int8_dequantize (int8_dequantize.cu).
//
// cuBLASLt is column-major. The row-major acc[rows, n] = x·wᵀ is, read column-major, accᵀ [n × rows] =
// op(A)·B with A = w read column-major as [k × n] (ld k) and op = transpose, and B = x read column-major as
// [k × rows] (ld k): the "TN" form, the only one cuBLASLt's INT8 kernels take with the regular (non-COL32) layout.
// Their documented requirements there: n and k multiples of 4 (m and k of the column-major problem) and
// 4-byte-aligned pointers (16 bytes are faster).
#include <cublasLt.h>
#include <cstdio>
#include <mutex>
#include <vector>
#include "int8_common.cuh"

namespace {
constexpr size_t kWorkspaceBytes = size_t{32} << 20;

// The algorithm cuBLASLt's heuristic picked for one shape and alignment, or none (then cublasLtMatmul is called
// without one and without workspace, and chooses by itself).
struct Plan {
  int64_t rows = 0;
  int n = 0, k = 0;
  uint32_t alignment = 0;
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
  std::vector<Plan> plans;  // one per shape and alignment seen: a model has a handful
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

  MatmulDesc op;
  if (cublasStatus_t st = cublasLtMatmulDescCreate(&op.d, CUBLAS_COMPUTE_32I, CUDA_R_32I))
    return lt_error(fn, "cublasLtMatmulDescCreate", st);
  const cublasOperation_t transa = CUBLAS_OP_T, transb = CUBLAS_OP_N;
  if (cublasStatus_t st = cublasLtMatmulDescSetAttribute(op.d, CUBLASLT_MATMUL_DESC_TRANSA, &transa, sizeof transa))
    return lt_error(fn, "cublasLtMatmulDescSetAttribute(TRANSA)", st);
  if (cublasStatus_t st = cublasLtMatmulDescSetAttribute(op.d, CUBLASLT_MATMUL_DESC_TRANSB, &transb, sizeof transb))
    return lt_error(fn, "cublasLtMatmulDescSetAttribute(TRANSB)", st);
  Layout a, b, c;
  if (cublasStatus_t st = cublasLtMatrixLayoutCreate(&a.d, CUDA_R_8I, static_cast<uint64_t>(k), static_cast<uint64_t>(n), k))
    return lt_error(fn, "cublasLtMatrixLayoutCreate(w)", st);
  if (cublasStatus_t st = cublasLtMatrixLayoutCreate(&b.d, CUDA_R_8I, static_cast<uint64_t>(k), static_cast<uint64_t>(rows), k))
    return lt_error(fn, "cublasLtMatrixLayoutCreate(x)", st);
  if (cublasStatus_t st = cublasLtMatrixLayoutCreate(&c.d, CUDA_R_32I, static_cast<uint64_t>(n), static_cast<uint64_t>(rows), n))
    return lt_error(fn, "cublasLtMatrixLayoutCreate(acc)", st);

  const Plan* found = nullptr;
  for (const Plan& p : ctx.plans)
    if (p.rows == rows && p.n == n && p.k == k && p.alignment == alignment) found = &p;
  if (!found) {
    Plan plan;
    plan.rows = rows;
    plan.n = n;
    plan.k = k;
    plan.alignment = alignment;
    Preference pref;
    if (cublasStatus_t st = cublasLtMatmulPreferenceCreate(&pref.d)) return lt_error(fn, "cublasLtMatmulPreferenceCreate", st);
    const uint64_t workspace_limit = kWorkspaceBytes;
    cublasLtMatmulPreferenceSetAttribute(pref.d, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_limit, sizeof workspace_limit);
    const cublasLtMatmulPreferenceAttributes_t alignments[] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (const auto attribute : alignments) cublasLtMatmulPreferenceSetAttribute(pref.d, attribute, &alignment, sizeof alignment);
    cublasLtMatmulHeuristicResult_t result{};
    int returned = 0;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(ctx.handle, op.d, a.d, b.d, c.d, c.d, pref.d, 1, &result, &returned);
    if (st == CUBLAS_STATUS_SUCCESS && returned > 0 && result.state == CUBLAS_STATUS_SUCCESS && result.workspaceSize <= kWorkspaceBytes) {
      plan.has_algo = true;
      plan.algo = result.algo;
      plan.workspace = result.workspaceSize;
    }
    ctx.plans.push_back(plan);
    found = &ctx.plans.back();
  }
  const Plan& plan = *found;
  const int32_t alpha = 1, beta = 0;
  const cublasStatus_t st = cublasLtMatmul(ctx.handle, op.d, &alpha, w, a.d, x, b.d, &beta, acc, c.d, acc, c.d,
                                           plan.has_algo ? &plan.algo : nullptr, plan.has_algo ? ctx.workspace : nullptr,
                                           plan.has_algo ? plan.workspace : 0, stream);
  if (st != CUBLAS_STATUS_SUCCESS) return lt_error(fn, "cublasLtMatmul", st);
  return TURBO_LAUNCH_CHECK(fn);
}

// Whether the Hopper kernels of this library (wgmma, the bulk tensor copy engine) and dependent launches can run on the
// current device, and how many multiprocessors their persistent grids fill.
#include "dependent_launch.cuh"

namespace {
// Writes 1 where the code that runs was built for sm_90a (wgmma present), 0 elsewhere.
__global__ void sm90a_probe_kernel(int* built_for_sm90a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  *built_for_sm90a = 1;
#else
  *built_for_sm90a = 0;
#endif
}
}  // namespace

// Asked once per process: a compute capability 9.0 device, and the probe built for it reports sm_90a code (a library
// built without sm_90a would run PTX of an older target, in which the Hopper kernels are empty).
bool sm90a_kernels_available() {
  static const bool available = [] {
    int device = 0, major = 0, minor = 0;
    if (cudaGetDevice(&device) != cudaSuccess || cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess || major != 9 || minor != 0)
      return false;
    int* flag = nullptr;
    int built = 0;
    if (cudaMalloc(&flag, sizeof(int)) != cudaSuccess) return false;
    sm90a_probe_kernel<<<1, 1>>>(flag);
    const bool ok = cudaMemcpy(&built, flag, sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess;
    cudaFree(flag);
    cudaGetLastError();  // a failed probe (no kernel image for this device) must not linger as the next call's error
    return ok && built == 1;
  }();
  return available;
}

int device_multiprocessors() {
  static const int count = [] {
    int device = 0, sms = 0;
    if (cudaGetDevice(&device) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess)
      sms = 0;
    cudaGetLastError();
    return sms > 0 ? sms : 1;
  }();
  return count;
}

bool dependent_launch_available() {
  static const bool available = [] {
    int device = 0, major = 0;
    const bool known = cudaGetDevice(&device) == cudaSuccess &&
                       cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess;
    cudaGetLastError();
    return known && major >= 9;
  }();
  return available;
}

// Programmatic dependent launch (Hopper and newer): a kernel launched this way may start while the kernel before it on
// the stream is still running, once every CTA of that one has called allow_next_grid() (or exited). Between two
// kernels of the attention's chain the GPU otherwise idles for the launch and the previous kernel's last wave; here the
// next kernel's CTAs are already resident and start the moment the previous one is done.
//
// The rule that keeps stream order: a kernel launched with launch_dependent() calls wait_for_previous_grid() before it
// reads or writes any global memory that the previous kernel, or its caller's buffers freed since, might touch — which
// for every kernel but one means first thing. Since each of them waits before it lets the next one start, a kernel
// that has passed its wait knows every kernel before it on the stream has completed. (The one exception, SLA's fold,
// overlaps Sage's last wave on purpose; sla_linear.cu says why that is safe.)
#pragma once
#include <utility>
#include "common.cuh"

// Returns once the previous kernel on the stream has completed and its writes are visible (at once where the kernel
// was launched the plain way, or on GPUs before Hopper, where the launch is always the plain one).
__device__ __forceinline__ void wait_for_previous_grid() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Lets the next kernel on the stream, if launched with launch_dependent(), start its CTAs as resources free up.
__device__ __forceinline__ void allow_next_grid() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// True where the current device takes programmatic dependent launches (compute capability 9.0 or newer); asked once.
bool dependent_launch_available();

// kernel<<<grid, block, shared, stream>>>(args...) as a programmatic dependent of the stream's previous kernel where
// the device takes it, else the plain launch. The kernel must follow the rule above.
template <class... Params, class... Args>
cudaError_t launch_dependent(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared, cudaStream_t stream,
                             Args&&... args) {
  if (!dependent_launch_available()) {
    kernel<<<grid, block, shared, stream>>>(std::forward<Args>(args)...);
    return cudaGetLastError();
  }
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

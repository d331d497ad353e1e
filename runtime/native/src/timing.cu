// CUDA events and device memory figures for the benchmark commands.
#include "common.cuh"

extern "C" int turbo_event_create(void** event) {
  return turbo_check("turbo_event_create", cudaEventCreate(reinterpret_cast<cudaEvent_t*>(event)));
}
extern "C" int turbo_event_destroy(void* event) {
  return turbo_check("turbo_event_destroy", cudaEventDestroy(static_cast<cudaEvent_t>(event)));
}
extern "C" int turbo_event_record(void* event, void* stream) {
  return turbo_check("turbo_event_record",
                     cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(stream)));
}
extern "C" int turbo_event_elapsed_ms(void* start, void* end, float* ms) {
  int rc = turbo_check("turbo_event_elapsed_ms", cudaEventSynchronize(static_cast<cudaEvent_t>(end)));
  if (rc) return rc;
  return turbo_check("turbo_event_elapsed_ms",
                     cudaEventElapsedTime(ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)));
}
extern "C" int turbo_device_synchronize(void) {
  return turbo_check("turbo_device_synchronize", cudaDeviceSynchronize());
}
extern "C" int turbo_mem_info(uint64_t* free_bytes, uint64_t* total_bytes) {
  size_t f = 0, t = 0;
  int rc = turbo_check("turbo_mem_info", cudaMemGetInfo(&f, &t));
  *free_bytes = f;
  *total_bytes = t;
  return rc;
}

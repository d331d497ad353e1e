// Per-channel statistics of the Sage preparation (K's mean, V's E4M3 scales) from per-split partials: shared by
// attention_prep.cu's statistics pass and by SLA's key-side kernel (sla_linear.cu), which computes the same partials
// while it reads k and v for its own sums.
#pragma once
#include "common.cuh"

// partial: fp64 [B·H, splits, D], each split's sum (TURBO_STAT_MEAN) or absmax (TURBO_STAT_E4M3_SCALE) of a channel
// over its valid tokens → out: fp32 [B·H, D], the mean over each sample's valid tokens or absmax · (1/448), 1 where
// the absmax is 0. The splits are combined in a fixed order, so the result is deterministic.
int finish_channel_stats(const char* fn, const double* partial, const int32_t* key_lengths, int64_t batch_heads,
                         int64_t heads, int64_t length, int dim, int splits, int mode, float* out, cudaStream_t stream);

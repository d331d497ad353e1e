# Which CUDA kernel PyTorch's scaled_dot_product_attention runs at Wan2.1-1.3B's self-attention shape (B 1, H 12,
# L 32,760, D 128, bf16), by default and with each backend alone, and each one's median time: the evidence behind the
# names of `turbo check-attention`'s baselines ("SDPA cuDNN", "SDPA flash").
#   python3 scripts/sdpa-kernels.py        (a CUDA machine with PyTorch)
import contextlib

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.profiler import ProfilerActivity, profile

HEADS, LENGTH, DIM = 12, 32760, 128
BACKENDS = [("default", None), ("flash", SDPBackend.FLASH_ATTENTION), ("cuDNN", SDPBackend.CUDNN_ATTENTION),
            ("memory-efficient", SDPBackend.EFFICIENT_ATTENTION)]


def median_ms(fn, warmup=3, repeats=7):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def kernels(fn):
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    return sorted({e.key for e in prof.key_averages() if e.device_type.name == "CUDA" and not e.key.startswith("Memset")})


def main():
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, {torch.cuda.get_device_name()}")
    # [B, H, L, D] views of token-major memory, as the model passes them
    qkv = torch.randn(1, LENGTH, 3, HEADS, DIM, device="cuda", dtype=torch.bfloat16)
    q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))
    flop = 4 * HEADS * LENGTH * LENGTH * DIM
    for name, backend in BACKENDS:
        def attend():
            return torch.nn.functional.scaled_dot_product_attention(q, k, v)
        with sdpa_kernel(backend) if backend is not None else contextlib.nullcontext():
            ms = median_ms(attend)
            ran = kernels(attend)
        print(f"{name:>16}: {ms:7.2f} ms, {flop / ms / 1e9:4.0f} TFLOP/s, {'; '.join(n[:110] for n in ran)}")


if __name__ == "__main__":
    main()

"""What the measurements traced, written from the numbers of the runs named (the JSON beside
docs/performance.md holds the last run of each configuration; all three GPU runs are in
benchmarks/results/gpu-run*.json)."""

FINDINGS: list[str] = [
    "The GPU the device tool lent was an **H200** (not an H100) in all three GPU runs "
    "(23:05, 23:16, 23:22 UTC; run 1 before this branch's two fixes): absolute times are the H200's. Run to run, batch-1 ratios "
    "moved by up to ~10% (ResNet-50 b1 generated/hand: 1.02, 1.02, 1.13): a few-ms model at "
    "batch 1 is launch-bound, so batch-1 misses within ~5-10% are within that spread.",
    "**Conv weights from `sanitize()`** (issue 10's first finding): already fixed before this "
    "harness; the generated `sanitize` returns `mx.contiguous(mx.moveaxis(...))`. Verified: "
    "generated vs mlx-image ResNet-18/50 at batch 32 on the H200 is 1.00-1.02 plain and "
    "compiled in every run.",
    "**`nn.Linear` subclass emitted as `x @ W.T + b`** (Whisper's `Linear`): confirmed; the "
    "Whisper encoder at batch 32 was 1.03x the hand-written one (40.55 vs 39.33 ms, run 1). "
    "Fixed in this branch (functional `linear` with a bias is one `mx.addmm`, as MLX's "
    "`nn.Linear`): 0.99-1.00x in runs 2 and 3.",
    "**All-true mask in a BERT called without padding**: confirmed (an `arange >= 0` mask "
    "broadcast to (B, 1, L, L), passed to every layer's attention and wrapped in `mx.where`); "
    "BERT-base at batch 1 was 1.07x the hand-written one (4.56 vs 4.27 ms, run 1). "
    "transformers 5's ViT builds the same mask. Fixed in this branch (`true_masks` drops a "
    "mask that is all true at every size): BERT 0.94-0.97x at batch 1 and 0.98-0.99x at "
    "batch 32 in runs 2 and 3.",
    "**ViT-S/16 at batch 1 stays ~1.12x the hand-written model on the GPU** (runs 2 and 3, "
    "after the mask fix; 1.02-1.08x at batch 32). Not traced in this session. Differences "
    "in the code, untested as causes: the generated patch embedding transposes twice around "
    "a (C, H, W) flatten where mlx-image reshapes once, and the input arrives NCHW "
    "(one transpose); attention uses `mx.fast.scaled_dot_product_attention` on transposed "
    "q/k/v where mlx-image multiplies and softmaxes.",
    "**LSTM >= 2x faster than `mlx.nn.LSTM`: missed** (0.87-0.95x on the H200, ~1.0x on "
    "CPU). The generated LSTM already hoists the input projection out of the loop and does "
    "one `mx.addmm` per step, exactly as `mlx.nn.LSTM` does; at sequence length 100 both run "
    "100 dependent steps of small kernels (~75 us a step a layer on the H200 at batch 1), "
    "which `mx.compile` shortens by ~1.5x for both. Beating it 2x needs the step fused into "
    "one kernel (a custom kernel), not a different graph. The generated one is ~10-15% "
    "slower: it works time-major (a transpose in, a stack and a transpose out).",
    "**CPU**: the machine's 2 cores were shared with other jobs (load average ~12), so CPU "
    "ratios carry tens of percent of noise (the same variant pair moved by 20-30% between "
    "two OpenBLAS runs); neither CPU configuration shows a consistent generated/hand "
    "difference beyond it. With the bundled reference BLAS every MLX variant is 10-45x "
    "slower than torch (MKL); with OpenBLAS (one thread each) 1.0-2x (ResNet-50 at batch 1: "
    "70.6 ms generated, 70.1 ms hand-written, 68.4 ms torch). `mx.compile` slows the conv "
    "nets on CPU for both sides (ResNet-18 at batch 4 with OpenBLAS: 146-154 ms compiled vs "
    "96-100 ms plain).",
    "**Conversion**: ResNet-50 converts in ~2x `torch.export`'s own time (met); capture is "
    "most of it (export plus a second, all-dynamic export that finds which sizes came from "
    "inputs). Peak memory stays under 1.6x the weights except the 3.7 MB LSTM, where a "
    "fixed ~17 MB (tracing state) dominates.",
]

"""What the measurements traced, written from the numbers of the runs named (the JSON beside
docs/performance.md holds the last run of each configuration; every GPU run is in
benchmarks/results/gpu-run*.json: runs 1-3 on the code before issue 10's fusions and minimal
layout, run 4 on an H200 with them, runs 5-6 on an H100 with paired intervals and the
recurrent kernels, run 7 on an H100 with random round orders and the constants variant)."""

FINDINGS: list[str] = [
    "**The GPU table is run 7** (an **H100**). It is the first run whose rounds call the "
    "variants in a fresh random order. Runs 5-6 rotated one fixed order, so each variant had "
    "the same predecessor in almost every round, and a call runs at a different speed after "
    "one that used other weights. That bias is gone now. ViT-S/16's plain batch-1 ratio, "
    "1.08 in run 6, is 0.98 [0.97, 0.99] in run 7. A separate process with random orders "
    "(`python -m benchmarks.b1_probe`, H100) gave 1.00.",
    "**The compiled gap at batch 1 on the GPU is what the state inputs cost.** The issue asks "
    "`load(compile=True)` to pass the module's state as the compiled function's inputs, so "
    "that weights loaded later are used. The hand side's `mx.compile` captures its weights "
    "as constants. Run 7 also times the generated module compiled that way (*generated "
    "constants*).",
    "  - state/constants at batch 1: 1.03-1.04 on the ResNets, ViT, BERT and Whisper; at "
    "batch 32: 1.00-1.01.",
    "  - Compiled alike, the generated graph is at or ahead of the hand one: "
    "0.99 / 0.97 (ResNet-18 / 50), 0.95 (BERT) and 1.00 (Whisper) at batch 1. ViT is "
    "the exception: 1.01 [1.00, 1.02] at batch 1 and 1.02 at batch 32.",
    "  - Traced with `python -m benchmarks.kernel_probe` (CUPTI through `torch.profiler`, "
    "which sees MLX's kernels; H100, batch 1). With state inputs the compiled graph launches "
    "the same kernels for the same GPU time as with constants: 591 vs 589 kernels, "
    "1,098 us both (ResNet-18). The difference is host time in the compiled call, which "
    "looks the state up and replays the graph: 0.226 vs 0.143 ms (ResNet-18), 0.466 vs "
    "0.313 (ResNet-50), 0.874 vs 0.740 (ViT), 0.793 vs 0.660 (BERT), 0.413 vs 0.316 "
    "(Whisper). That is about 1 us per state array, spent inside MLX's `mx.compile`.",
    "  - On the CPU, state/constants is 1.00-1.01 on every anchor: there the calls are long "
    "and the host time is lost in them.",
    "**On the GPU, the generated graphs do no more GPU work than the hand-written ones** "
    "(`kernel_probe`, compiled alike, device time per call). At batch 1: ResNet-18 1,098 vs "
    "1,266 us (589 vs 621 kernels; mlx-image's compiled graph makes 16 more copies), ResNet-50 "
    "2,165 vs 2,378, BERT 1,880 vs 1,929, Whisper 2,061 vs 2,074, and ViT 1,691 vs 1,662. "
    "ViT's extra 29 us is the NCHW input's transpose, a 35 us copy the fast variant "
    "(NHWC in) does not make. At batch 32: ResNet-18 5,622 vs 5,744 and ViT 11,697 vs "
    "11,781. So where a wall-clock ratio stays above 1.00, the time is spent on the host "
    "or in gaps between kernels, not in the generated kernels.",
    "**LSTM: >= 2x faster than `mlx.nn.LSTM` on the GPU, met**. It is 10.96x [10.79, 11.12] "
    "at batch 1 (1.85 vs 20.51 ms) and 9.06x at batch 32 (2.75 vs 25.17 ms). It is also "
    "faster than PyTorch's cuDNN LSTM: 0.44x / 0.53x of its 4.22 / 5.26 ms. On MLX's CUDA "
    "backend, each layer and direction of the generated LSTM is one kernel "
    "(`lstm_scan_cuda`): one block a sequence, with the weights read from L2 each step. "
    "`mlx.nn.LSTM` launches ~10 kernels a step. The GRU got the same kernel: 1.91 vs 14.46 "
    "ms (b1) and 2.17 vs 19.84 ms (b32) against `mlx.nn.GRU` on an H200. "
    "`benchmarks/rnn_check.py` checks both kernels against torch on the GPU (14 cases, on an "
    "H200 and an H100).",
    "**LSTM >= 2x on the CPU: missed, and no MLX implementation can reach it there** "
    "(`python -m benchmarks.lstm_floor`, quiet machine). MLX has no custom CPU kernels. The "
    "200 chained recurrent `mx.addmm` alone take 13.7 of `mlx.nn.LSTM`'s 22.9 ms (OpenBLAS, "
    "b1). Every step's sigmoids and tanh, in two bulk ops, take 56.7 of its 76.4 ms at b16. "
    "Their sum bounds any speedup at 1.33x (b1) and 1.09x (b16) with OpenBLAS, and at 1.71x "
    "and 1.62x with the reference BLAS.",
    "  A layer called without a state now starts from the zero state as `None`, so its "
    "first step skips the recurrent matmul. `mlx.nn.LSTM` does the same. In one process "
    "(OpenBLAS, b1), this took the generated LSTM from 1.02x to 0.99x of `mlx.nn.LSTM` "
    "plain, and from 1.017x to 1.005x compiled. In the OpenBLAS table it is 0.98x / 0.99x plain "
    "(b1 / b16, met) and 1.01x [1.01, 1.02] / 0.98x compiled.",
    "  The batch-1 compiled 1.01x is the time-major loop. A batch-first loop (no swap in or "
    "out, steps read as `xw[:, t]`, stacked on axis 1) gave 1.002x at b1 but 1.00x instead "
    "of 0.99x at b16; the swapped input made contiguous first gave 1.005x at b1 and the "
    "same at b16 (one process each, OpenBLAS). Both are within about 0.5% of the current "
    "loop, which stays.",
    "**ResNet-18/50 with the speed options beat mlx-image by 15-40% on the GPU**. The fast "
    "variant folds BatchNorm into the convolutions (`--fold-batchnorm`) and takes NHWC like "
    "mlx-image (`--channels-last-io`). Plain, it gives 0.73x / 0.59x at batch 1 and "
    "0.85x / 0.78x at batch 32. Compiled on the GPU it gives 0.97-0.99x, because "
    "`mx.compile` fuses an unfolded BatchNorm's elementwise ops as well. With OpenBLAS on the CPU it gives 0.92-0.97x plain and "
    "0.71-0.81x compiled.",
    "**The default conversion of the ResNets on the GPU**: ResNet-50 gives 0.99x / 1.00x; "
    "ResNet-18 gives 1.01x [1.00, 1.02] at batch 1 and 1.00x at batch 32. What the "
    "batch-1 gap is not, each measured on an H100 in one process:",
    "  - the weights' memory: loading from a file vs making the arrays in memory changes "
    "nothing on either side (generated remade / generated 1.00-1.01, hand from a file / "
    "hand 1.00-1.02; `benchmarks/b1_probe.py`);",
    "  - the NCHW input: the generated ResNet-18 fed NHWC was 0.996x of mlx-image, and "
    "mlx-image fed a transposed NCHW array 0.995-1.01x of itself (ResNet-50, 18). In that 300-round process the "
    "default conversion itself gave 1.000x.",
    "  So at batch 1 the ResNet-18 gap is within what one process differs from another.",
    "**BERT-base, Whisper encoder: at or under the hand-written ones.** Plain, BERT gives "
    "0.93x [0.93, 0.94] at batch 1 and 0.99x at batch 32: no mask is built and attention is "
    "`mx.fast.scaled_dot_product_attention`. Whisper gives 0.98x / 1.00x, its fast variant "
    "0.98x / 0.99x.",
    "**ViT-S/16**: plain it is at parity (0.98x at batch 1, 1.00x at batch 32). The graph "
    "is mlx-image's, op for op: MLX's graph export of both on the CPU gives 1,026 vs 1,015 "
    "nodes, the difference being key transposes (views) in the attention. Attention is not "
    "the compiled gap. On MLX's CUDA backend in float32, "
    "`mx.fast.scaled_dot_product_attention` gives bitwise the written-out result. Swapping "
    "it for the written-out ops in the generated file changed the time by 0.99-1.01x, plain "
    "and compiled, at both batch sizes. Compiled alike at batch 32, the generated ViT "
    "spends 11.70 ms on the GPU against mlx-image's 11.78, and its eval waits 12.47 ms "
    "against 12.39: the 1-2% is in gaps between kernels, which this probe does not break down.",
    "**CPU** (both tables on this code, one process per configuration): generated/hand is "
    "0.98-1.01 everywhere, and most intervals straddle 1.00; every compiled-alike ratio is "
    "0.99-1.01 and state/constants 0.99-1.01. The one `missed` row with OpenBLAS is the "
    "LSTM compiled at b1 (above). BERT compiled at b1, 1.05 [1.02, 1.07] in the previous "
    "OpenBLAS run, is 0.99 [0.99, 1.00] here; a trial run between them also gave 1.00.",
    "  MLX vs torch, one thread each, OpenBLAS: 0.99-1.00x on the ResNets at b1 and "
    "1.20-1.58x at b4, 1.15-1.22x BERT, 1.7-2.0x ViT and Whisper, 6.2-6.4x the LSTM. With the "
    "bundled reference BLAS: 12-47x.",
    "**GPU vs torch** (strict float32 on both): at batch 1, MLX is faster than torch eager on "
    "ViT (0.71x), BERT (0.63x) and the LSTM (0.44x), and slower on the ResNets "
    "(1.06-1.15x) and Whisper (1.13x). At batch 32, torch leads on every model except the "
    "LSTM: by 1.02x on BERT, 1.12x on Whisper, 1.17x on ViT and 1.66x on the ResNets "
    "(cuDNN convolutions).",
    "**Conversion** (reference-BLAS run): ResNet-50 converts in 2.08x `torch.export`'s own "
    "time (0.79 vs 0.38 s; met, <= 3x). Peak RSS above the built model is 0.05-1.29x the "
    "weights on every anchor (met). The 3.7 MB LSTM was at 3.99x (15 MB) because capture "
    "ran torch's LSTM decomposition, step by step, on fake tensors to learn its output "
    "shapes. `capture/rnn_shapes.py` now gives those shapes directly: capture went from "
    "2.7 s to 0.05 s and the peak from 14.7 to 4.8 MB.",
]

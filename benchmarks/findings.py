"""What the measurements traced, written from the numbers of the runs named (the JSON beside
docs/performance.md holds the last run of each configuration; every GPU run is in
benchmarks/results/gpu-run*.json: runs 1-3 on the code before issue 10's fusions and minimal
layout, run 4 on an H200 with them, runs 5-6 on an H100 with paired intervals, the recurrent
kernels and the final converter)."""

FINDINGS: list[str] = [
    "**The GPU table is run 6** (02:39 UTC, an **H100**, the final code). Run 5 (02:15 UTC, "
    "another H100 machine) ran the same plain code; only `load(compile=True)` changed between "
    "them (below). The intervals are within one process. Between processes, batch-1 ratios "
    "moved by more than the intervals: ViT-S/16 generated/hand went from 1.02 [1.02, 1.03] in "
    "run 5 to 1.08 [1.06, 1.09] in run 6 on identical code, while its fast variant gave 1.01 "
    "in both. So a batch-1 GPU gap of a few percent is a property of the process as much as "
    "of the code.",
    "**LSTM: >= 2x faster than `mlx.nn.LSTM` on the GPU, met**. It is 10.96x [10.55, 11.18] "
    "at batch 1 (1.98 vs 21.95 ms) and 9.65x at batch 32 (2.95 vs 28.71 ms), and about 2x "
    "faster than PyTorch's cuDNN LSTM (4.19 / 5.75 ms). On MLX's CUDA backend, each layer and "
    "direction of the generated LSTM is one kernel (`lstm_scan_cuda`): one block a sequence, "
    "with the weights read from L2 each step. `mlx.nn.LSTM` launches ~10 kernels a step. The "
    "GRU got the same kernel: 1.91 vs 14.46 ms (b1) and 2.17 vs 19.84 ms (b32) against "
    "`mlx.nn.GRU` on an H200. `benchmarks/rnn_check.py` checks both kernels against torch on "
    "the GPU (14 cases, on an H200 and an H100).",
    "**LSTM >= 2x on the CPU: missed, and no MLX implementation can reach it there** "
    "(`python -m benchmarks.lstm_floor`, quiet machine). MLX has no custom CPU kernels. The "
    "200 chained recurrent `mx.addmm` alone take 13.7 of `mlx.nn.LSTM`'s 22.9 ms (OpenBLAS, "
    "b1). Every step's sigmoids and tanh, in two bulk ops, take 56.7 of its 76.4 ms at b16. "
    "Their sum bounds any speedup at 1.33x (b1) and 1.09x (b16) with OpenBLAS, and at 1.71x "
    "and 1.62x with the reference BLAS. The generated LSTM equals `mlx.nn.LSTM` there "
    "(0.99-1.01x plain). Compiled, it is 1.01-1.02x: its time-major loop has a transpose in, "
    "a stack and a transpose out.",
    "**ResNet-18/50 with the speed options beat mlx-image by 15-40% on the GPU**. The fast "
    "variant folds BatchNorm into the convolutions (`--fold-batchnorm`) and takes NHWC like "
    "mlx-image (`--channels-last-io`). It gives 0.71x / 0.60x at batch 1 and 0.85x / 0.79x at "
    "batch 32, plain. With OpenBLAS on the CPU it gives 0.92-0.96x plain and 0.72-0.81x "
    "compiled. Compiled on the GPU it is 0.97-0.99x, because `mx.compile` fuses an unfolded "
    "BatchNorm's elementwise ops as well.",
    "**The default conversion is 0-3% behind on the ResNets**: 1.03x at batch 1 and 1.00x at "
    "batch 32 on the GPU, and 1.00-1.01x on the CPU. The default takes NCHW and moves it "
    "inside. Measured alone on the H100, that input relayout costs 0.01 ms at batch 1 and "
    "0.05 ms at batch 32, from 224x224 images into the stem. That is under 0.5% of a "
    "ResNet-18 call, so the rest of the batch-1 gap is not the transpose. It was not traced "
    "further.",
    "**Compiled (`load(compile=True)`)**: the issue asks for the module's state as the "
    "compiled function's inputs, so that weights loaded later are used. The hand side's "
    "`mx.compile` captures its weights as constants. Measured on the H100 at batch 1 "
    "(rotating order, 200 rounds), ViT-S/16 / ResNet-18:",
    "  - weights as constants: 5.16 / 2.54 ms;",
    "  - state as inputs: 5.28 / 2.61 ms;",
    "  - state as inputs and outputs: 5.34-5.41 / 2.69-2.72 ms.",
    "  So the state costs 2-3% as inputs and another 1-3% as outputs. The generated `load` "
    "now passes it as outputs only where `__call__` keeps streaming state. The rest is the "
    "compiled gap run 6 shows at batch 1 (1.02-1.04x on the ResNets, BERT and Whisper); at "
    "batch 32 the compiled ratios are 1.00-1.03x. Compiled the way the hand side is, the "
    "generated ViT ran 4.715 ms against mlx-image's 4.697 ms (one run, fixed order).",
    "**BERT-base, Whisper encoder: at or under the hand-written ones.** Plain, BERT gives "
    "0.96x [0.95, 0.97] at batch 1 and 0.99x at batch 32: no mask is built and attention is "
    "`mx.fast.scaled_dot_product_attention`. Whisper gives 1.00x / 0.99x, and its fast "
    "variant 0.99x. With the new `channels_last_io`, Whisper takes (B, T, mels) and returns "
    "its (B, T, C) states with no transpose at either end; the old option gave back "
    "(B, C, T).",
    "**ViT-S/16**: the generated graph is mlx-image's, op for op. MLX's graph export of both "
    "on the CPU gives 1,026 vs 1,015 nodes; the difference is key transposes (views) in the "
    "attention. In float32 at these sizes, "
    "`mx.fast.scaled_dot_product_attention` gained nothing measurable over mlx-image's "
    "written-out attention. Fast variant, plain: 1.01x [1.00, 1.02] (b1), 1.00x (b32). Generated, plain: "
    "1.02x (run 5) / 1.08x (run 6) at b1 and 1.01-1.02x at b32; see the first point for run "
    "spread.",
    "**CPU** (both tables on the final code, quiet machine, 02:34-02:57 UTC): generated/hand "
    "is 0.97-1.02 everywhere, and most intervals straddle 1.00. Exceptions with OpenBLAS: "
    "ResNet-50 plain at b1 is 1.01 [1.01, 1.02]; BERT compiled at b1 is 1.05 [1.02, 1.07] "
    "(not traced).",
    "  MLX vs torch, one thread each, OpenBLAS: 0.99-1.14x on the ResNets at b1 and 1.14-1.57x "
    "at b4, 1.2x BERT, 1.7-2.0x ViT and Whisper, 6.3-6.6x the LSTM. With the bundled "
    "reference BLAS: 13-46x.",
    "  The CPU runs converted every anchor before timing. The CPU `model.py` files were "
    "reconverted mid-run for the `load(compile=True)` change. The ResNet-18 rows were timed "
    "with the earlier `compile` line (state as outputs too): about 40 us a call, against "
    "calls of 15-900 ms.",
    "**GPU vs torch** (strict float32 on both): at batch 1, MLX is faster than torch eager on "
    "ViT (0.72x), BERT (0.62x) and the LSTM (0.47x), and slower on the ResNets (1.13-1.18x) "
    "and Whisper (1.03x). At batch 32, torch leads on every model except the LSTM: by 1.04x "
    "on BERT, 1.12x on Whisper, 1.19x on ViT and 1.7x on the ResNets (cuDNN convolutions).",
    "**Conversion** (reference-BLAS run, quiet machine): ResNet-50 converts in 2.06x "
    "`torch.export`'s own time (0.86 vs 0.42 s; met, <= 3x). Peak RSS above the built model "
    "is 0.05-1.24x the weights on every anchor (met). The 3.7 MB LSTM was at 3.99x (15 MB) "
    "because capture ran torch's LSTM decomposition, step by step, on fake tensors to learn "
    "its output shapes. `capture/rnn_shapes.py` now gives those shapes directly: capture "
    "went from 2.7 s to 0.05 s and the peak from 14.7 to 4.6 MB.",
]

"""What the batch-1 gaps between the generated and the hand-written models are made of.

The harness loads the generated weights from a ``.safetensors`` file (as a user does) and the
hand-written model's straight from arrays made in memory, and compiles the generated model
with its state as inputs (``load(compile=True)``) and the hand-written one with its weights
as constants. This probe times, in one process, each side both ways:

- ``generated``: ``load(file)``, as in the harness; ``generated_remade``: the same model
  after every parameter was rewritten by an MLX op (``a + 0``: a buffer the device made);
- ``hand``: as in the harness; ``hand_file``: its parameters saved to a ``.safetensors``
  file and read back with ``load_weights`` (how a user loads them);
- ``generated_compiled`` (state as inputs), ``generated_constants`` (``mx.compile`` of the
  loaded model, weights captured as constants, as the hand side is) and ``hand_compiled``.

``python -m benchmarks.b1_probe OUT.json NAME ... [--batch B] [--budget S] [--gpu]``: GPU
profile with ``--gpu`` (convert with ``benchmarks.conversion NAME X.json gpu`` first).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before mlx: see benchmarks/run.py

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import mlx.core as mx  # noqa: E402
import torch  # noqa: E402
from mlx.utils import tree_flatten, tree_map  # noqa: E402

from . import sampling, stats, timing  # noqa: E402
from .anchors import Anchor, registry, to_mx, use_gpu_profile  # noqa: E402
from .loading import load_generated  # noqa: E402
from .sampling import Plan, Run  # noqa: E402

PAIRS = {
    "generated/hand": ("generated", "hand"),
    "generated_remade/hand": ("generated_remade", "hand"),
    "generated/hand_file": ("generated", "hand_file"),
    "generated_remade/generated": ("generated_remade", "generated"),
    "hand_file/hand": ("hand_file", "hand"),
    "generated_compiled/hand_compiled": ("generated_compiled", "hand_compiled"),
    "generated_constants/hand_compiled": ("generated_constants", "hand_compiled"),
    "generated_compiled/generated_constants": ("generated_compiled", "generated_constants"),
}


def remade(module: object) -> object:
    """``module`` with every parameter replaced by the output of an MLX op on it."""
    module.update(tree_map(lambda a: a + 0, module.parameters()))  # type: ignore[attr-defined]
    mx.eval(module.parameters())  # type: ignore[attr-defined]
    return module


def through_file(module: object) -> object:
    """``module`` with its parameters saved to a ``.safetensors`` file and loaded back."""
    with tempfile.TemporaryDirectory() as tmp:
        file = str(Path(tmp) / "hand.safetensors")
        mx.save_safetensors(file, dict(tree_flatten(module.parameters())))  # type: ignore
        module.load_weights(file, strict=True)  # type: ignore[attr-defined]
        mx.eval(module.parameters())  # type: ignore[attr-defined]
    return module


def probe_runs(anchor: Anchor, model: torch.nn.Module, batch: int) -> dict[str, Run]:
    torch.manual_seed(batch)
    inputs = anchor.inputs(batch)
    g_in, h_in = tuple(to_mx(x) for x in inputs), anchor.hand_inputs(inputs)
    plain, compiled = load_generated(anchor.name, model)
    other, _ = load_generated(anchor.name, model)
    hand, hand_file = anchor.hand(model), through_file(anchor.hand(model))
    return {
        "generated": (plain, g_in, anchor.pick_gen),
        "generated_remade": (remade(other), g_in, anchor.pick_gen),
        "hand": (hand, h_in, anchor.pick_hand),
        "hand_file": (hand_file, h_in, anchor.pick_hand),
        "generated_compiled": (compiled, g_in, anchor.pick_gen),
        "generated_constants": (timing.compiled(plain), g_in, timing.first),
        "hand_compiled": (timing.compiled(hand), h_in, timing.first),
    }


def probe(name: str, batch: int, plan: Plan) -> dict:
    anchor = registry()[name]
    torch.manual_seed(0)
    runs = probe_runs(anchor, anchor.torch_model(), batch)
    samples = sampling.sample(runs, plan, timing.force)
    ratios = {k: list(stats.paired(samples, a, b)) for k, (a, b) in PAIRS.items()}
    medians = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
    line = ", ".join(f"{k} {m:.2f}" for k, (m, _, _) in ratios.items())
    print(f"{name} b{batch} ({len(samples['hand'])} rounds): {line}", flush=True)
    return {"median_ms": medians, "ratios": ratios, "rounds": len(samples["hand"])}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("models", nargs="+")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--budget", type=float, default=10.0)
    p.add_argument("--gpu", action="store_true")
    args = p.parse_args()
    if args.gpu:
        use_gpu_profile()
    else:
        torch.set_num_threads(1)
    plan = Plan(warmup=3, min_repeats=10, budget_s=args.budget, max_repeats=400)
    found = {name: probe(name, args.batch, plan) for name in args.models}
    meta = {"device": str(mx.default_device()), "batch": args.batch, "mlx": mx.__version__}
    if torch.cuda.is_available():
        meta["gpu"] = torch.cuda.get_device_name()
    args.out.write_text(json.dumps({"meta": meta, "models": found}, indent=1) + "\n")


if __name__ == "__main__":
    main()

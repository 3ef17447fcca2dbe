"""One command for the benchmark: ``python -m benchmarks.run --config cpu-reference``.

Each configuration (``cpu-reference``, ``cpu-openblas``, ``gpu``) measures every anchor and
stores its results under its name in ``docs/performance.json``; ``docs/performance.md`` is then
rendered from every configuration the JSON holds. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before MLX loads its BLAS

import mlx.core as mx  # noqa: E402
import torch  # noqa: E402

from . import loading, report, sampling, timing  # noqa: E402
from .anchors import PROFILE, registry, use_gpu_profile  # noqa: E402
from .sampling import Plan  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GPU_BATCH = 32  # the larger batch on the GPU (the CPU's is each anchor's own)
BUDGET_S = {"cpu": 15.0, "cuda": 10.0}  # timed seconds per (model, batch) by default


def blas() -> str:
    """Which library stands behind mlx-cpu's bundled ``libblas`` in this process."""
    mx.eval(mx.ones((64, 64)) @ mx.ones((64, 64)))
    maps = Path("/proc/self/maps").read_text() if Path("/proc/self/maps").exists() else ""
    paths = {line.split()[-1] for line in maps.splitlines() if "/libblas" in line}
    if any("openblas" in p for p in paths):  # the link in mlx_cpu.libs, resolved
        return "OpenBLAS (Debian libopenblas0-pthread, 1 thread)"
    if any("mlx_cpu.libs" in p for p in paths):
        return "reference BLAS (netlib, bundled with mlx-cpu)"
    return "mlx-cpu's libblas not loaded"


def conversion(name: str) -> dict:
    """Conversion cost, in a fresh process (its peak memory is its own)."""
    out = ROOT / "benchmarks" / "generated" / f"conversion-{name}.json"  # not /tmp: shared
    cmd = [sys.executable, "-m", "benchmarks.conversion", name, str(out)]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    print(f"{name} converted", flush=True)
    return json.loads(out.read_text())


def one_model(name: str, plan: Plan, dev: str) -> dict:
    anchor = registry()[name]
    result: dict = {"hand_name": anchor.hand_name, "note": anchor.note, "batches": {}}
    torch.manual_seed(0)
    model = anchor.torch_model()
    batches = (1, GPU_BATCH) if dev == "cuda" else anchor.batches
    for batch in batches:
        runs = timing.variants(anchor, model, batch, dev)
        errors = timing.max_errors(runs)
        summary = sampling.summarize(sampling.sample(runs, plan, timing.force))
        result["batches"][str(batch)] = {**summary, "max_error": errors}
        print(f"{name} b{batch}: {report.progress_line(summary)}", flush=True)
    return result


def environment(dev: str) -> dict:
    return {
        "device": torch.cuda.get_device_name() if dev == "cuda" else f"CPU ({platform.machine()})",
        "cpus": os.cpu_count(),  # the CPU runs use one thread for torch and for OpenBLAS
        "mlx_device": str(mx.default_device()),
        "blas": blas() if dev == "cpu" else "cuBLAS (MLX_ENABLE_TF32=0; torch TF32 off)",
        "versions": {"torch": torch.__version__, "mlx": mx.__version__},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run")
    p.add_argument("--config", choices=["cpu-reference", "cpu-openblas", "gpu"])
    p.add_argument("--merge", type=Path, help="add another run's JSON (the GPU's) and render")
    names = list(registry())
    p.add_argument("--models", "--only", nargs="*", default=names, choices=names, metavar="NAME")
    p.add_argument("--warmup", type=int, default=3, help="warm-up rounds (default 3)")
    p.add_argument("--min-repeats", type=int, default=10, help="timed rounds, at least")
    p.add_argument("--budget", type=float, help="timed seconds per (model, batch), at least")
    p.add_argument("--max-repeats", type=int, default=200, help="timed rounds, at most")
    p.add_argument("--no-convert", dest="convert", action="store_false")
    p.add_argument("--json", type=Path, default=ROOT / "docs" / "performance.json")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    args = p.parse_args(argv)
    if args.min_repeats < 6 or args.max_repeats < args.min_repeats:
        p.error("--min-repeats must be >= 6 (a 95% interval of the median) and <= --max-repeats")
    measured = {args.config: measure_config(args)} if args.config else {}
    # read only now: another configuration may have finished while this one ran
    data = json.loads(args.json.read_text()) if args.json.exists() else {"configs": {}}
    if args.merge:
        data["configs"].update(json.loads(args.merge.read_text())["configs"])
    data["configs"].update(measured)
    args.json.write_text(json.dumps(data, indent=1) + "\n")
    args.out.write_text(report.render(data))


def measure_config(args: argparse.Namespace) -> dict:
    dev = "cuda" if args.config == "gpu" else "cpu"
    if dev == "cpu":
        torch.set_num_threads(1)  # one thread each: 2 shared cores, spinning threads fight
    if dev == "cuda":
        use_gpu_profile()
    budget = args.budget if args.budget is not None else BUDGET_S[dev]
    plan = Plan(args.warmup, args.min_repeats, budget, args.max_repeats)
    entry = {"environment": environment(dev), "plan": vars(plan)}
    # every conversion first: they write the generated files the timings load
    converted = {name: conversion(name) for name in args.models} if args.convert else {}
    print("conversions done", flush=True)
    absent = loading.missing(args.models)
    if absent:  # before any timing: the GPU machine's time is short
        raise SystemExit(
            f"[bench] missing: {', '.join(absent)}; convert first (`python -m "
            f"benchmarks.conversion NAME OUT.json {PROFILE['name']}`, see benchmarks/README.md)"
        )
    entry["models"] = {name: guarded(name, plan, dev) for name in args.models}
    for name, conv in converted.items():
        entry["models"][name]["conversion"] = conv
    return entry


def guarded(name: str, plan: Plan, dev: str) -> dict:
    """One model's results, or the error that stopped it (the others still run)."""
    try:
        return one_model(name, plan, dev)
    except Exception as e:  # noqa: BLE001 - reported in the JSON and the page
        print(f"{name}: {type(e).__name__}: {str(e)[:300]}")
        return {"error": f"{type(e).__name__}: {str(e)[:300]}", "batches": {}}


if __name__ == "__main__":
    main()

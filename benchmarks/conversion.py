"""Conversion cost of one model, in a fresh process (peak memory needs one): fx2mlx's stages
(capture, passes, emit, weights; validation apart) beside ``torch.export``'s own time, and the
conversion's peak RSS above the process's RSS with the model built.

``python -m benchmarks.conversion NAME OUT.json [PROFILE]`` also writes the generated model
to ``benchmarks/generated/PROFILE/NAME/``, where the timing runs load it from, and, for an
anchor with fast options (``Anchor.fast``), the conversion with them to ``NAME-fast/`` (after
the measured one: its cost is not in the numbers).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

GENERATED = Path(__file__).with_name("generated")


def rss_kib(field: str) -> int:
    """``VmRSS`` / ``VmHWM`` of this process, KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    """Linux resets VmHWM (the peak RSS) to the current RSS on ``5`` to clear_refs."""
    Path("/proc/self/clear_refs").write_text("5")


def timed_progress() -> object:
    from fx2mlx.progress import Progress

    class Timed(Progress):
        def __init__(self) -> None:
            self.times: dict[str, float] = {}

        @contextlib.contextmanager
        def stage(self, name: str) -> Iterator[None]:
            start = time.perf_counter()
            yield
            self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - start

    return Timed()


def measure(name: str) -> dict:
    import fx2mlx
    from benchmarks.anchors import PROFILE, registry

    anchor = registry()[name]
    warm = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU())
    fx2mlx.convert(warm, (torch.randn(2, 4),))  # one-time import/dynamo costs, paid by neither
    torch.manual_seed(0)
    model = anchor.torch_model()
    inputs = anchor.inputs(2)
    weight_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    base = rss_kib("VmRSS")
    reset_peak()
    progress = timed_progress()
    start = time.perf_counter()
    conv = fx2mlx.convert(model, inputs, progress=progress)
    total = time.perf_counter() - start
    peak = rss_kib("VmHWM")
    folder = GENERATED / PROFILE["name"] / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.py").write_text(conv.source)  # weights come from the torch model
    # the GPU profile's files are only written here (validated by the GPU run's max errors)
    ok = conv.validate().ok if PROFILE["name"] == "cpu" else None
    start = time.perf_counter()
    torch.export.export(model, inputs)
    return _result(progress.times, total, time.perf_counter() - start, weight_bytes, (peak - base) * 1024, ok, conv)  # type: ignore[attr-defined]


def _result(
    stages: dict,
    total: float,
    export_s: float,
    weight_bytes: int,
    peak: int,
    ok: object,
    conv: object,
) -> dict:
    return {
        "stages_s": stages,
        "total_s": total,
        "export_s": export_s,
        "weight_bytes": weight_bytes,
        "peak_above_base_bytes": peak,
        "validated": ok,
        "transposes": conv.report.transposes,  # type: ignore[attr-defined]
        "frontend": conv.report.frontend,  # type: ignore[attr-defined]
    }


def convert_fast(name: str) -> dict | None:
    """The anchor converted with its fast options into ``NAME-fast/`` (validated on CPU)."""
    import fx2mlx
    from benchmarks.anchors import PROFILE, registry

    anchor = registry()[name]
    if not anchor.fast:
        return None
    torch.manual_seed(0)
    model = anchor.torch_model()
    conv = fx2mlx.convert(model, anchor.inputs(2), **anchor.fast)
    folder = GENERATED / PROFILE["name"] / f"{name}-fast"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.py").write_text(conv.source)
    ok = conv.validate().ok if PROFILE["name"] == "cpu" else None
    return {"options": anchor.fast, "validated": ok, "transposes": conv.report.transposes}


if __name__ == "__main__":
    from benchmarks.anchors import PROFILE

    PROFILE["name"] = sys.argv[3] if len(sys.argv) > 3 else "cpu"
    result = measure(sys.argv[1])
    result["fast"] = convert_fast(sys.argv[1])
    Path(sys.argv[2]).write_text(json.dumps(result, indent=1))

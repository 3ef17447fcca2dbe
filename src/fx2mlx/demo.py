"""``fx2mlx demo``: convert, validate and save every bundled example; print a table."""

from __future__ import annotations

import importlib
import time
import warnings
from pathlib import Path

from . import convert
from .command import regenerate_command
from .examples import EXAMPLES
from .output import check_target


def _load(name: str):  # noqa: ANN202 - (model, inputs)
    module, attr = EXAMPLES[name].split(":")
    return getattr(importlib.import_module(module), attr)()


def run_demo(out: Path, force: bool = False) -> int:
    """Each example goes to ``out/<name>`` under ``convert -o``'s rules, all checked up front."""
    for name in EXAMPLES:
        check_target(out / name, force)

    rows = [("model", "params", "outputs", "max abs err", "rel err", "transposes", "ok", "time")]
    failed = 0
    for name in EXAMPLES:
        model, inputs = _load(name)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            conv = convert(model, inputs, command=regenerate_command(EXAMPLES[name], {}))
            result = conv.validate()
        conv.save(out / name, force=force)
        seconds = time.perf_counter() - start
        params = sum(p.numel() for p in model.parameters())
        failed += not result.ok
        rows.append(
            (
                name,
                f"{params / 1e6:.2f}M",
                str(len(result.outputs)),
                f"{result.max_abs:.2e}",
                f"{result.max_rel:.2e}",
                str(conv.report.transposes),
                "yes" if result.ok else "NO",
                f"{seconds:.1f}s",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print(f"\nwrote {out}/<model>/model.py, model.safetensors, fx2mlx.json")
    return 1 if failed else 0

"""The Targets table of ``docs/performance.md``: each target of issue 10 a configuration
measured, with a three-valued status read from the 95% interval of its paired ratio (see
``stats.status``); runs from before the intervals existed show the ratio of medians."""

from __future__ import annotations

from .stats import Interval, status, worst

# (ratio key, label) of the "<= 1.00" targets: the default conversion, then the fast options
RATIO_TARGETS = [
    ("gen/hand", "gen/hand plain"),
    ("gen/hand compiled", "gen/hand compiled"),
    ("gen constants/hand compiled", "gen/hand compiled, both with weights as constants"),
    ("fast/hand", "fast/hand plain"),
    ("fast/hand compiled", "fast/hand compiled"),
]
MEDIANS = {  # the ratio of medians, for entries written before the intervals
    "gen/hand": ("generated", "hand"),
    "gen/hand compiled": ("generated_compiled", "hand_compiled"),
    "gen constants/hand compiled": ("generated_constants", "hand_compiled"),
    "state/constants": ("generated_compiled", "generated_constants"),
    "fast/hand": ("fast", "hand"),
    "fast/hand compiled": ("fast_compiled", "hand_compiled"),
    "gen/torch": ("generated", "torch"),
    "hand/gen": ("hand", "generated"),
}


def interval(batch: dict, key: str) -> Interval | None:
    """The ratio's interval in one batch's results, or None where it wasn't measured."""
    if key in batch.get("ratios", {}):
        return Interval(*batch["ratios"][key])
    num, den = MEDIANS[key]
    t = batch["median_s"]
    return Interval(*[t[num] / t[den]] * 3) if num in t and den in t else None


def shown(iv: Interval, unit: str = "") -> str:
    if iv.lo == iv.hi == iv.median:
        return f"{iv.median:.2f}{unit}"
    return f"{iv.median:.2f}{unit} [{iv.lo:.2f}, {iv.hi:.2f}]"


def targets(name: str, models: dict) -> list[str]:
    """One row per target this configuration measured."""
    rows = []
    for model, m in models.items():
        for key, label in RATIO_TARGETS:
            found = {b: interval(x, key) for b, x in m["batches"].items()}
            ivs = {b: iv for b, iv in found.items() if iv is not None}
            if ivs:
                state = worst([status(iv, 1.0) for iv in ivs.values()])
                text = ", ".join(f"b{b}: {shown(iv)}" for b, iv in ivs.items())
                rows.append(row(name, f"{model} {label} <= 1.00", state, text))
    return rows + lstm_rows(name, models) + conversion_rows(name, models)


def lstm_rows(name: str, models: dict) -> list[str]:
    """The LSTM's speed-up over ``mlx.nn.LSTM`` (hand / generated, paired per round)."""
    rows = []
    for b, x in models.get("lstm", {}).get("batches", {}).items():
        iv = interval(x, "hand/gen")
        if iv is not None:
            state = status(iv, 2.0, at_most=False)
            rows.append(
                row(name, f"LSTM b{b}: >= 2x faster than mlx.nn.LSTM", state, shown(iv, "x"))
            )
    return rows


def conversion_rows(name: str, models: dict) -> list[str]:
    """ResNet-50's conversion time and every conversion's peak memory (one measurement each:
    met or missed)."""
    rows = []
    conv = models.get("resnet50", {}).get("conversion")
    if conv:
        r = conv["total_s"] / conv["export_s"]
        state = "met" if r <= 3 else "missed"
        rows.append(row(name, "ResNet-50 conversion <= 3x torch.export", state, f"{r:.2f}x"))
    for model, m in models.items():
        c = m.get("conversion")
        if c:
            r = c["peak_above_base_bytes"] / c["weight_bytes"]
            state = "met" if r <= 3 else "missed"
            rows.append(row(name, f"{model} conversion peak <= 3x weights", state, f"{r:.2f}x"))
    return rows


def row(config: str, target: str, state: str, text: str) -> str:
    return f"| {config} | {target} | {'**missed**' if state == 'missed' else state} | {text} |"

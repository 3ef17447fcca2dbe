"""The coverage to-do list: which missing ops (or refused configurations) would let how many
database entries pass every sample."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from .harness import Result
from .results import DATABASES, Results

_ITEM = re.compile(r"(?:^|; )([\w.]+): ")


def blockers(row: Result) -> set[str]:
    """The ops an unsupported sample names (``aten.cumprod.default: no converter; ...``)."""
    return set(_ITEM.findall(row.reason)) if row.outcome == "unsupported" else set()


def unlocks(results: Results) -> tuple[Counter[str], Counter[str]]:
    """(entries each op alone blocks, entries each op blocks among others)."""
    alone: Counter[str] = Counter()
    shared: Counter[str] = Counter()
    for db in DATABASES:
        for rows in results.get(db, {}).values():
            failing = [r for r in rows if r.outcome != "pass"]
            if not failing or any(r.outcome != "unsupported" for r in failing):
                continue  # passes already, or something other than a missing op blocks it
            ops = set().union(*(blockers(r) for r in failing))
            target = alone if len(ops) == 1 else shared
            target.update(ops)
    return alone, shared


def missing_ops_table(results: Results, limit: int = 60) -> list[str]:
    alone, shared = unlocks(results)
    samples: dict[str, int] = defaultdict(int)
    for db in DATABASES:
        for rows in results.get(db, {}).values():
            for r in rows:
                for op in blockers(r):
                    samples[op] += 1
    ranked = sorted(samples, key=lambda op: (-alone[op], -shared[op], -samples[op], op))
    lines = [
        "## Missing ops, by the entries they would unlock",
        "",
        "An entry is unlocked by an op when that op is all that keeps its samples from passing;",
        "`with others` counts entries that need it and more. Only ops and configurations",
        "fx2mlx refuses are listed (capture failures and skips are not op problems).",
        "",
        "| op | entries unlocked | with others | samples refused |",
        "|---|---:|---:|---:|",
    ]
    for op in ranked[:limit]:
        lines.append(f"| `{op}` | {alone[op]} | {shared[op]} | {samples[op]} |")
    more = len(ranked) - limit
    return lines + (["", f"... and {more} more."] if more > 0 else []) + [""]

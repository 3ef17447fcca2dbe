"""Run the module_db and op_db conformance sweep; write docs/conformance.json and
docs/conformance.md (totals first, per-entry tables, reasons, the missing-op to-do list).

Usage: python scripts/conformance_table.py [--only ENTRY ...] [--jobs N] [--render]

``--only`` re-runs the named entries (``Conv2d``, ``op_db:add``) and keeps the others'
recorded results; ``--render`` only rewrites the markdown from the JSON. The whole sweep
takes about an hour of CPU time; run it with as many jobs as there are idle cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from multiprocessing import TimeoutError, get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from tests.conformance.modules import OUT_OF_SCOPE  # noqa: E402
from tests.conformance.render import render  # noqa: E402
from tests.conformance.results import DATABASES, Meta, Results, dumps, load  # noqa: E402
from tests.conformance.runner import entries, run_entry  # noqa: E402

JSON = ROOT / "docs" / "conformance.json"
MARKDOWN = ROOT / "docs" / "conformance.md"
ENTRY_TIMEOUT_S = 1800


def jobs_for(only: list[str]) -> list[tuple[str, str]]:
    """(database, entry) pairs to run: all, or those ``only`` names."""
    every = [(db, name) for db in DATABASES for name in entries(db)]
    if not only:
        return every
    picked = [(db, n) for db, n in every if n in only or f"{db}:{n}" in only]
    unknown = set(only) - {n for _, n in picked} - {f"{db}:{n}" for db, n in picked}
    if unknown:
        raise SystemExit(f"unknown entries: {sorted(unknown)}")
    return picked


def sweep(todo: list[tuple[str, str]], results: Results, processes: int) -> None:
    """Run ``todo`` into ``results``. An entry stuck in native code (where the per-sample
    alarm can't reach) stops the sweep after ENTRY_TIMEOUT_S; what finished is kept."""
    start, pending = time.time(), set(todo)
    # spawned workers: MLX's CPU stream (linalg) hangs in a forked child of a process that
    # already started its threads
    with get_context("spawn").Pool(processes, maxtasksperchild=25) as pool:
        done = pool.imap_unordered(run_entry, todo)
        for i in range(1, len(todo) + 1):
            try:
                db, name, rows = done.next(timeout=ENTRY_TIMEOUT_S)
            except TimeoutError:
                print(f"stopped: no result in {ENTRY_TIMEOUT_S} s; not run: {sorted(pending)}")
                pool.terminate()
                return
            pending.discard((db, name))
            results.setdefault(db, {})[name] = rows
            bad = sum(r.outcome in ("mismatch", "crash") for r in rows)
            flag = f"  {bad} mismatch/crash" if bad else ""
            print(f"[{i}/{len(todo)} {time.time() - start:6.0f}s] {db}:{name}{flag}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", default=[])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--render", action="store_true", help="only rewrite the markdown")
    args = parser.parse_args()
    results, meta = load(JSON)
    if not args.render:
        if not args.only:
            results = {db: {} for db in DATABASES}  # a full run drops entries torch removed
        sweep(jobs_for(args.only), results, args.jobs)
        meta = Meta(torch.__version__, OUT_OF_SCOPE)
        JSON.write_text(dumps(results, meta))
    MARKDOWN.write_text(render(results, meta))
    print(f"wrote {JSON.relative_to(ROOT)} and {MARKDOWN.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Run the module_db and op_db conformance sweep; write docs/conformance.json and
docs/conformance.md (totals first, per-entry tables, reasons, the missing-op to-do list).

Usage: python scripts/conformance_table.py [--only ENTRY ...] [--jobs N] [--render] [--resume]

``--only`` re-runs the named entries (``Conv2d``, ``op_db:add``) and keeps the others'
recorded results; ``--render`` only rewrites the markdown from the JSON; ``--resume`` goes
on from where an interrupted run stopped (its results so far are kept after every entry).
A sample that kills or hangs its worker process is recorded as a crash. The whole sweep
takes about an hour of CPU time; run it with as many jobs as there are idle cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from tests.conformance.modules import OUT_OF_SCOPE  # noqa: E402
from tests.conformance.render import render  # noqa: E402
from tests.conformance.results import DATABASES, Meta, Results, dumps, load  # noqa: E402
from tests.conformance.runner import entries  # noqa: E402
from tests.conformance.sweep import Done, Sweep  # noqa: E402

JSON = ROOT / "docs" / "conformance.json"
MARKDOWN = ROOT / "docs" / "conformance.md"
PROGRESS = ROOT / ".conformance-progress.json"  # the interrupted run's results so far


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


def sweep(todo: list[tuple[str, str]], results: Results) -> Done:
    """The per-entry callback: record, report, and checkpoint to PROGRESS every entry, so an
    interrupted sweep resumes (``--resume``) where it stopped."""
    start, total = time.time(), len(todo)
    finished = [0]

    def done(db: str, name: str, rows: list) -> None:
        results.setdefault(db, {})[name] = rows
        finished[0] += 1
        bad = sum(r.outcome in ("mismatch", "crash") for r in rows)
        flag = f"  {bad} mismatch/crash" if bad else ""
        print(f"[{finished[0]}/{total} {time.time() - start:6.0f}s] {db}:{name}{flag}", flush=True)
        PROGRESS.write_text(dumps(results, Meta(torch.__version__, OUT_OF_SCOPE)))

    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", default=[])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--render", action="store_true", help="only rewrite the markdown")
    parser.add_argument("--resume", action="store_true", help="go on from an interrupted run")
    args = parser.parse_args()
    results, meta = load(JSON)
    if not args.render:
        todo = jobs_for(args.only)
        if args.resume and PROGRESS.exists():
            results, _ = load(PROGRESS)
            todo = [(db, n) for db, n in todo if n not in results.get(db, {})]
        elif not args.only:
            results = {db: {} for db in DATABASES}  # a full run drops entries torch removed
        Sweep(args.jobs, sweep(todo, results)).run(todo)
        PROGRESS.unlink(missing_ok=True)
        meta = Meta(torch.__version__, OUT_OF_SCOPE)
        JSON.write_text(dumps(results, meta))
    MARKDOWN.write_text(render(results, meta))
    print(f"wrote {JSON.relative_to(ROOT)} and {MARKDOWN.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

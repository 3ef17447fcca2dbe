"""The machine-readable results (``docs/conformance.json``): per database, per entry, one
record per sample. Reasons are stored once and referred to by index, to keep the file small."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .harness import Result

DATABASES = ("module_db", "op_db")
Results = dict[str, dict[str, list[Result]]]  # database -> entry -> one Result per sample


@dataclass
class Meta:
    """What the results were made with, and what was left out of scope on purpose."""

    torch: str = ""
    out_of_scope: list[str] = field(default_factory=list)


def dumps(results: Results, meta: Meta) -> str:
    """One line per entry, so a regeneration diffs entry by entry."""
    reasons: dict[str, int] = {"": 0}
    body: dict[str, dict[str, str]] = {}
    for db in DATABASES:
        body[db] = {}
        for name, rows in sorted(results.get(db, {}).items()):
            records = [
                [
                    r.outcome,
                    reasons.setdefault(r.reason, len(reasons)),
                    reasons.setdefault(r.own_only, len(reasons)),
                ]
                for r in rows
            ]
            body[db][name] = json.dumps(records, separators=(",", ":"))
    lines = ["{", f'"torch": {json.dumps(meta.torch)},']
    lines.append(f'"out_of_scope": {json.dumps(meta.out_of_scope)},')
    lines.append('"reasons": [')
    lines.append(",\n".join(json.dumps(r) for r in reasons) + "],")
    for i, db in enumerate(DATABASES):
        entries = [f"{json.dumps(n)}: {v}" for n, v in body[db].items()]
        end = "," if i + 1 < len(DATABASES) else ""
        lines.append(f'"{db}": {{\n' + ",\n".join(entries) + f"\n}}{end}")
    return "\n".join(lines) + "\n}\n"


def loads(text: str) -> tuple[Results, Meta]:
    data = json.loads(text)
    reasons = data["reasons"]
    results: Results = {}
    for db in DATABASES:
        results[db] = {
            name: [Result(o, reasons[r], reasons[w]) for o, r, w in rows]
            for name, rows in data.get(db, {}).items()
        }
    return results, Meta(data["torch"], data["out_of_scope"])


def load(path: Path) -> tuple[Results, Meta]:
    return loads(path.read_text()) if path.exists() else ({db: {} for db in DATABASES}, Meta())


def stratified(results: Results) -> list[tuple[str, str, int]]:
    """A fixed subset that still shows every behaviour: per entry, the first sample of each
    distinct (outcome, reason, own-inputs-only reason)."""
    picked = []
    for db in DATABASES:
        for name, rows in sorted(results.get(db, {}).items()):
            seen: set[tuple[str, str, str]] = set()
            for i, r in enumerate(rows):
                key = (r.outcome, r.reason, r.own_only)
                if key not in seen:
                    seen.add(key)
                    picked.append((db, name, i))
    return picked

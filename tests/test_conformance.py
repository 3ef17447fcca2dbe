"""Conformance against PyTorch's own test databases (``module_db`` and ``op_db``).

``scripts/conformance_table.py`` runs every sample and records each outcome in
``docs/conformance.json``; here a fixed stratified subset (per entry, the first sample of each
recorded behaviour) is run again and must still do what was recorded (a sample recorded as
unsupported or uncapturable may pass now: the doc never claims more than holds), and
``docs/conformance.md`` must be what the generator writes from the JSON.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("expecttest")

from .conformance.render import render  # noqa: E402
from .conformance.results import DATABASES, load, stratified  # noqa: E402
from .conformance.runner import entries, run_one  # noqa: E402

pytestmark = pytest.mark.conformance

DOCS = Path(__file__).resolve().parents[1] / "docs"
RESULTS, META = load(DOCS / "conformance.json")
REGENERATE = "run: python scripts/conformance_table.py --only {}"


@pytest.mark.parametrize(
    "db,name,index", [pytest.param(*c, id=f"{c[0]}-{c[1]}-{c[2]}") for c in stratified(RESULTS)]
)
def test_sample_outcome_holds(db: str, name: str, index: int) -> None:
    recorded = RESULTS[db][name][index]
    got = run_one(db, name, index)
    if recorded.outcome == "mismatch":  # error sizes may differ in the last digits by machine
        recorded, got = replace(recorded, reason=""), replace(got, reason="")
    assert got.outcome not in ("mismatch", "crash") or got == recorded, REGENERATE.format(name)
    if got.outcome == "pass" and recorded.outcome in ("unsupported", "capture"):
        return  # a converter landed since the sweep: the doc undercounts, never overclaims
    assert got == recorded, REGENERATE.format(name)


def test_markdown_is_current() -> None:
    current = (DOCS / "conformance.md").read_text()
    assert current == render(RESULTS, META), "run: python scripts/conformance_table.py --render"


@pytest.mark.parametrize("db", DATABASES)
def test_every_entry_is_recorded(db: str) -> None:
    """The JSON covers exactly the database's in-scope entries of this torch version."""
    assert sorted(RESULTS[db]) == entries(db), "run: python scripts/conformance_table.py"

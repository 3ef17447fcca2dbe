"""Conformance against PyTorch's own test databases (``module_db`` and ``op_db``).

``scripts/conformance_table.py`` runs every sample and records each outcome in
``docs/conformance.json``; here a fixed stratified subset (per entry, the first sample of each
recorded behaviour) is run again: a recorded pass must still pass, and no sample may
mismatch or crash unless recorded so (one recorded as failing may now pass or fail for
another reason: the doc never claims more than holds); and
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
    if recorded.outcome == "pass":
        assert got.outcome == "pass", REGENERATE.format(name)
    # a sample recorded as failing may fail differently or pass since the last sweep: the
    # doc then undercounts until regenerated, never overclaims
    assert got.outcome in ("pass", "unsupported", "capture", recorded.outcome), REGENERATE.format(
        name
    )


def test_markdown_is_current() -> None:
    current = (DOCS / "conformance.md").read_text()
    assert current == render(RESULTS, META), "run: python scripts/conformance_table.py --render"


@pytest.mark.parametrize("db", DATABASES)
def test_every_entry_is_recorded(db: str) -> None:
    """The JSON covers exactly the database's in-scope entries of this torch version."""
    assert sorted(RESULTS[db]) == entries(db), "run: python scripts/conformance_table.py"

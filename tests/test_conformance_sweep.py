"""The conformance sweep survives samples that kill their worker process."""

from __future__ import annotations

from .conformance import crashy
from .conformance.harness import Result
from .conformance.sweep import Sweep


def test_a_killed_worker_is_a_crash_and_the_entry_goes_on() -> None:
    got: dict[str, list[Result]] = {}
    sweep = Sweep(2, lambda db, name, rows: got.update({name: rows}), crashy.count, crashy.run)
    sweep.run([("op_db", "a"), ("op_db", "b"), ("op_db", "unmakeable")])
    for name in ("a", "b"):
        assert [r.outcome for r in got[name]] == ["pass", "crash", "pass"]
        assert got[name][1].reason == "process killed by SIGFPE"
    assert [r.outcome for r in got["unmakeable"]] == ["crash"]
    assert "SIGSEGV" in got["unmakeable"][0].reason


def test_a_hung_worker_is_a_crash_and_the_entry_goes_on() -> None:
    got: dict[str, list[Result]] = {}
    sweep = Sweep(1, lambda db, n, rows: got.update({n: rows}), crashy.count, crashy.run, 3)
    sweep.run([("op_db", "stuck")])
    assert [r.outcome for r in got["stuck"]] == ["pass", "crash", "pass"]
    assert got["stuck"][1].reason == "process hung for 3 s"

"""Run every sample of one database entry (the unit of work of the generator's processes)."""

from __future__ import annotations

import signal
import warnings
from types import FrameType, ModuleType

from .harness import Result

TIMEOUT_S = 120  # a sample that takes longer hangs somewhere: reported as a crash


def _database(db: str) -> ModuleType:
    """The module that knows that database's entries and samples."""
    if db == "module_db":
        from . import modules

        return modules
    from . import ops

    return ops


def entries(db: str) -> list[str]:
    return sorted(_database(db).ENTRIES)


def sample_count(db: str, name: str) -> int:
    return len(_database(db).samples(name))


def run_one(db: str, name: str, index: int) -> Result:
    """One sample's result; never raises (a harness failure is reported as a crash)."""
    mod = _database(db)
    run = mod.run_module_sample if db == "module_db" else mod.run_op_sample
    warnings.filterwarnings("ignore")
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(TIMEOUT_S)
    try:
        return run(name, index)
    except _Timeout:
        return Result("crash", f"timed out after {TIMEOUT_S} s")
    except Exception as exc:  # noqa: BLE001 - the harness itself failed on this sample
        from .harness import crash_text

        return Result("crash", "harness: " + crash_text(exc))
    finally:
        signal.alarm(0)


class _Timeout(Exception):
    pass


def _timeout(signum: int, frame: FrameType | None) -> None:
    raise _Timeout

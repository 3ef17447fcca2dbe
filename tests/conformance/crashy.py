"""A fake database for the sweep's own test: sample 1 of every entry kills its process, or
hangs it in entry ``stuck``."""

from __future__ import annotations

import os
import signal
import time

from .harness import Result


def count(db: str, name: str) -> int:
    if name == "unmakeable":
        os.kill(os.getpid(), signal.SIGSEGV)
    return 3


def run(db: str, name: str, index: int) -> Result:
    if index == 1 and name == "stuck":
        time.sleep(600)
    if index == 1:
        os.kill(os.getpid(), signal.SIGFPE)
    return Result("pass")

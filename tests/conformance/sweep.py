"""Run many entries' samples in worker processes that may die: a sample that kills its
process natively (a segfault or SIGFPE inside MLX) or hangs where the per-sample alarm can't
reach is recorded as a crash, and the entry goes on from the next sample in a new worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import active_children, get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from .harness import Result
from .runner import TIMEOUT_S, run_one, sample_count

HANG_S = TIMEOUT_S + 60  # no word from a worker for this long: stuck in native code
ENTRIES_PER_WORKER = 25
Job = tuple[str, str]  # (database, entry)
Done = Callable[[str, str, list[Result]], None]
Count = Callable[[str, str], int]
RunOne = Callable[[str, str, int], Result]


def _work(conn: Connection, sample_count: Count, run_one: RunOne) -> None:
    """Worker loop: take (db, name, first sample), report each sample as it starts and ends."""
    while True:
        task = conn.recv()
        if task is None:
            return
        db, name, first = task
        try:
            count = sample_count(db, name)
        except Exception as exc:  # noqa: BLE001 - the database can't make this entry's samples
            conn.send(("skip", f"no samples: {type(exc).__name__}"))
            continue
        conn.send(("count", count))
        for i in range(first, count):
            conn.send(("begin", i))
            conn.send(("row", run_one(db, name, i)))
        conn.send(("end", None))


@dataclass
class _Slot:
    """One worker process and the entry it is on."""

    proc: BaseProcess
    conn: Connection
    job: Job | None = None
    rows: list[Result] = field(default_factory=list)
    count: int = 0
    current: int = -1  # the sample running now (-1: between samples)
    heard: float = field(default_factory=time.time)
    served: int = 0  # entries this process has run


class Sweep:
    """Runs jobs on ``processes`` workers; ``done(db, name, rows)`` is called per entry."""

    def __init__(
        self,
        processes: int,
        done: Done,
        count: Count = sample_count,
        run: RunOne = run_one,
        hang_s: float = HANG_S,
    ) -> None:
        # spawned, not forked: MLX's CPU stream (linalg) hangs in a forked child of a process
        # that already started its threads
        self._ctx = get_context("spawn")
        self._n, self._done, self._fns, self._hang_s = processes, done, (count, run), hang_s
        self._queue: list[tuple[str, str, int]] = []
        self._partial: dict[Job, list[Result]] = {}

    def run(self, jobs: list[Job]) -> None:
        self._queue = [(db, name, 0) for db, name in reversed(jobs)]
        slots = [self._start() for _ in range(min(self._n, len(jobs)))]
        try:
            for slot in slots:
                self._assign(slot)
            while any(s.job for s in slots):
                self._step(slots)
        finally:
            for slot in slots:
                slot.proc.kill()

    def _start(self) -> _Slot:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_work, args=(child, *self._fns), daemon=True)
        proc.start()
        return _Slot(proc, parent)

    def _assign(self, slot: _Slot) -> None:
        slot.job = None
        slot.served += 1
        if self._queue and slot.served > ENTRIES_PER_WORKER:  # memory grows with caches
            slot.conn.send(None)
            active_children()  # reaps the workers retired before (no zombies)
            fresh = self._start()
            slot.proc, slot.conn, slot.served = fresh.proc, fresh.conn, 0
        if self._queue:
            db, name, first = self._queue.pop()
            slot.job, slot.rows = (db, name), self._partial.pop((db, name), [])
            slot.count, slot.current, slot.heard = 0, -1, time.time()
            slot.conn.send((db, name, first))

    def _step(self, slots: list[_Slot]) -> None:
        busy = [s for s in slots if s.job]
        ready = wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout=1)
        for i, slot in enumerate(slots):
            if not slot.job:
                continue
            if slot.conn in ready or slot.proc.sentinel in ready:
                if not self._drain(slot) and slot.job:
                    slots[i] = self._replace(slot, hung=False)
            elif time.time() - slot.heard > self._hang_s:
                slots[i] = self._replace(slot, hung=True)

    def _drain(self, slot: _Slot) -> bool:
        """Read every message the worker sent; False if it is gone (messages sent before it
        died are still read: they say which sample killed it)."""
        try:
            while slot.job and slot.conn.poll():
                self._receive(slot)
        except (EOFError, OSError):
            return False
        return slot.proc.is_alive()

    def _receive(self, slot: _Slot) -> None:
        kind, value = slot.conn.recv()
        slot.heard = time.time()
        assert slot.job is not None
        if kind == "skip":
            self._done(*slot.job, [Result("skip", value)])
            self._assign(slot)
        elif kind == "count":
            slot.count = value
        elif kind == "begin":
            slot.current = value
        elif kind == "row":
            slot.rows.append(value)
            slot.current = -1
        else:
            self._done(*slot.job, slot.rows)
            self._assign(slot)

    def _replace(self, slot: _Slot, hung: bool) -> _Slot:
        """The worker died or hung: its sample is a crash; the entry resumes after it."""
        if not hung:
            slot.proc.join(10)  # its pipe can close a moment before it is reaped
        slot.proc.kill()
        slot.proc.join()
        assert slot.job is not None
        why = f"hung for {self._hang_s:.0f} s" if hung else _death(slot.proc.exitcode)
        if slot.count == 0:  # died making the entry's samples
            self._done(*slot.job, [Result("crash", f"process {why} making samples")])
        else:
            index = slot.current if slot.current >= 0 else len(slot.rows)
            rows = slot.rows + [Result("crash", f"process {why}")]
            if index + 1 < slot.count:
                self._partial[slot.job] = rows
                self._queue.append((*slot.job, index + 1))
            else:
                self._done(*slot.job, rows)
        fresh = self._start()
        self._assign(fresh)
        return fresh


def _death(code: int | None) -> str:
    import signal

    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exited with {code}"

"""Progress of a conversion: the pipeline announces its stages and long loops; a front end
decides what to show. The base :class:`Progress` shows nothing, so the Python API stays quiet;
the command line passes a :class:`ConsoleProgress`."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")


class Progress:
    """Receives stage and loop events from the pipeline; this base class ignores them."""

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Wrap one stage (``capture``, ``passes``, ``emit``, ``weights``, ``validation``)."""
        yield

    def track(self, items: Iterable[T], total: int, what: str) -> Iterable[T]:
        """Iterate ``items`` (``total`` of them); a subclass may draw a bar while it runs."""
        return items


SILENT = Progress()


class ConsoleProgress(Progress):
    """Prints each stage as it starts and its time when done; bars for long loops.

    A stage takes two lines, not one finished in place: the user's code runs inside stages
    and may print or log, which would land in the middle of a half-written line.

    Args:
        stream: where to write (the command line passes ``sys.stderr``).
        bars: draw progress bars; ``None`` draws them only when ``stream`` is a terminal.
        bar_delay: seconds a loop must run before its bar appears, so small models show none.
    """

    def __init__(self, stream: TextIO, bars: bool | None = None, bar_delay: float = 1.0) -> None:
        self.stream = stream
        self.bars = _isatty(stream) if bars is None else bars
        self.bar_delay = bar_delay

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self._write(f"[fx2mlx] {name}...")
        start = time.perf_counter()
        yield  # on an exception nothing more is printed: the error says what happened
        self._write(f"[fx2mlx] {name} done in {time.perf_counter() - start:.2f} s")

    def track(self, items: Iterable[T], total: int, what: str) -> Iterable[T]:
        return self._with_bar(items, total, what) if self.bars else items

    def _with_bar(self, items: Iterable[T], total: int, what: str) -> Iterator[T]:
        """Yield ``items``; once they have taken ``bar_delay`` seconds, show a bar."""
        from tqdm import tqdm

        start = time.perf_counter()
        bar = None
        try:
            for done, item in enumerate(items):
                if bar is None and time.perf_counter() - start >= self.bar_delay:
                    bar = tqdm(
                        total=total,
                        initial=done,
                        desc=f"[fx2mlx] {what}",
                        file=self.stream,
                        leave=False,
                        dynamic_ncols=True,
                    )
                yield item
                if bar is not None:
                    bar.update()
        finally:
            if bar is not None:
                bar.close()

    def _write(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())

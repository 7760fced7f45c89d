"""Progress on a terminal for long work (``train``, ``eval``, ``rules test``, several logs to
``analyze``): a tqdm bar on stderr, nothing at all when stderr is not a terminal (CI logs,
pipes), so output that is read by tools or people later stays clean.

tqdm is imported only when a bar is drawn: ``analyze`` of one small log never pays for it.
Work whose length is unknown (fitting a model after the logs are scanned) gets a ticker:
elapsed time, refreshed by a thread, so a two-minute step is visibly alive.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO, TypeVar, overload

T = TypeVar("T")


def wanted(stream: TextIO) -> bool:
    """Bars only for a person watching a terminal."""
    return stream.isatty()


def bar(items: Sequence[T], description: str, stream: TextIO) -> Iterable[T]:
    """``items``, ticking a bar on ``stream`` as they are consumed (when worth showing)."""
    if len(items) < 2 or not wanted(stream):
        return items
    from tqdm import tqdm  # noqa: PLC0415 - only when a bar is drawn (start-up time)

    return tqdm(items, desc=description, file=stream, leave=False, dynamic_ncols=True)


class Counted(Sequence[T]):
    """A sequence whose first full iteration ticks a bar: for library code that takes a
    sequence, reads it once in a long pass (scanning every log), then indexes it. ``then``
    names what follows that pass; a ticker shows it until :meth:`close`."""

    def __init__(
        self, items: Sequence[T], description: str, stream: TextIO, then: str | None = None
    ) -> None:
        self._items = items
        self._description, self._stream, self._then = description, stream, then
        self._counted = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        if self._counted:
            yield from self._items
            return
        self._counted = True
        yield from bar(self._items, self._description, self._stream)
        if self._then and wanted(self._stream):
            self._thread = threading.Thread(target=self._tick, args=(self._then,), daemon=True)
            self._thread.start()

    def _tick(self, description: str) -> None:
        from tqdm import tqdm  # noqa: PLC0415

        with tqdm(desc=description, file=self._stream, bar_format="{desc} {elapsed}") as shown:
            while not self._stop.wait(0.5):
                shown.refresh()
            shown.leave = False

    def close(self) -> None:
        """Stop the ticker of what followed the pass, if it runs."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


@contextmanager
def counted(
    items: Sequence[T], description: str, stream: TextIO, then: str | None = None
) -> Iterator[Counted[T]]:
    """:class:`Counted` for the length of a block."""
    wrapped = Counted(items, description, stream, then)
    try:
        yield wrapped
    finally:
        wrapped.close()

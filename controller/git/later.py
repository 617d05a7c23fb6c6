"""`Later`: one call run on a thread of its own, its answer (or error) collected when wanted.

A one-offer reconcile pass is mostly waiting for git processes of 2 to 4 ms
each, one after the other. Where two of them do not depend on each other (the
status blob's `hash-object` and the tree and commit written beside it; the
first-parent history and the diff of the last reconciled commit), the one not
needed yet runs meanwhile on the machine's other core. The thread only waits
for its process; what it computes is handed over by `result`, which re-raises
the call's error in the caller.

A caller that starts one collects it on every path (`result`, in a `finally`
where an error may come first): nothing it wrote may be left unawaited when a
ref moves.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Later(Generic[T]):
    """`call()`, started now on a daemon thread; `result()` waits for it."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = threading.Thread(
            target=self._run, args=(call,), name="offerctl-later", daemon=True
        )
        self._thread.start()

    @classmethod
    def answered(cls, value: T) -> Later[T]:
        """A `Later` whose answer is known now: no thread."""
        done = cls.__new__(cls)
        done._value, done._error, done._thread = value, None, None
        return done

    def _run(self, call: Callable[[], T]) -> None:
        try:
            self._value = call()
        except BaseException as exc:  # handed to the caller by `result`
            self._error = exc

    def result(self) -> T:
        """The call's answer, once it has returned; its exception, re-raised."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def settle(self) -> None:
        """Wait for the call and drop its answer or error: for a caller already failing."""
        with contextlib.suppress(Exception):
            self.result()

"""Ctrl-C while fitting: never lost, never half-handled.

Python turns SIGINT into a KeyboardInterrupt wherever the main thread happens
to be. While fitting that place is often inside a library that catches it:
nutpie and PyMC then return the draws taken so far as if they were the whole
run, and a garbage-collection callback inside JAX drops it altogether. Raised
in the middle of compilation it can leave native threads running into a crash
at exit. So while fitting geommm counts interrupts itself: in *deferred* mode
the first Ctrl-C only sets a flag, checked at points where stopping is clean
(after compilation, between polls of the sampler); a second Ctrl-C raises at
once. In *immediate* mode (samplers geommm cannot poll) it raises as usual,
and the count still says the run was interrupted if the library swallowed it.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import TracebackType

from geommm.errors import FitInterrupted

log = logging.getLogger("geommm")


class InterruptGuard:
    """Context manager that records SIGINT during a fit (see the module docstring)."""

    def __init__(self, defer: bool = True, stage: str = "fitting") -> None:
        self.defer = defer
        self.stage = stage  # what is running, for the error message
        self.count = 0
        self._previous = None
        self._installed = False

    def __enter__(self) -> InterruptGuard:
        # Signal handlers can only be set from the main thread (not in Dask workers).
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            if self._previous is not signal.SIG_IGN:
                signal.signal(signal.SIGINT, self._handle)
                self._installed = True
            # An interrupt an enclosing guard saw but nobody acted on still counts here.
            outer = getattr(self._previous, "__self__", None)
            if isinstance(outer, InterruptGuard):
                self.count += outer.count
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def _handle(self, signum: int, frame: object) -> None:
        self.count += 1
        if self.defer and self.count == 1:
            log.warning("interrupt received: stopping at the next safe point "
                        "(press Ctrl-C again to stop at once)")
            return
        raise KeyboardInterrupt

    def check(self) -> None:
        """Raise :class:`FitInterrupted` if Ctrl-C was pressed (called at safe points)."""
        if self.count:
            raise interrupted(self.stage)


def interrupted(stage: str) -> FitInterrupted:
    """The error of a fit stopped by Ctrl-C during ``stage``."""
    return FitInterrupted(
        f"fitting was interrupted (Ctrl-C) during {stage}; no fit was returned or saved"
    )

"""Progress as plain lines when stderr is not a terminal (CI logs, ``nohup``, pipes).

A progress bar redraws one line in place; written to a file it is either nothing
(nutpie's bar hides itself off a terminal) or thousands of lines. So off a
terminal each long stage of a fit prints one line when it ends, with its elapsed
time, and NUTS sampling prints a line at most every ``PROGRESS_SECONDS`` with the
iterations done and the divergences so far. On a terminal, or in a notebook, the
samplers' own progress displays are used instead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Shortest interval (seconds) between two sampling progress lines.
PROGRESS_SECONDS = 10.0


def interactive() -> bool:
    """True on a terminal or in a notebook (where progress bars draw themselves)."""
    try:
        if sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


class Progress:
    """Plain progress lines on stderr, or nothing when ``enabled`` is False."""

    def __init__(self, enabled: bool, clock: Callable[[], float] = time.monotonic,
                 every: float | None = None) -> None:
        self.enabled = enabled
        self.clock = clock
        self.every = PROGRESS_SECONDS if every is None else every
        self._started = self._last = 0.0

    @classmethod
    def for_run(cls, progressbar: bool) -> Progress:
        """Lines when a progress display was asked for but stderr cannot draw one."""
        return cls(bool(progressbar) and not interactive())

    def say(self, text: str) -> None:
        if self.enabled:
            print(f"  {text}", file=sys.stderr, flush=True)

    @contextmanager
    def stage(self, done: str) -> Iterator[None]:
        """One line when the stage ends: ``{done} in 3.2 s``."""
        start = self.clock()
        yield
        self.say(f"{done} in {seconds(self.clock() - start)}")

    def start_sampling(self) -> None:
        self._started = self._last = self.clock()

    def tick(self, counts: Callable[[], tuple[int, int, int] | None], total_tune: int,
             total_draws: int) -> None:
        """A sampling line if ``every`` seconds have passed since the last one.

        ``counts()`` gives (warm-up iterations done, draws done, divergent draws)
        summed over chains, or None when the sampler cannot tell."""
        if not self.enabled:
            return
        now = self.clock()
        if now - self._last < self.every:
            return
        self._last = now
        elapsed = seconds(now - self._started)
        done = counts()
        if done is None:
            self.say(f"sampling: {elapsed}")
            return
        tune, draws, divergent = done
        self.say(
            f"sampling: warm-up {tune:,}/{total_tune:,}, draws {draws:,}/{total_draws:,} "
            f"(all chains), {divergent} divergence{'s' if divergent != 1 else ''} so far, {elapsed}"
        )

"""SIGINT/SIGTERM become a flag the training loop checks between steps.

The current step finishes, the loop saves, and the command exits 130 (SIGINT) or 143
(SIGTERM). A second signal of the same kind while saving is ignored so the save completes.
"""

from __future__ import annotations

import signal
import threading


class StopSignal:
    """Context manager installing the handlers (main thread only; elsewhere a plain flag)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.previous: dict[int, object] = {}

    def request(self, signum: int, _frame=None) -> None:
        if self.signum is None:
            self.signum = signum

    def __enter__(self) -> "StopSignal":
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self.request)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous.clear()

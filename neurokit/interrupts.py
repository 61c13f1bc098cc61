"""Interrupts that end a run cleanly: Ctrl-C (SIGINT, often sent to the whole process group) and SIGTERM.

Lava runs each process in a child OS process. A signal that reaches the children kills them in the middle
of a step while the parent waits for their messages: the run hangs and leaks shared memory. So during a
Lava run the children are started with both signals ignored (they inherit that at fork) and only the
parent acts on them: it raises `Interrupted` in its main thread, the caller's `finally` stops the Lava
runtime (which ends the children and frees their shared memory), and the CLI prints one line and exits
128 + the signal's number (130, 143).
"""
from __future__ import annotations

import contextlib
import signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A SIGINT or SIGTERM turned into an exception, so that cleanup code runs."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise(signum, frame):
    raise Interrupted(signum)


def raise_on_signals() -> None:
    """In the main thread: SIGINT and SIGTERM raise Interrupted (cleanup runs) instead of ending the process."""
    for s in SIGNALS:
        signal.signal(s, _raise)


@contextlib.contextmanager
def shielded_children():
    """Yields `started()`: everything forked before it is called ignores SIGINT and SIGTERM; after it the
    parent raises Interrupted on them. Call it once the Lava runtime has started its processes."""
    saved = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)

    def started():
        for s in SIGNALS:
            signal.signal(s, _raise)

    try:
        yield started
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)

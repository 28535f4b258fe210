"""Stop the running solvers when the user presses Ctrl-C.

CP-SAT and GLOP run in C++, and Python raises KeyboardInterrupt only once control comes back to it,
so a search would otherwise run to its time limit and its plan would be written. ``watch_interrupts``
starts a thread that learns of SIGINT at once through a wake-up descriptor and stops every solver
registered with ``stoppable``. The solve then returns, and Python raises KeyboardInterrupt as usual.
CP-SAT must not catch SIGINT itself (``catch_sigint_signal``), or Python never receives the signal.
"""

from __future__ import annotations

import atexit
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

_running: dict[int, Callable[[], object]] = {}
_lock = threading.Lock()
# The wake-up socket pair, kept open for the life of the process once watching has started.
_sockets: tuple[socket.socket, socket.socket] | None = None


@contextmanager
def stoppable(stop: Callable[[], object]) -> Iterator[None]:
    """Register `stop` (a solver's stop call, safe from another thread) while the block runs."""
    key = id(stop)
    with _lock:
        _running[key] = stop
    try:
        yield
    finally:
        with _lock:
            _running.pop(key, None)


def stop_all() -> int:
    """Call the stop function of every registered solver; return how many there were."""
    with _lock:
        stops = list(_running.values())
    for stop in stops:
        stop()
    return len(stops)


def watch_interrupts() -> None:
    """Stop every registered solver as soon as SIGINT arrives. Call once, from the main thread."""
    global _sockets
    if _sockets is not None or threading.current_thread() is not threading.main_thread():
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)

    def watch() -> None:
        while True:
            received = reader.recv(64)
            if not received:
                return
            if signal.SIGINT in received:
                logger.debug("interrupt: stopped %d running solver(s)", stop_all())

    threading.Thread(target=watch, name="interrupt-watch", daemon=True).start()
    _sockets = (reader, writer)
    atexit.register(_stop_watching)


def _stop_watching() -> None:
    """Detach the wake-up descriptor and close the socket pair, which ends the watching thread."""
    global _sockets
    if _sockets is None:
        return
    signal.set_wakeup_fd(-1)
    for end in _sockets:
        end.close()
    _sockets = None

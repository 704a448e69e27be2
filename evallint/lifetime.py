"""How long what a run makes lives: objects kept until a hard exit, and worker processes that
never outlive the run.

Objects kept alive until the process ends, where it ends with ``os._exit``.

On a large tree a run builds millions of objects (the IR, the analysis memos,
the facts). Freeing them one by one as each step returns costs real time on the
way out, in the main process and in phase 2's forked worker. The console script ends with ``os._exit`` and
its workers end the same way, so there nothing needs freeing: inside
``kept_until_exit`` the steps hand those objects to ``keep`` instead. Library
callers (the flake8 plugin, tests) never enter it, so their memory is freed as
usual.
"""

from __future__ import annotations

import contextlib
import os
import threading
from contextvars import ContextVar

_KEPT: ContextVar[list | None] = ContextVar("evallint_kept_until_exit", default=None)


@contextlib.contextmanager
def kept_until_exit():
    """While the block runs, ``keep`` keeps what it is given (the caller ends with ``os._exit``)."""
    token = _KEPT.set([])
    try:
        yield
    finally:
        _KEPT.reset(token)


def keep(*objects: object) -> None:
    """Keep these objects alive until the process exits, inside ``kept_until_exit``; else do nothing."""
    kept = _KEPT.get()
    if kept is not None:
        kept.extend(objects)


@contextlib.contextmanager
def worker_pool(max_workers: int, mp_context=None):
    """A ``ProcessPoolExecutor`` none of whose workers outlives the block or this process.

    Each worker gives up the caller's standard streams (a worker still holding a pipe that
    ``evallint . | cat`` reads would keep the reader waiting), leaves Ctrl-C to this process
    (a terminal sends it to the whole group), and ends when this process dies, however it
    dies. On the way out the pool is waited for; if the block fails (an error, Ctrl-C,
    SIGTERM) its workers are killed first, since nothing wants their results any more.
    """
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        max_workers=max_workers, mp_context=mp_context, initializer=_worker_started, initargs=(os.getpid(),)
    )
    try:
        yield pool
    except BaseException:
        _stop_workers(pool)
        raise
    pool.shutdown(wait=True)


def _stop_workers(pool) -> None:
    """Kill the pool's workers and wait for them. Ctrl-C can land anywhere, inside the executor's
    own bookkeeping too (between forking its workers and starting the thread that manages them),
    so its shutdown may fail: the workers are then waited for here."""
    # ``_processes`` is the executor's own table of its workers (Python 3.14 adds kill_workers()).
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        try:
            process.kill()
        except (OSError, ValueError, AttributeError):
            pass  # already gone
    try:
        pool.shutdown(wait=True, cancel_futures=True)
    except Exception:
        pass
    for process in processes:
        try:
            process.join()
        except (OSError, ValueError, AssertionError):
            pass


def _worker_started(parent: int) -> None:
    """A pool worker's first step (see ``worker_pool``)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for stream in (0, 1, 2):
            os.dup2(null, stream)
        os.close(null)
    except OSError:
        pass
    if not _killed_with_parent():
        threading.Thread(target=_watch_parent, args=(parent,), name="evallint-watch-parent", daemon=True).start()
    if os.getppid() != parent:
        os._exit(1)  # the parent died before this worker could notice


def _killed_with_parent() -> bool:
    """Ask Linux to kill this process when its parent dies (PR_SET_PDEATHSIG); False where it cannot."""
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


_PR_SET_PDEATHSIG = 1
# How often a worker without PR_SET_PDEATHSIG looks for its parent.
_WATCH_INTERVAL = 0.2


def _watch_parent(parent: int) -> None:
    import time

    while os.getppid() == parent:
        time.sleep(_WATCH_INTERVAL)
    os._exit(1)

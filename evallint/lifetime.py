"""Objects kept alive until the process ends, where it ends with ``os._exit``.

On a large tree a run builds millions of objects (the IR, the analysis memos,
the facts). Freeing them one by one as each step returns costs real time on the
way out: about 0.2 s of a cold run on the benchmark corpus, in the main process
and in phase 2's forked worker. The console script ends with ``os._exit`` and
its workers end the same way, so there nothing needs freeing: inside
``kept_until_exit`` the steps hand those objects to ``keep`` instead. Library
callers (the flake8 plugin, tests) never enter it, so their memory is freed as
usual.
"""

from __future__ import annotations

import contextlib
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
def pool_left_to_exit(**options):
    """A ``ProcessPoolExecutor`` whose workers, once the block is done, end on their own instead
    of being waited for. By then every result the block wanted is in, and the kernel takes tens
    of milliseconds to take down a worker that holds a copy of a large run's memory (25 ms for
    phase 2's worker on the benchmark corpus). If the block fails, the pool is waited for, as
    ``with`` would."""
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(**options)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True)
        raise
    pool.shutdown(wait=False)

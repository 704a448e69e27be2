"""How long what a run makes lives: no cyclic garbage collection during a run, and objects kept
until a hard exit. (Worker processes, which never outlive the run, are ``scheduler``'s.)

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
import gc
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
def collector_paused():
    """No cyclic garbage collection while indexing and analysing.

    Both phases allocate hundreds of thousands of long-lived, acyclic objects
    (the IR, unpickled from the workers, and the analysis states); each
    automatic collection walks all of them again (see benchmarks/README.md). Reference counting still frees everything that
    is not in a cycle. Worker processes forked meanwhile inherit the pause.

    Afterwards the run's objects are moved to the oldest generation (freeze,
    then unfreeze), not left in the youngest, where the first automatic
    collection would walk them all. Any cycles among them are still collected,
    by the next full collection.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()

"""How work runs: worker processes, forks, and what a dead worker costs.

The engine hands this module work functions; the analysis never imports it, and no result
depends on it. Two entry points, each returning results in the order of its inputs:

- ``FileRounds(jobs).map(work, tasks, lost)``: rounds of many small per-file tasks (phase 1).
  ``work`` takes a chunk of tasks and returns one result per task; ``lost(task, error)`` stands
  for a task whose worker died (``error`` None) or whose result could not come back.
- ``map_forked_in_two_steps(first, second, items, jobs)``: two large items in two steps (phase
  2's scan, then its walk). The forked worker inherits the work and the items, so only results
  travel, and keeps its item for both steps.

With one job, or where fork is missing, everything runs in this process, with the same results.
Every worker ends with the block that made it, and with this process however it ends
(``worker_pool``).
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from evallint.strict import strict

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")

# The most files in one chunk of a round (see ``_claim``).
CHUNK_FILES = 32

# Set in every worker by ``_worker_started``.
_IN_WORKER = False


def in_worker() -> bool:
    """Whether this process is one of a pool's workers."""
    return _IN_WORKER


def can_fork() -> bool:
    # macOS offers fork but system libraries may not survive it; Windows has none.
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


# -- many small tasks, in rounds -------------------------------------------------------------------


class FileRounds:
    """Runs rounds of per-file tasks on ``jobs`` CPUs: this process and ``jobs - 1`` workers,
    forked on the first round, while this process is still small, and kept for the later rounds
    (forked later, each would copy the page tables of everything the first round built).

    In a round, the workers take chunks from the start of the tasks, this process takes them from
    the end, until the two meet; shared bounds say what is left, so each task is taken once, and
    what this process does is never pickled. The chunks shrink towards the meeting point, so
    neither side waits long for the other (``_claim``). A worker appends each finished chunk to a
    spool file of its own, which this process reads between two chunks of its own: sent through
    the pool, each result would wait for this process to be between two tasks, and the workers
    would wait with it.

    A worker that dies leaves its finished chunks in its spool; what it had not finished is done
    again by one fresh worker in order, so the task that killed it is found and costs only
    itself (``lost``). Later rounds run without forked workers. Where no worker can be forked
    (one job, no fork, no spool file, Python before 3.11, whose parser could crash this process
    on a too-deep input), the chunks go to a plain pool, or run here with one job.
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.bounds = None  # what is left of a round's tasks: [first, end)
        self.directory = None
        self.spools: list[_Spool] = []
        self.pool = None
        self.exits = contextlib.ExitStack()  # the forked pool's (``worker_pool``)
        self.broken = False

    def __enter__(self) -> "FileRounds":
        return self

    def __exit__(self, failure_type, failure, traceback) -> None:
        global _shared
        _shared = None
        self.exits.__exit__(failure_type, failure, traceback)
        for spool in self.spools:
            spool.close()
        if self.directory is not None:
            self.directory.cleanup()

    def map(self, work: Callable[[list[T]], list[R]], tasks: list[T], lost: Callable[[T, BaseException | None], R]) -> list[R]:
        if self.jobs <= 1 or len(tasks) < 4:
            return work(tasks)
        from concurrent.futures.process import BrokenProcessPool

        results: list = [None] * len(tasks)
        try:
            if not self._shared_round(work, tasks, results):
                self._pooled_round(work, tasks, results)
        except BrokenProcessPool:
            pass
        _finish_one_by_one(work, tasks, results, lost)
        return results

    def _start(self) -> bool:
        """The spool files and the forked pool, made on the first round; False where they cannot be."""
        global _shared
        import tempfile

        if self.jobs < 2 or not can_fork() or sys.version_info < (3, 11):
            self.broken = True
            return False
        context = multiprocessing.get_context("fork")
        try:
            self.directory = tempfile.TemporaryDirectory(prefix="evallint-")
            self.spools = [_Spool(os.path.join(self.directory.name, str(n))) for n in range(self.jobs - 1)]
        except OSError:
            self.broken = True
            return False
        self.bounds = context.Array("q", 2)
        _shared = self.bounds  # the workers, forked at the first submit, inherit it
        self.pool = self.exits.enter_context(worker_pool(max_workers=self.jobs - 1, mp_context=context))
        return True

    def _shared_round(self, work, tasks: list, results: list) -> bool:
        """One round shared with the forked workers; False, having run nothing, where they cannot
        be had. Results left None were not delivered."""
        if self.broken or (self.pool is None and not self._start()):
            return False
        with self.bounds.get_lock():  # the last round's workers are done: none reads them now
            self.bounds[0], self.bounds[1] = 0, len(tasks)

        def take(spool: _Spool) -> None:
            for first, done in spool.records():
                results[first : first + len(done)] = done

        try:
            futures = [self.pool.submit(_run_share, spool.path, work, tasks, self.jobs) for spool in self.spools]
            while (claim := _claim(self.bounds, self.jobs, from_start=False)) is not None:
                first, end = claim
                results[first:end] = work(tasks[first:end])
                for spool in self.spools:
                    take(spool)
            for future in futures:
                try:
                    future.result()
                except Exception:
                    self.broken = True  # a dead worker: what it finished is in its spool
        finally:
            for spool in self.spools:
                take(spool)
        return True

    def _pooled_round(self, work, tasks: list, results: list) -> None:
        """Chunks sent to a plain pool (no fork); results left None were not delivered."""
        size = max(1, min(CHUNK_FILES, len(tasks) // (self.jobs * 8)))
        chunks = [range(start, min(start + size, len(tasks))) for start in range(0, len(tasks), size)]
        with worker_pool(max_workers=min(self.jobs, len(chunks))) as pool:
            futures = [(chunk, pool.submit(work, [tasks[i] for i in chunk])) for chunk in chunks]
            for chunk, future in futures:
                try:
                    done = future.result()
                except Exception:
                    continue  # a dead worker, or a result that cannot come back
                for i, result in zip(chunk, done):
                    results[i] = result


def _finish_one_by_one(work, tasks: list, results: list, lost) -> None:
    """The undelivered tasks, one fresh worker taking them in order: after a crash, the first
    unfinished task is the one that killed it, and it alone is ``lost``."""
    from concurrent.futures.process import BrokenProcessPool

    remaining = [i for i, result in enumerate(results) if result is None]
    while remaining:
        culprit = None
        with worker_pool(max_workers=1) as pool:
            futures = [(i, pool.submit(work, [tasks[i]])) for i in remaining]
            for i, future in futures:
                try:
                    results[i] = future.result()[0]
                except BrokenProcessPool:
                    culprit = i
                    break
                except Exception as error:  # it raised, or its result could not be sent back
                    results[i] = lost(tasks[i], error)
        if culprit is not None:
            results[culprit] = lost(tasks[culprit], None)
        remaining = [i for i in remaining if results[i] is None]


class _Spool:
    """A worker's spool file, read as it grows: each record is a pickled chunk after its length;
    a record not yet written in full is read later."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.handle = open(path, "w+b")  # made here, appended to by the worker
        self.offset = 0

    def records(self) -> list[tuple[int, list]]:
        import pickle

        found = []
        while True:
            self.handle.seek(self.offset)
            head = self.handle.read(8)
            size = int.from_bytes(head, "little")
            body = self.handle.read(size) if len(head) == 8 else b""
            if len(head) < 8 or len(body) < size:
                return found
            try:
                found.append(pickle.loads(body))
            except Exception:  # cannot happen to a whole record; if it does, its tasks are done again
                pass
            self.offset += 8 + size

    def close(self) -> None:
        self.handle.close()


# The bounds of the running round; its forked workers inherit them.
_shared = None


def _claim(bounds, processes: int, from_start: bool) -> tuple[int, int] | None:
    """Take the next chunk of what is left of a round, from its start or its end: a quarter of
    each process's part of what is left, at most ``CHUNK_FILES``. None once nothing is left."""
    with bounds.get_lock():
        first, end = bounds[0], bounds[1]
        if first >= end:
            return None
        size = max(1, min(CHUNK_FILES, (end - first) // (4 * processes)))
        if from_start:
            bounds[0] = first + size
            return first, first + size
        bounds[1] = end - size
        return end - size, end


def _run_share(path: str, work, tasks: list, processes: int) -> None:
    """A forked worker's share of a round: chunks from the start of what is left, until nothing
    is; each chunk's results are appended to the spool file ``path`` when done."""
    import pickle

    bounds = _shared
    with open(path, "ab") as spool:
        while (claim := _claim(bounds, processes, from_start=True)) is not None:
            first, end = claim
            try:
                data = pickle.dumps((first, work(tasks[first:end])), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:
                continue  # its tasks are done again, one by one
            # A failed write ends the share: a record after a torn one could not be found.
            spool.write(len(data).to_bytes(8, "little") + data)
            spool.flush()  # whole, even if the worker dies later


# -- a few large items, in forked workers ----------------------------------------------------------

# What the forked worker of ``map_forked_in_two_steps`` works on: set just before the fork, read from
# its copy of memory.
_inherited: tuple | None = None


def map_forked_in_two_steps(
    first: Callable[[T], R], second: Callable[[int, list[R]], S], items: Sequence[T], jobs: int
) -> tuple[list[R], list[S]]:
    """``first(item)`` for both of two items, then ``second(position, firsts)`` for both positions,
    ``firsts`` being the first step's results in order. This process takes position 0 and one
    forked worker position 1, the same worker for both steps: what its first step left (warm
    caches, the pages of this process it has already copied) serves its second, where a second
    fork would copy those pages again. Between the steps, each side is sent the other's first
    result. What the worker does not deliver is done here afterwards: the same results, later."""
    global _inherited
    if len(items) != 2:
        raise ValueError("map_forked_in_two_steps takes two items")
    missing = object()
    firsts: list = [missing, missing]
    seconds: list = [missing, missing]
    if jobs > 1 and can_fork():
        from concurrent.futures.process import BrokenProcessPool

        _inherited = (first, second, items)
        try:
            with worker_pool(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
                step_one = pool.submit(_first_step)  # forks now
                firsts[0] = first(items[0])
                # Queued at once: the worker starts its second step as soon as its first is done.
                step_two = pool.submit(_second_step, firsts[0])
                firsts[1] = _delivered(step_one, missing)
                if firsts[1] is missing:
                    step_two.cancel()
                else:
                    seconds[0] = second(0, firsts)
                    seconds[1] = _delivered(step_two, missing)
        except BrokenProcessPool:
            if strict():
                raise
        finally:
            _inherited = None
    firsts = [first(item) if result is missing else result for item, result in zip(items, firsts)]
    seconds = [second(position, firsts) if result is missing else result for position, result in enumerate(seconds)]
    return firsts, seconds


# In the worker of ``map_forked_in_two_steps``: its first step's result, for its second step.
_kept_first: list = []


def _first_step():
    first, _, items = _inherited
    _kept_first.clear()
    _kept_first.append(first(items[1]))
    return _kept_first[0]


def _second_step(theirs):
    if not _kept_first:
        raise RuntimeError("the worker's first step did not finish")
    _, second, _ = _inherited
    return second(1, [theirs, _kept_first[0]])


def _delivered(future, missing):
    """A worker's result, or ``missing`` where it died or raised."""
    try:
        return future.result()
    except Exception:
        if strict():
            raise
        return missing


# -- worker processes that never outlive the run ---------------------------------------------------


@contextlib.contextmanager
def worker_pool(max_workers: int, mp_context=None):
    """A ``ProcessPoolExecutor`` none of whose workers outlives the block or this process.

    Each worker gives up the caller's standard streams (a worker still holding a pipe that
    ``evallint . | cat`` reads would keep the reader waiting), leaves Ctrl-C to this process
    (a terminal sends it to the whole group), and ends when this process dies, however it
    dies. On the way out the pool is waited for; if the block fails (an error, Ctrl-C,
    SIGTERM) its workers are killed first, since nothing wants their results any more.
    """
    pool = _pool_class()(max_workers=max_workers, mp_context=mp_context, initializer=_worker_started, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        _stop_workers(pool)
        raise
    pool.shutdown(wait=True)


@functools.cache
def _pool_class():
    """The pool's class, made on first use (the executor's import is not for runs without workers)."""
    from concurrent.futures import ProcessPoolExecutor

    class Pool(ProcessPoolExecutor):
        """Forks its workers with Ctrl-C and SIGTERM held: a signal landing inside a fork would
        interrupt other libraries' fork handlers (logging releases its lock in one) and be lost
        there, with a traceback; held, it arrives right after the fork."""

        def _spawn_process(self):  # the executor's own step that forks one worker
            with _signals_held():
                super()._spawn_process()

    return Pool


_HELD_SIGNALS = ("SIGINT", "SIGTERM")


@contextlib.contextmanager
def _signals_held():
    import signal

    held = {getattr(signal, name) for name in _HELD_SIGNALS if hasattr(signal, name)}
    if not hasattr(signal, "pthread_sigmask") or not held:
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


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

    global _IN_WORKER
    _IN_WORKER = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # held while it forked
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

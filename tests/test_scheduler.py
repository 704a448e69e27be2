"""How work runs (evallint.scheduler): every task done once, results in order, a dead worker
costs only its own task, and no worker outlives the call."""

from __future__ import annotations

import os
import signal
import time

import pytest

from evallint import scheduler

pytestmark = pytest.mark.skipif(not scheduler.can_fork(), reason="the forked workers need fork")


def _children() -> set[int]:
    """Live child processes of this process."""
    found = set()
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        with open(f"/proc/{os.getpid()}/task/{task}/children") as handle:
            found |= {int(pid) for pid in handle.read().split()}
    return found


def _logged(log) -> list[str]:
    return log.read_text().split() if log.exists() else []


class _Square:
    """A chunk's work: each task's square, and a line per task in a log every process appends to.
    This process is the slower, so that the workers, which start at task 0, surely take some."""

    def __init__(self, log, die_on: int | None = None) -> None:
        self.log = str(log)
        self.die_on = die_on

    def __call__(self, tasks: list[int]) -> list[tuple[int, int]]:
        done = []
        for task in tasks:
            if not scheduler.in_worker():
                time.sleep(0.002)
            if task == self.die_on and scheduler.in_worker():
                os.kill(os.getpid(), signal.SIGSEGV)
            with open(self.log, "a") as handle:
                handle.write(f"{task}\n")
            done.append((task, task * task))
        return done


def _lost(task: int, error: BaseException | None) -> tuple[int, str]:
    return task, "crashed" if error is None else f"failed: {error}"


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_every_task_of_every_round_is_done_once_and_the_results_come_in_task_order(tmp_path, jobs):
    before = _children()
    with scheduler.FileRounds(jobs) as rounds:
        for number, size in enumerate([500, 3, 57]):  # the small round runs here
            log = tmp_path / f"round{number}"
            tasks = list(range(size))
            assert rounds.map(_Square(log), tasks, _lost) == [(t, t * t) for t in tasks]
            assert sorted(_logged(log), key=int) == [str(t) for t in tasks]
    assert _children() <= before


def test_a_worker_that_dies_costs_its_task_and_nothing_else(tmp_path):
    before = _children()
    tasks = list(range(300))
    with scheduler.FileRounds(2) as rounds:
        results = rounds.map(_Square(tmp_path / "first", die_on=0), tasks, _lost)
        # The workers' first chunk starts at task 0, so a worker dies on it.
        assert results == [(0, "crashed")] + [(t, t * t) for t in tasks[1:]]
        # A later round still does everything, without the forked workers.
        assert rounds.map(_Square(tmp_path / "second"), tasks, _lost) == [(t, t * t) for t in tasks]
        assert sorted(_logged(tmp_path / "second"), key=int) == [str(t) for t in tasks]
    assert _children() <= before


class _UnpicklableSeven:
    """A chunk's work whose result for task 7 cannot be pickled in a worker (a lambda); this
    process is slow, so that the workers, which start at task 0, take task 7."""

    def __call__(self, tasks: list[int]) -> list:
        if not scheduler.in_worker():
            time.sleep(0.01 * len(tasks))
        return [(t, (lambda: 0) if t == 7 and scheduler.in_worker() else t) for t in tasks]


def test_a_result_that_cannot_come_back_is_lost_alone(monkeypatch):
    monkeypatch.delenv("EVALLINT_STRICT", raising=False)
    with scheduler.FileRounds(2) as rounds:
        results = rounds.map(_UnpicklableSeven(), list(range(100)), _lost)
    assert results[7][0] == 7 and results[7][1].startswith("failed")
    assert [r for i, r in enumerate(results) if i != 7] == [(t, t) for t in range(100) if t != 7]


@pytest.mark.parametrize("jobs", [1, 2])
def test_forked_items_come_back_in_order_and_the_first_runs_here(jobs):
    here = os.getpid()
    before = _children()
    results = scheduler.map_forked(lambda item: (item * 10, os.getpid()), [1, 2], jobs)
    assert [value for value, _ in results] == [10, 20]
    assert results[0][1] == here
    assert (results[1][1] != here) == (jobs > 1)
    assert _children() <= before


@pytest.mark.parametrize("how", ["dies", "raises"])
def test_what_a_forked_worker_does_not_deliver_is_done_here(how, monkeypatch):
    monkeypatch.delenv("EVALLINT_STRICT", raising=False)
    here = os.getpid()

    def work(item):
        if os.getpid() != here:
            if how == "dies":
                os._exit(3)
            raise RuntimeError("a bug in the worker")
        return item, os.getpid()

    assert scheduler.map_forked(work, ["a", "b"], 2) == [("a", here), ("b", here)]

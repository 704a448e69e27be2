"""How work runs (evallint.scheduler): every task done once, results in order, a dead worker
costs only its own task, and no worker outlives the call."""

from __future__ import annotations

import faulthandler
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
                faulthandler.disable()  # a crash on purpose: no stack dump in the test's output
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


def _two_steps(jobs, first=None, second=None):
    """Both steps, recording where each ran: the second sees both first results."""
    first = first or (lambda item: (item * 10, os.getpid()))
    second = second or (lambda position, firsts: ([value for value, _ in firsts], position, os.getpid()))
    return scheduler.map_forked_in_two_steps(first, second, [1, 2], jobs)


@pytest.mark.parametrize("jobs", [1, 2])
def test_two_steps_come_back_in_order_and_the_first_position_runs_here(jobs):
    here = os.getpid()
    before = _children()
    firsts, seconds = _two_steps(jobs)
    assert [value for value, _ in firsts] == [10, 20]
    assert [(values, position) for values, position, _ in seconds] == [([10, 20], 0), ([10, 20], 1)]
    assert firsts[0][1] == here and seconds[0][2] == here
    # One worker takes both steps of the second position.
    assert (firsts[1][1] != here) == (jobs > 1)
    assert seconds[1][2] == firsts[1][1]
    assert _children() <= before


def test_the_worker_keeps_what_its_first_step_left_for_its_second():
    if not scheduler.can_fork():
        pytest.skip("the worker is forked only on Linux")
    here = os.getpid()
    kept = {}

    def first(item):
        kept[item] = os.getpid()  # in the memory of the process that ran this step
        return item

    firsts, seconds = _two_steps(2, first, lambda position, firsts: sorted(kept.items()))
    assert firsts == [1, 2]
    assert seconds[0] == [(1, here)]
    # The worker, forked before either first step, saw only its own, and still holds it.
    assert len(seconds[1]) == 1 and seconds[1][0][0] == 2 and seconds[1][0][1] != here


@pytest.mark.parametrize("step", [1, 2])
@pytest.mark.parametrize("how", ["dies", "raises"])
def test_what_the_forked_worker_does_not_deliver_is_done_here(how, step, monkeypatch):
    monkeypatch.delenv("EVALLINT_STRICT", raising=False)
    here = os.getpid()

    def fail_in_worker(this_step):
        if os.getpid() != here and this_step == step:
            if how == "dies":
                os._exit(3)
            raise RuntimeError("a bug in the worker")

    def first(item):
        fail_in_worker(1)
        return item, os.getpid()

    def second(position, firsts):
        fail_in_worker(2)
        return position, [item for item, _ in firsts], os.getpid()

    firsts, seconds = scheduler.map_forked_in_two_steps(first, second, ["a", "b"], 2)
    assert [item for item, _ in firsts] == ["a", "b"]
    assert seconds == [(0, ["a", "b"], here), (1, ["a", "b"], here)]
    if step == 2:
        assert firsts[1][1] != here  # its first step came back; only the second was done again here

"""Flow tests: `reveal_state(model)  # revealed: mode=eval grad=off` states what the analysis computes there.

Each file in tests/flow/ is a program with such comments; the test checks every
`reveal_state` call against its comment. `mode` lists the possible modes of the
revealed reference, `grad` the possible grad modes (several values: `train,eval`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evallint.analysis.callgraph import ProjectIndex
from evallint.analysis.driver import Analyzer
from evallint.discovery import SourcePath
from evallint.indexing import index_file
from evallint.positions import PositionTable

FLOW_DIR = Path(__file__).parent / "flow"
REVEALED = re.compile(r"#\s*revealed:\s*(.*)$")


def _revealed_states(path: Path) -> dict[int, set[str]]:
    result = index_file(SourcePath(path.name, str(path)))
    assert result.index is not None, result.error
    facts = Analyzer(ProjectIndex([result.index])).run()
    table = PositionTable.build(result, {r.node for r in facts.reveals})
    # Loops are walked until their state stops growing: a point inside one is revealed once per
    # pass, and the last pass holds everything the earlier ones saw. The union is that state.
    modes: dict[int, set[str]] = {}
    grads: dict[int, set[str]] = {}
    for reveal in facts.reveals:
        row = table.ranges[reveal.node][0].row
        modes.setdefault(row, set()).update({p.value for p in reveal.modes} if reveal.modes is not None else {"-"})
        grads.setdefault(row, set()).update({p.value for p in reveal.grad})
    return {row: {f"mode={','.join(sorted(modes[row]))} grad={','.join(sorted(grads[row]))}"} for row in modes}


FLOW_FILES = sorted(FLOW_DIR.glob("*.py"))


@pytest.mark.parametrize("path", FLOW_FILES, ids=[p.name for p in FLOW_FILES])
def test_revealed_states(path):
    expected = {}
    for row, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = REVEALED.search(line)
        if match:
            expected[row] = {" ".join(match.group(1).split())}
    assert expected, "a flow test file needs `# revealed:` comments"
    actual = _revealed_states(path)
    assert {row: actual.get(row) for row in expected} == expected


def test_a_loop_with_more_possibilities_than_a_join_keeps_reaches_its_fixpoint(tmp_path):
    """Past MAX_POSSIBILITIES a join keeps one possibility per value. A loop head recomputed
    from the loop's entry alone then alternates between the widened state and the full one
    until the iteration limit; joined with the previous head it only grows, and stops."""
    from evallint.analysis.flow import MAX_LOOP_ITERATIONS
    from evallint.analysis.lattice import MAX_POSSIBILITIES

    lines = ["def run(model, loader, flags, optimizer):"]
    for i in range(MAX_POSSIBILITIES - 3):  # switches before the loop: the entry alone holds many
        lines += [f"    if flags[{i}]:", "        model.eval()", "    else:", "        model.train()"]
    lines.append("    for batch in loader:")
    lines.append("        reveal_state(model)")
    for i in range(7):  # and the body adds more on every pass
        lines += [f"        if flags[{100 + i}]:", "            model.eval()"]
    lines += ["        loss = model(batch)", "        loss.backward()", "        optimizer.step()"]
    path = tmp_path / "many_switches.py"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = index_file(SourcePath(path.name, str(path)))
    facts = Analyzer(ProjectIndex([result.index])).run()
    passes = len(facts.reveals)  # the reveal is recorded once per pass over the loop body
    assert 2 <= passes < MAX_LOOP_ITERATIONS
    assert {p.value for reveal in facts.reveals for p in reveal.modes} == {"eval", "train"}


def _possibilities_that_differ_in_loops_crossed():
    from evallint.analysis.lattice import EVAL, SET_BY_CALL, Origin, Poss

    origin = Origin(SET_BY_CALL, "train.py", 7, "fit")
    loops = [("train.py", node) for node in (3, 11, 19, 27)]
    # No set among them holds another: by inclusion, none comes first.
    crossed = [*(frozenset({loop}) for loop in loops), frozenset(loops[:2]), frozenset(loops[2:])]
    return [Poss(EVAL, origin, (), marks) for marks in crossed]


def test_possibilities_sort_the_same_whatever_order_they_come_in():
    """Sets compare by inclusion, which is no total order: sorted by their ``carried`` sets,
    possibilities came out in the order they went in, and so a widened join or a message kept
    whichever a set of them listed first."""
    import itertools
    import random

    possibilities = _possibilities_that_differ_in_loops_crossed()
    orders = {tuple(sorted(p)) for p in itertools.permutations(possibilities)}
    assert len(orders) == 1
    shuffled = list(possibilities)
    for seed in range(20):
        random.Random(seed).shuffle(shuffled)
        assert sorted(shuffled) == sorted(possibilities)


def test_a_widened_join_keeps_the_same_possibility_in_every_process():
    """A set of possibilities is iterated in an order that changes with each process's string
    hashing; the possibility a widened join keeps must not."""
    import os
    import subprocess
    import sys

    program = (
        "from tests.test_flow import _possibilities_that_differ_in_loops_crossed as make\n"
        "from evallint.analysis.lattice import GRAD_ON, MAX_POSSIBILITIES, Origin, Poss, join_facts\n"
        "many = make()\n"
        "filler = [Poss(GRAD_ON, Origin('default', 'f.py', n)) for n in range(MAX_POSSIBILITIES)]\n"
        "kept = join_facts(frozenset(many), frozenset(filler))\n"
        "print(sorted((p.value, p.origin.node, sorted(p.carried)) for p in kept))\n"
    )
    root = Path(__file__).parent.parent
    outputs = set()
    for seed in ("1", "2", "3", "4", "5", "6"):
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", program], cwd=root, env=environment, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_what_a_callee_hands_back_carries_no_marks_of_its_own_loops(tmp_path):
    """A possibility's `carried` marks tell a training step that a mode crossed the back edge of
    the loop around it. The loops of a function that has returned are around nothing: a caller
    sees marks of its own loops only (otherwise each pass of its loop is a new entry state for
    the callees it calls, and the walk splits its memo for nothing)."""
    path = tmp_path / "loops_in_callee.py"
    path.write_text(
        "def warm_up(model, loader):\n"
        "    for batch in loader:\n"
        "        model.eval()\n"
        "        model(batch)\n"
        "\n"
        "\n"
        "def train(model, loader):\n"
        "    for epoch in range(3):\n"
        "        warm_up(model, loader)\n"
        "        reveal_state(model)\n"
        "        model(loader).sum().backward()\n",
        encoding="utf-8",
    )
    result = index_file(SourcePath(path.name, str(path)))
    analyzer = Analyzer(ProjectIndex([result.index]))
    facts = analyzer.run()
    functions = analyzer.project.functions
    train_loops = analyzer.evidence.own_loops(functions[f"{path.name}::train"])
    warm_up_loops = analyzer.evidence.own_loops(functions[f"{path.name}::warm_up"])
    assert train_loops and warm_up_loops and not train_loops & warm_up_loops
    marks = {mark for reveal in facts.reveals for p in reveal.modes for mark in p.carried}
    assert marks == train_loops  # what warm_up left crossed train's (training) loop, and only that
    # warm_up's loop may run no pass: the model leaves it in eval, or as it came.
    assert {p.value for reveal in facts.reveals for p in reveal.modes} == {"eval", "train"}

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
from evallint.analysis.summaries import Analyzer
from evallint.discovery import SourcePath
from evallint.engine import index_file
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

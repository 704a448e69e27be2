"""A class or function defined twice in one file (a notebook's later cell improves it): module-level
code uses the definition above it, as Python runs it; code in functions sees the last one."""

from __future__ import annotations

import ast
import textwrap

from evallint.analysis.callgraph import ProjectIndex
from evallint.analysis.index import index_module
from evallint.config import Settings
from evallint.engine import lint_paths

SOURCE = textwrap.dedent(
    """
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

    first = Net()

    def evaluate(net):
        return net(1)

    class Net(nn.Module):
        def forward(self, x):
            return x

    def evaluate(net):
        return net(2)

    second = Net()
    evaluate(second)
    """
)


def test_each_definition_is_kept_and_module_level_code_reaches_the_one_above_it():
    index = index_module("/p/nb.py", "nb", False, ast.parse(SOURCE))
    classes = [c.qualname for c in index.classes]
    assert classes[0].startswith("Net@") and classes[1] == "Net"
    functions = {f.qualname for f in index.functions}
    assert {"Net.forward", "evaluate", f"{classes[0]}.__init__"} <= functions
    assert any(name.startswith("evaluate@") for name in functions)
    module = next(f for f in index.functions if f.qualname == "<module>")
    constructors = [s.func for s in module.body if getattr(s, "func", None) in ("Net", classes[0])]
    assert constructors == [classes[0], "Net"]  # `first = Net()` is the first class, `second = Net()` the last
    project = ProjectIndex([index])
    assert project.toplevel["/p/nb.py"]["Net"] == "/p/nb.py::Net"
    assert project.methods[f"/p/nb.py::{classes[0]}"] == {"__init__": f"/p/nb.py::{classes[0]}.__init__"}


def test_the_earlier_of_two_evaluation_helpers_is_the_one_that_ran(tmp_path):
    """The first `evaluate` forgot eval() and ran between the two definitions; the finding is
    on its forward, and its message names it as the user wrote it."""
    path = tmp_path / "lesson.py"
    path.write_text(textwrap.dedent(
        """
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


        def evaluate(net):
            with torch.no_grad():
                return net(torch.randn(5, 4)).argmax(1)


        for step in range(3):
            loss = model(torch.randn(5, 4)).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(evaluate(model))


        def evaluate(net):
            net.eval()
            with torch.no_grad():
                return net(torch.randn(5, 4)).argmax(1)
        """
    ))
    diagnostics = lint_paths([str(path)], Settings(project_root=str(tmp_path)), jobs=1)
    assert [(d.code, d.location.row) for d in diagnostics] == [("EVL101", 11)]
    assert "in evaluate():" in diagnostics[0].message and "@" not in diagnostics[0].message

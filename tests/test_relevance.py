"""Roots that cannot lead to a finding are not walked; every route to one is kept.

The walk resolves some calls only through what it tracks (an instance's class,
a function passed as a value, a subclass override): each test below hides the
evaluation code behind one such route and checks both that the root is kept
and that the finding is still reported.
"""

from __future__ import annotations

import textwrap

from evallint.analysis.callgraph import ProjectIndex, function_id
from evallint.analysis.relevance import relevant_functions
from evallint.analysis.driver import Analyzer
from evallint.discovery import SourcePath
from evallint.indexing import index_file

from .conftest import expected_findings, found


def _relevant(tmp_path, source: str) -> set[str]:
    path = tmp_path / "project.py"
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    result = index_file(SourcePath("project.py", str(path)))
    assert result.index is not None, result.error
    return {fid.split("::")[1] for fid in relevant_functions(Analyzer(ProjectIndex([result.index])).scan())}


LIBRARY = """
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        return self.drop(self.fc(x))


def build(depth):
    return nn.Sequential(*[Block() for _ in range(depth)])


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())
"""


def test_a_model_library_has_nothing_to_walk(tmp_path):
    assert _relevant(tmp_path, LIBRARY) == set()


def test_sources_and_their_callers_are_kept(tmp_path):
    relevant = _relevant(tmp_path, LIBRARY + """

def validate(model, loader):
    model.eval()
    with torch.no_grad():
        return [model(x) for x in loader]


def report(model, loader):
    return validate(model, loader)


def fit_step(model, optimizer, x):
    model(x).sum().backward()
    optimizer.step()


def over_data(model, val_loader):
    for x in val_loader:
        model(x)
""")
    assert {"validate", "report", "fit_step", "over_data"} <= relevant
    assert not {"Block.forward", "build", "count_parameters"} & relevant


def test_relevant_through_an_instance_method(lint):
    source = """
    import torch
    import torch.nn as nn

    class Runner:
        def __init__(self, model):
            self.model = model

        def validate(self, x):
            return self.model(x)  # EVL101, EVL201

    def main():
        model = nn.Sequential(nn.Linear(4, 4), nn.Dropout())
        runner = Runner(model)
        runner.validate(torch.randn(2, 4))
    """
    assert found(lint(source)) == expected_findings(textwrap.dedent(source).lstrip("\n"))


def test_relevant_through_a_function_passed_as_a_value(lint):
    source = """
    import torch
    import torch.nn as nn

    def evaluate(model, x):
        return model(x)  # EVL101, EVL201

    def run_hook(hook, model):
        hook(model, torch.randn(2, 4))

    def main():
        model = nn.Sequential(nn.Linear(4, 4), nn.Dropout())
        model.train()
        run_hook(evaluate, model)
    """
    assert found(lint(source)) == expected_findings(textwrap.dedent(source).lstrip("\n"))


def test_relevant_through_a_subclass_override(lint):
    source = """
    import torch
    import torch.nn as nn

    class Loop:
        def __init__(self):
            self.model = nn.Sequential(nn.Linear(4, 4), nn.Dropout())

        def run(self):
            self.model.train()
            self.epoch_end()

        def epoch_end(self):
            pass

    class ValidatingLoop(Loop):
        def epoch_end(self):
            self.validate()

        def validate(self):
            with torch.no_grad():
                self.model(torch.randn(2, 4))  # EVL101
    """
    assert found(lint(source)) == expected_findings(textwrap.dedent(source).lstrip("\n"))


def test_an_instance_route_keeps_its_root(tmp_path):
    relevant = _relevant(tmp_path, """
import torch

class Runner:
    def validate(self, model, x):
        with torch.no_grad():
            return model(x)

def main(model):
    runner = Runner()
    return runner.validate(model, 1)

def unrelated(model):
    return model.parameters()
""")
    assert {"Runner.validate", "main"} <= relevant
    assert "unrelated" not in relevant
    assert function_id("project.py", "main") == "project.py::main"


def test_only_roots_that_reach_the_reported_files_are_walked(tmp_path):
    files = {
        "a.py": "import torch\n\ndef validate_a(model, x):\n    with torch.no_grad():\n        return model(x)\n",
        "b.py": "import torch\n\ndef validate_b(model, x):\n    with torch.no_grad():\n        return model(x)\n",
        "main.py": "from a import validate_a\n\ndef run(model, x):\n    return validate_a(model, x)\n",
    }
    indexes = []
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        indexes.append(index_file(SourcePath(name, str(tmp_path / name))).index)
    analyzer = Analyzer(ProjectIndex(indexes))
    assert analyzer.roots() == ["b.py::validate_b", "main.py::run"]
    assert analyzer.roots(frozenset({"a.py"})) == ["main.py::run"]
    assert not [fid for fid in analyzer.roots(frozenset({"b.py"})) if fid.startswith("main")]


def test_the_test_suite_is_no_root_and_what_only_it_calls_is_one(tmp_path):
    # The test suite's own findings are never reported, so it is not walked; the project's
    # `evaluate`, which only a test calls, is judged as code whose callers evallint does not see.
    files = {
        "lib.py": "import torch\n\ndef evaluate(model, x):\n    with torch.no_grad():\n        return model(x)\n",
        "tests/__init__.py": "",
        "tests/test_lib.py": "import torch.nn as nn\nfrom lib import evaluate\n\n"
        "def test_evaluate():\n    evaluate(nn.Dropout(), 1)\n",
    }
    indexes = []
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
        indexes.append(index_file(SourcePath(name, str(tmp_path / name))).index)
    assert Analyzer(ProjectIndex(indexes)).roots() == ["lib.py::evaluate"]

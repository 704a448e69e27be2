"""One analysis per run: its limits and the callers its messages name depend on the project
alone, not on how the work is split between processes."""

from __future__ import annotations

from evallint.analysis.callgraph import ProjectIndex
from evallint.analysis.driver import MAX_CONTEXTS_PER_FUNCTION, ROOT_PARTS, Analyzer
from evallint.config import Settings
from evallint.discovery import SourcePath
from evallint.engine import run
from evallint.indexing import index_file

HELPER = "def evaluate(model, batch):\n    return model(batch)\n"


def _caller(number: int, padding: int = 0) -> str:
    # Each caller builds its own model: a different entry state for `evaluate` per caller.
    lines = ["import torch.nn as nn", "from helper import evaluate", "", f"def main_{number}(batch):"]
    lines += [f"    step_{i} = {i}" for i in range(padding)]
    lines += ["    model = nn.Dropout()", "    return evaluate(model, batch)"]
    return "\n".join(lines) + "\n"


def _project(tmp_path, files: dict[str, str]) -> ProjectIndex:
    indexes = []
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        indexes.append(index_file(SourcePath(name, str(tmp_path / name))).index)
    return ProjectIndex(indexes)


def test_a_functions_entry_contexts_are_limited_per_part_of_the_roots(tmp_path):
    files = {"helper.py": HELPER, **{f"caller_{n:02}.py": _caller(n) for n in range((MAX_CONTEXTS_PER_FUNCTION + 2) * 2)}}
    analyzer = Analyzer(_project(tmp_path, files))
    facts = analyzer.run()
    walked_from = sorted(f.caller.file for f in facts.forwards if f.function == "evaluate")
    # Each part's first callers in path order get the helper walked in their state; the rest of
    # the part see an unresolved call. The parts are fixed by the code, whatever --jobs says.
    parts = analyzer.root_parts(analyzer.roots())
    assert len(parts) == ROOT_PARTS and all(len(part) > MAX_CONTEXTS_PER_FUNCTION for part in parts)
    assert walked_from == [root.split("::")[0] for part in parts for root in part[:MAX_CONTEXTS_PER_FUNCTION]]


def test_the_parts_of_the_roots_are_runs_in_path_order_cut_between_files(tmp_path):
    files = {f"caller_{n:02}.py": _caller(n) + _caller(n + 100) for n in range(9)}
    analyzer = Analyzer(_project(tmp_path, {"helper.py": HELPER, **files}))
    roots = analyzer.roots()
    parts = analyzer.root_parts(roots)
    assert [root for part in parts for root in part] == roots
    assert {root.split("::")[0] for root in parts[0]}.isdisjoint(root.split("::")[0] for root in parts[1])


def test_the_caller_a_message_names_is_the_first_in_path_order(tmp_path):
    helper = "import torch.nn as nn\n\n\ndef evaluate(model, batch):\n    return model(batch)\n"
    shared = "import torch.nn as nn\nfrom helper import evaluate\n\nmodel = nn.Dropout()\n"
    # Both callers hand over the same module in the same state: one walk of the helper, whose
    # finding names one of them. The second file's caller is much the larger.
    files = {
        "helper.py": helper,
        "models.py": shared,
        "a_small.py": "from models import model\nfrom helper import evaluate\n\n\ndef run_a(batch):\n    return evaluate(model, batch)\n",
        "b_large.py": "from models import model\nfrom helper import evaluate\n\n\ndef run_b(batch):\n"
        + "".join(f"    step_{i} = {i}\n" for i in range(200))
        + "    return evaluate(model, batch)\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    settings = Settings(project_root=str(tmp_path))
    for jobs in (1, 2):
        messages = [d.message for d in run([str(tmp_path)], settings, jobs).diagnostics if d.path.endswith("helper.py")]
        assert messages and all("reached from run_a()" in message for message in messages), messages


def test_a_function_in_a_call_cycle_trains_whichever_function_is_asked_first(tmp_path):
    from evallint.analysis.evidence import Evidence

    text = (
        "def first(model, optimizer):\n    second(model, optimizer)\n    optimizer.step()\n\n\n"
        "def second(model, optimizer):\n    if model:\n        first(model, optimizer)\n\n\n"
        "def third(model):\n    return model\n"
    )
    for order in (["cycle.py::first", "cycle.py::second"], ["cycle.py::second", "cycle.py::first"]):
        evidence = Evidence(_project(tmp_path, {"cycle.py": text}))
        assert [evidence.trains(fid, steps_only=True) for fid in order] == [True, True]
        assert not evidence.trains("cycle.py::third")


GRAD_MODES = '''
import torch
import torch.nn as nn


def checkpoint_name(name):
    return name + ".pt"


def predict(model, batch):
    return model(batch)


def evaluate(batch):
    model = nn.Dropout()
    model.eval()
    with torch.no_grad():
        checkpoint_name("a")
        quiet = predict(model, batch)
    with torch.inference_mode():
        checkpoint_name("a")
    checkpoint_name("a")
    return quiet, predict(model, batch)
'''


def test_a_walk_that_never_reads_the_grad_mode_is_reused_under_another(tmp_path, monkeypatch):
    from evallint.analysis import interpreter

    walked = []
    run_walk = interpreter.Interpreter.run
    monkeypatch.setattr(interpreter.Interpreter, "run", lambda self, entry: walked.append(self.fn.info.name) or run_walk(self, entry))
    facts = Analyzer(_project(tmp_path, {"evaluation.py": GRAD_MODES})).run()
    # Three grad modes reach `checkpoint_name`, which runs no model: one walk serves all three.
    # `predict` runs the model, so each grad mode gets a walk of its own, and its own verdict.
    assert walked.count("checkpoint_name") == 1
    assert walked.count("predict") == 2
    grads = sorted(tuple(sorted(p.value for p in f.grad)) for f in facts.forwards if f.function == "predict")
    assert grads == [("off",), ("on",)]

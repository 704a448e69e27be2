"""Property tests: generated programs never crash evallint, results are deterministic, fixes are sound.

Two sources of programs: hypothesmith (arbitrary valid Python from the grammar,
with a training-code tail so the analysis engages) and a generator of
training-code shapes (models, evaluation functions, loops, the seven bugs),
written with random newlines, indentation, encodings, BOMs and permissions.

CI runs a small, derandomized budget (the whole module takes about a minute on
two cores). `EVALLINT_FUZZ=long` runs many more random examples; a failure
prints the program, and hypothesis prints the seed to reproduce it.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import random
import stat
import tempfile
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from unittest import mock

from evallint import apply_fixes

from evallint.config import Settings
from evallint.engine import lint_paths, run
from evallint.runner import CheckOptions, run_check

LONG = os.environ.get("EVALLINT_FUZZ") == "long"


def budget(ci: int, long: int):
    return settings(
        max_examples=long if LONG else ci,
        deadline=None,
        derandomize=not LONG,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# A forward in an evaluation function, so that every generated file goes through the whole analysis.
TAIL = "\n\nimport torch\n\ndef validate(model, loader):\n    return [model(x) for x in loader]\n"

NAMES = st.sampled_from(["model", "net", "self.model", "generator", "ema_model", "encoder", "m"])
LOADERS = st.sampled_from(["val_loader", "test_loader", "loader", "train_loader", "batches"])


@st.composite
def training_programs(draw) -> str:
    """Training-code shapes with the bugs evallint finds and the look-alikes it must accept."""
    model = draw(NAMES.filter(lambda n: not n.startswith("self.")))
    loader = draw(LOADERS)
    pieces = ["import torch", "import torch.nn as nn", ""]
    if draw(st.booleans()):
        pieces.append(f"{model} = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))")
    statements = st.sampled_from(
        [
            f"{model}.eval()",
            f"{model}.eval",
            f"{model}.train()",
            f"{model}.train(False)",
            f"{model}.train",
            "torch.no_grad()",
            "torch.inference_mode()",
            "torch.set_grad_enabled(False)",
            f"out = {model}(x)",
            "loss = out.sum()",
            "loss.backward()",
            "optimizer.step()",
            "optimizer.zero_grad()",
            "pass",
            "metrics.append(out)",
            f"{model}.requires_grad_(False)",
        ]
    )
    headers = st.sampled_from(
        [
            "with torch.no_grad():",
            "with torch.no_grad:",
            "with torch.inference_mode():",
            "with torch.enable_grad():",
            "with torch.set_grad_enabled(phase == 'train'):",
            f"for x in {loader}:",
            "if epoch % 2 == 0:",
            "while step < 10:",
            "try:",
        ]
    )

    def block(depth: int) -> list[str]:
        lines = []
        for _ in range(draw(st.integers(1, 4))):
            if depth < 3 and draw(st.integers(0, 3)) == 0:
                header = draw(headers)
                lines.append(header)
                lines.extend("    " + line for line in block(depth + 1))
                if header == "try:":
                    lines.append("finally:")
                    lines.append(f"    {model}.train()")
            else:
                lines.append(draw(statements))
        return lines

    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(["validate", "evaluate", "train_one_epoch", "test", "predict", "step", "fit"]))
        name += str(draw(st.integers(0, 9)))
        pieces.append("")
        decorator = draw(st.sampled_from(["", "@torch.no_grad()", "@torch.no_grad", "@torch.inference_mode()"]))
        if decorator:
            pieces.append(decorator)
        pieces.append(f"def {name}({model}, {loader}, optimizer, metrics, epoch, phase, step):")
        pieces.extend("    " + line for line in block(1))
    if draw(st.booleans()):
        pieces.append("")
        pieces.extend(block(0))
    return "\n".join(pieces) + "\n"


@st.composite
def file_forms(draw) -> dict:
    """How a file is written: newline style, indentation, encoding, BOM, permissions."""
    return {
        "newline": draw(st.sampled_from(["\n", "\r\n"])),
        "tabs": draw(st.booleans()),
        "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"])),
        "mode": draw(st.sampled_from([0o644, 0o600, 0o755, 0o664])),
        "trailing_newline": draw(st.booleans()),
    }


def render(source: str, form: dict) -> bytes:
    if form["tabs"]:
        source = "\n".join(_tabs(line) for line in source.split("\n"))
    if not form["trailing_newline"]:
        source = source.rstrip("\n")
    if form["encoding"] == "latin-1":
        source = "# -*- coding: latin-1 -*-\n" + source + "\nlabel = 'caf\u00e9'\n"
    source = source.replace("\n", form["newline"])
    return source.encode(form["encoding"])


def _tabs(line: str) -> str:
    stripped = line.lstrip(" ")
    return "\t" * ((len(line) - len(stripped)) // 4) + stripped


# Each generated example gets its own project directory under one directory per test module,
# which pytest's temporary-path retention removes (function-scoped fixtures would be shared by
# all of a test's examples).
_PROJECTS: Path | None = None


@pytest.fixture(scope="module", autouse=True)
def _projects_directory(tmp_path_factory):
    global _PROJECTS
    _PROJECTS = tmp_path_factory.mktemp("fuzz")
    yield
    _PROJECTS = None


def _project(files: dict[str, bytes]) -> Path:
    assert _PROJECTS is not None
    root = Path(tempfile.mkdtemp(prefix="project-", dir=_PROJECTS))
    (root / "pyproject.toml").write_text("[project]\nname = 'fuzz'\n")
    for name, data in files.items():
        (root / name).write_bytes(data)
    return root


def _lint(root: Path, paths: list[str] | None = None, jobs: int = 1):
    return lint_paths(paths or [str(root)], Settings(project_root=str(root)), jobs=jobs)


def _lint_with_fix_edits(root: Path):
    """Diagnostics whose unsafe fixes carry their edits too (the API computes those only on request)."""
    return run([str(root)], Settings(project_root=str(root)), jobs=1, unsafe_fixes="edits").diagnostics


def _key(diagnostics) -> list:
    return [(Path(d.path).name, d.cell, d.location, d.end_location, d.code, d.message, d.fix) for d in diagnostics]


# -- the linter never raises -------------------------------------------------------------------------------


@budget(ci=120, long=3000)
@given(source=hypothesmith.from_grammar())
def test_generated_python_never_crashes_the_linter(source):
    root = _project({"generated.py": source.encode("utf-8", "surrogatepass"),
                     "with_tail.py": (source.rstrip("\n") + TAIL).encode("utf-8", "surrogatepass")})
    diagnostics = _lint(root)  # the test suite's strict switch turns internal errors into exceptions
    for diagnostic in diagnostics:
        assert diagnostic.location.row >= 1 and diagnostic.location.column >= 1


@budget(ci=60, long=1500)
@given(source=hypothesmith.from_node())
def test_generated_libcst_trees_never_crash_the_linter(source):
    root = _project({"generated.py": (source.rstrip("\n") + TAIL).encode("utf-8", "surrogatepass")})
    _lint(root)


@budget(ci=60, long=2000)
@given(data=st.binary(max_size=400) | st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_arbitrary_bytes_never_crash_the_linter(data):
    root = _project({"noise.py": data, "noise.ipynb": data, "noisy_tail.py": data + TAIL.encode()})
    diagnostics = _lint(root)
    assert {d.code for d in diagnostics if Path(d.path).name == "noise.ipynb"} <= {"EVL001"}


# -- determinism --------------------------------------------------------------------------------------------


@budget(ci=25, long=400)
@given(programs=st.lists(training_programs(), min_size=2, max_size=5), seed=st.randoms(use_true_random=False))
def test_findings_do_not_depend_on_run_count_file_order_or_jobs(programs, seed: random.Random):
    root = _project({f"module_{index}.py": program.encode() for index, program in enumerate(programs)})
    first = _key(_lint(root))
    event("with findings" if first else "no findings")
    assert _key(_lint(root)) == first
    files = sorted(str(path) for path in root.glob("*.py"))
    seed.shuffle(files)
    assert _key(_lint(root, files)) == first


@budget(ci=6, long=60)
@given(programs=st.lists(training_programs(), min_size=4, max_size=8))
def test_worker_processes_give_the_same_findings(programs):
    root = _project({f"module_{index}.py": program.encode() for index, program in enumerate(programs)})
    assert _key(_lint(root, jobs=2)) == _key(_lint(root, jobs=1))


# -- fixes ----------------------------------------------------------------------------------------------------


def _fix(root: Path) -> str:
    """Run `evallint --fix --unsafe-fixes` on ``root``; what it printed to stderr."""
    errors = io.StringIO()
    options = CheckOptions(paths=[str(root)], fix=True, unsafe_fixes=True, no_cache=True,
                           output_file=str(root.parent / f"{root.name}.report"), quiet=True)
    with contextlib.redirect_stderr(errors):
        run_check(options)
    return errors.getvalue()


def _touched_rows(diagnostics, name: str) -> set[int]:
    rows = set()
    for diagnostic in diagnostics:
        if Path(diagnostic.path).name == name and diagnostic.fix is not None:
            for edit in diagnostic.fix.edits:
                rows.update(range(edit.location.row, edit.end_location.row + 1))
    return rows


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _assert_changed_only(old: str, new: str, touched: set[int]) -> None:
    """Everything outside the rows the round's edits named is byte-for-byte the same."""
    old_lines, new_lines = _lines(old), _lines(new)
    prefix = 0
    while prefix < min(len(old_lines), len(new_lines)) and old_lines[prefix] == new_lines[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(old_lines), len(new_lines)) - prefix and old_lines[-1 - suffix] == new_lines[-1 - suffix]:
        suffix += 1
    first_changed_row, last_changed_row = prefix + 1, len(old_lines) - suffix
    if last_changed_row >= first_changed_row:  # some original rows were replaced, not only new ones inserted
        assert min(touched) <= first_changed_row and last_changed_row <= max(touched), (
            touched, first_changed_row, last_changed_row, old, new)
    else:  # pure insertion: it lies next to a row an edit named
        assert min(touched) - 1 <= first_changed_row <= max(touched) + 1, (touched, first_changed_row, old, new)


@budget(ci=40, long=800)
@given(program=training_programs(), form=file_forms())
def test_fixes_parse_stay_local_keep_the_file_form_and_settle(program, form):
    original = render(program, form)
    bystander = b"import torch\n\nVALUE = 1\n"  # nothing to fix here: it must not be rewritten
    root = _project({"train.py": original, "bystander.py": bystander})
    os.chmod(root / "train.py", form["mode"])
    bystander_stat = os.stat(root / "bystander.py")
    # One round of the fix loop at a time, so that each round's edits can be checked against what it changed.
    rounds, round_limit = 0, apply_fixes.MAX_ROUNDS
    with mock.patch.object(apply_fixes, "MAX_ROUNDS", 1):
        while True:
            before_round = (root / "train.py").read_bytes()
            touched = _touched_rows(_lint_with_fix_edits(root), "train.py")
            notes = _fix(root)
            assert "would not parse" not in notes, notes
            assert "not written" not in notes, notes
            after_round = (root / "train.py").read_bytes()
            if after_round == before_round:
                break
            rounds += 1
            assert rounds <= round_limit, "the fixes do not settle"
            assert touched, "a file was rewritten although no finding had a fix"
            _assert_changed_only(before_round.decode(form["encoding"]), after_round.decode(form["encoding"]), touched)
    fixed = (root / "train.py").read_bytes()
    encoding = form["encoding"]
    event("fixes written" if fixed != original else "nothing to fix")

    # The bytes still decode the same way and parse.
    if encoding == "utf-8-sig":
        assert fixed.startswith(b"\xef\xbb\xbf")
    else:
        assert not fixed.startswith(b"\xef\xbb\xbf")
    text = fixed.decode(encoding)
    ast.parse(text)
    # Newline style kept.
    if form["newline"] == "\r\n":
        assert "\n" not in text.replace("\r\n", "")
    else:
        assert "\r" not in text
    # Permissions kept; the untouched file was not rewritten.
    assert stat.S_IMODE(os.stat(root / "train.py").st_mode) == form["mode"]
    after_stat = os.stat(root / "bystander.py")
    assert (after_stat.st_ino, after_stat.st_mtime_ns) == (bystander_stat.st_ino, bystander_stat.st_mtime_ns)
    assert (root / "bystander.py").read_bytes() == bystander
    assert not list(root.glob(".evallint-*")), "a temporary file was left behind"

    # A second run has nothing left to fix and changes nothing.
    _fix(root)
    assert (root / "train.py").read_bytes() == fixed

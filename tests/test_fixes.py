"""Fix goldens: every ``tests/fix_goldens/*.in.py`` fixed with `--fix --unsafe-fixes` must equal its ``.out.py``.

Regenerate the goldens with ``EVALLINT_UPDATE_GOLDENS=1 pytest tests/test_fixes.py`` and review the diff.
A golden named ``evlNNN_*`` must have an EVLNNN finding with a fix before, and none after.
Also here: the file-safety promises of `--fix` (encoding, BOM, newlines, permissions, atomic
writes, nothing written by `--diff` or a plain run) and the edit application itself.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from evallint.apply_fixes import select_fixes
from evallint.edits import apply_edits
from evallint.cli import main
from evallint.types import Diagnostic, Edit, Fix, Location

GOLDENS = Path(__file__).parent / "fix_goldens"
CASES = sorted(GOLDENS.glob("*.in.py"))
UPDATE = os.environ.get("EVALLINT_UPDATE_GOLDENS") == "1"


def evallint(*args: str, cwd: Path) -> tuple[int, str]:
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(previous)
    return result.exit_code, result.output


def lint_json(path: Path) -> list[dict]:
    _, output = evallint("--output-format", "json", "--exit-zero", path.name, cwd=path.parent)
    return json.loads(output)


def test_goldens_are_discovered():
    assert len(CASES) >= 8
    for case in CASES:
        assert case.name[:6] in {"evl101", "evl102", "evl104", "evl201", "evl202"}, case.name


@pytest.mark.parametrize("case", CASES, ids=[c.name[: -len(".in.py")] for c in CASES])
def test_fix_golden(case: Path, tmp_path: Path):
    code = case.name[:6].upper()
    target = tmp_path / (case.name[: -len(".in.py")] + ".py")
    shutil.copyfile(case, target)
    before = lint_json(target)
    assert any(d["code"] == code and d["fix"] for d in before), f"{case.name}: no fixable {code} finding"

    evallint("--fix", "--unsafe-fixes", "--exit-zero", target.name, cwd=tmp_path)
    fixed = target.read_bytes()
    golden = case.with_name(case.name.replace(".in.py", ".out.py"))
    if UPDATE:
        golden.write_bytes(fixed)
    assert golden.exists(), f"no golden for {case.name}; run with EVALLINT_UPDATE_GOLDENS=1"
    assert fixed == golden.read_bytes()

    after = lint_json(target)
    assert not any(d["code"] == code for d in after), after
    assert not any(d["fix"] for d in after), "a fix is still offered after fixing"
    evallint("--fix", "--unsafe-fixes", "--exit-zero", target.name, cwd=tmp_path)
    assert target.read_bytes() == fixed, "a second --fix changed the file"


def test_every_golden_has_an_input():
    for golden in GOLDENS.glob("*.out.py"):
        assert golden.with_name(golden.name.replace(".out.py", ".in.py")).exists(), golden.name


EVAL_WITHOUT_PARENS = "import torch\n\n\ndef validate(model, x):\n    model.eval\n    with torch.no_grad():\n        return model(x)\n"


def test_fix_keeps_encoding_bom_crlf_and_permissions(tmp_path: Path):
    latin = tmp_path / "latin.py"
    source = "# -*- coding: latin-1 -*-\n# café\n" + EVAL_WITHOUT_PARENS
    latin.write_bytes(source.replace("\n", "\r\n").encode("latin-1"))
    latin.chmod(0o754)
    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbf" + EVAL_WITHOUT_PARENS.encode())
    status, _ = evallint("--fix", "latin.py", "bom.py", cwd=tmp_path)
    assert status == 0
    expected = source.replace("model.eval\n", "model.eval()\n").replace("\n", "\r\n").encode("latin-1")
    assert latin.read_bytes() == expected
    assert stat.S_IMODE(latin.stat().st_mode) == 0o754
    assert bom.read_bytes() == b"\xef\xbb\xbf" + EVAL_WITHOUT_PARENS.replace("model.eval\n", "model.eval()\n").encode()
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != ".evallint_cache")
    assert left == ["bom.py", "latin.py"], "a temporary file was left"


def test_only_files_with_applied_fixes_are_written(tmp_path: Path):
    fixable = tmp_path / "fixable.py"
    fixable.write_text(EVAL_WITHOUT_PARENS)
    clean = tmp_path / "clean.py"
    clean.write_text("x = 1\n")
    unsafe_only = tmp_path / "unsafe_only.py"
    unsafe_only.write_text("import torch\n\ndef validate(model, x):\n    model.eval()\n    return model(x)\n")
    times = {p: p.stat().st_mtime_ns for p in (clean, unsafe_only)}
    inodes = {p: p.stat().st_ino for p in (clean, unsafe_only)}
    os.utime(clean, ns=(1, 1))
    os.utime(unsafe_only, ns=(1, 1))
    status, output = evallint("--fix", ".", cwd=tmp_path)
    assert "model.eval()" in fixable.read_text()
    for path in (clean, unsafe_only):
        assert path.stat().st_mtime_ns == 1 and path.stat().st_ino == inodes[path]
    assert "1 fixed" in output and "EVL201" in output
    assert times


def test_diff_and_plain_runs_write_nothing(tmp_path: Path):
    target = tmp_path / "x.py"
    target.write_text(EVAL_WITHOUT_PARENS)
    status, output = evallint(x := "--diff", "x.py", cwd=tmp_path)
    assert status == 1
    assert "-    model.eval\n+    model.eval()\n" in output
    assert "--- a/x.py" in output and "+++ b/x.py" in output
    assert target.read_text() == EVAL_WITHOUT_PARENS
    evallint("--unsafe-fixes", "x.py", cwd=tmp_path)
    assert target.read_text() == EVAL_WITHOUT_PARENS
    assert x


def test_diff_of_clean_file_is_empty_and_exit_zero(tmp_path: Path):
    (tmp_path / "x.py").write_text("x = 1\n")
    assert evallint("--diff", "x.py", cwd=tmp_path) == (0, "No errors would be fixed.\n")


def test_unsafe_fixes_are_shown_but_applied_only_when_asked(tmp_path: Path):
    target = tmp_path / "v.py"
    source = "import torch\n\ndef validate(model, loader):\n    with torch.no_grad():\n        return [model(x) for x in loader]\n"
    target.write_text(source)
    _, output = evallint("v.py", cwd=tmp_path)
    assert "1 hidden fix can be enabled with the `--unsafe-fixes` option" in output
    evallint("--fix", "v.py", cwd=tmp_path)
    assert target.read_text() == source
    _, output = evallint("--fix", "--unsafe-fixes", "--show-fixes", "v.py", cwd=tmp_path)
    assert "model.eval()" in target.read_text()
    assert "Fixed 1 error:" in output and "1 × EVL101 (eval-in-train-mode)" in output


def test_fix_rewrites_a_notebook_in_its_own_json_layout(tmp_path: Path):
    notebook = tmp_path / "nb.ipynb"
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": ["import torch\n", "def validate(model, x):\n", "    model.eval\n", "    with torch.no_grad():\n", "        return model(x)\n"]}
    document = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    notebook.write_text(json.dumps(document))  # one line, no final newline
    before = notebook.read_text()
    previous = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, ["--fix", "nb.ipynb"])
    finally:
        os.chdir(previous)
    assert notebook.read_text() == before.replace('"    model.eval\\n"', '"    model.eval()\\n"')
    assert "Found 1 error (1 fixed, 0 remaining)." in result.output


def test_unparsable_result_is_not_written(tmp_path: Path, monkeypatch):
    """If a fix ever produced invalid code, the file must stay as it was and the user be told."""
    import dataclasses

    from evallint.rules import ALL_RULES

    target = tmp_path / "x.py"
    target.write_text(EVAL_WITHOUT_PARENS)
    broken = dataclasses.replace(
        ALL_RULES["EVL104"], fix=lambda table, node, spec: [Edit("(", Location(5, 15), Location(5, 15))]
    )
    monkeypatch.setitem(ALL_RULES, "EVL104", broken)
    previous = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, ["--fix", "x.py"])
    finally:
        os.chdir(previous)
    assert target.read_text() == EVAL_WITHOUT_PARENS
    assert "not fixed: applying the EVL104 fixes would not parse" in result.output


def _diagnostic(start: tuple[int, int], end: tuple[int, int], content: str, applicability="safe") -> Diagnostic:
    edit = Edit(content, Location(*start), Location(*end))
    location = Location(*start)
    return Diagnostic("EVL104", "m", "x.py", location, location, Fix(applicability, "f", (edit,)))


def test_apply_edits_later_first_and_past_the_end():
    text = "ab\r\ncd\ne"
    edits = [Edit("X", Location(1, 2), Location(1, 3)), Edit("Y\n", Location(2, 1), Location(3, 1)), Edit("!", Location(4, 1), Location(4, 1))]
    assert apply_edits(text, edits) == "aX\r\nY\ne!"


def test_select_fixes_skips_colliding_edits_and_prefers_safe():
    first = _diagnostic((1, 5), (1, 5), "()")
    same_point = _diagnostic((1, 5), (1, 5), "()")
    other = _diagnostic((3, 1), (3, 1), "x\n")
    unsafe = _diagnostic((5, 1), (5, 1), "y\n", "unsafe")
    assert select_fixes([other, same_point, first], unsafe=False) == [same_point, other] or select_fixes(
        [other, same_point, first], unsafe=False
    ) == [first, other]
    assert select_fixes([unsafe], unsafe=False) == []
    assert select_fixes([unsafe], unsafe=True) == [unsafe]
    assert select_fixes([unsafe, other], unsafe=True) == [other]


def test_fixing_every_fixture_parses_settles_and_is_idempotent(tmp_path: Path):
    """All fixes on the whole fixture set at once: each result parses, and a second run has nothing to do."""
    import ast

    fixtures = Path(__file__).resolve().parent.parent / "fixtures"
    project = tmp_path / "fixtures"
    shutil.copytree(fixtures, project)
    evallint("--fix", "--unsafe-fixes", "--exit-zero", ".", cwd=project)
    changed = [p for p in sorted(project.glob("*.py")) if p.read_bytes() != (fixtures / p.name).read_bytes()]
    assert len(changed) >= 10
    for path in changed:
        ast.parse(path.read_text(), filename=path.name)
    status, output = evallint("--diff", "--unsafe-fixes", ".", cwd=project)
    assert (status, output) == (0, "No errors would be fixed.\n")
    remaining = json.loads(evallint("--output-format", "json", "--exit-zero", ".", cwd=project)[1])
    assert all(d["fix"] is None for d in remaining)
    # Findings with no fix: EVL103, EVL202, and evaluations told by data flow (no single place
    # for eval() or no_grad() follows from where a forward's output goes).
    for d in remaining:
        assert d["code"] in {"EVL103", "EVL202"} or "never reaches a backward()" in d["message"], d


def test_no_eval_is_inserted_where_a_comprehensions_target_is_unbound(tmp_path: Path):
    # `model.eval()` at the top of `predict` (or before its `with`) would name a variable that
    # only the comprehension binds: the finding stays, without a fix.
    target = tmp_path / "ensemble.py"
    target.write_text(
        "import torch\nimport torch.nn as nn\n\n"
        "models = [nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)) for _ in range(2)]\n"
        "first = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))\nmodels = [first]\n\n\n"
        "def predict(x):\n    with torch.no_grad():\n        return [model(x) for model in models]\n\n\n"
        "predict(torch.randn(2, 4))\n",
        encoding="utf-8",
    )
    findings = [d for d in lint_json(target) if d["code"] == "EVL101"]
    assert [d["location"]["row"] for d in findings] == [11]
    assert findings[0]["fix"] is None

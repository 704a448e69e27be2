"""The real-bugs benchmark: its case file is well formed and its scorer scores a snapshot end to end."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks" / "realbugs"
RULES = {"EVL101", "EVL102", "EVL103", "EVL104", "EVL201", "EVL202"}


def load_score_module():
    spec = importlib.util.spec_from_file_location("realbugs_score", BENCH / "score.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


score = load_score_module()


def test_case_file_is_well_formed():
    data = tomllib.loads((BENCH / "cases.toml").read_text(encoding="utf-8"))
    cases = score.load_cases(BENCH / "cases.toml")
    assert len(data["bug"]) >= 60 and len(data["correct"]) >= 20
    heldout_path = REPO.parent.parent / "shared" / "heldout-repos.txt"
    heldout = set()
    if heldout_path.is_file():
        heldout = {line.strip() for line in heldout_path.read_text().splitlines() if "/" in line}
    for case in cases:
        assert len(case.commit) == 40 and case.line >= 1 and case.end_line >= case.line, case.id
        assert case.repo not in heldout, case.id
        assert case.description, case.id
        if case.kind == "bug":
            assert case.code in RULES and len(case.fix_commit) == 40, case.id
        if case.path.endswith(".ipynb"):
            assert case.cell, case.id


def git(directory: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", "-C", str(directory), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


BUGGY = textwrap.dedent(
    """
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            return self.drop(self.fc(x))


    def evaluate(model, batches):
        model.eval()
        total = 0
        for x in batches:
            total += model(x).sum().item()
        return total


    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(3):
        model.train()
        loss = model(torch.randn(2, 4)).sum()
        loss.backward()
        optimizer.step()
        evaluate(model, [torch.randn(2, 4)])
    """
).lstrip()


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[Path, str]:
    """A snapshot of one public-looking repository, laid out as the mirror is: owner+name/repo."""
    work = tmp_path / "mirror" / "someone+tutorial" / "repo"
    work.mkdir(parents=True)
    git(work, "init", "-q")
    (work / "train.py").write_text(BUGGY, encoding="utf-8")
    git(work, "add", "train.py")
    git(work, "commit", "-q", "-m", "buggy")
    return tmp_path / "mirror", git(work, "rev-parse", "HEAD")


def write_cases(path: Path, commit: str, bug_line: int, correct_line: int) -> Path:
    path.write_text(textwrap.dedent(f"""
        [[bug]]
        id = "eval-with-grad"
        repo = "someone/tutorial"
        commit = "{commit}"
        path = "train.py"
        line = {bug_line}
        code = "EVL201"
        fix_commit = "{commit}"
        description = "evaluate() forwards with autograd on"

        [[correct]]
        id = "training-step"
        repo = "someone/tutorial"
        commit = "{commit}"
        path = "train.py"
        line = {correct_line}
        end_line = {correct_line}
        description = "training forward after model.train()"
    """), encoding="utf-8")
    return path


def forward_line(text: str) -> int:
    return 1 + text.splitlines().index("        total += model(x).sum().item()")


def test_scores_a_snapshot_end_to_end(mirror, tmp_path):
    root, commit = mirror
    training_line = 1 + BUGGY.splitlines().index("    loss = model(torch.randn(2, 4)).sum()")
    cases = write_cases(tmp_path / "cases.toml", commit, forward_line(BUGGY), training_line)
    result = subprocess.run(
        [sys.executable, str(BENCH / "score.py"), "--mirror", str(root), "--cases", str(cases), "--json"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["bugs"] == 1 and report["summary"]["strict"] == 1
    assert report["summary"]["false_alarms"] == 0
    assert report["summary"]["per_rule"] == {"EVL201": {"cases": 1, "strict": 1, "lenient": 1}}


def test_a_finding_two_lines_away_is_lenient_not_strict(mirror, tmp_path, monkeypatch):
    root, commit = mirror
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the scorer runs this checkout's evallint
    cases = score.load_cases(write_cases(tmp_path / "cases.toml", commit, forward_line(BUGGY) + 2, 1))
    outcomes = score.score(cases, root)
    bug = next(o for o in outcomes if o.case.kind == "bug")
    assert (bug.strict, bug.lenient) == (False, True)


def test_missing_snapshot_names_the_repository_to_fetch(tmp_path, capsys):
    cases = write_cases(tmp_path / "cases.toml", "0" * 40, 1, 1)
    status = score.main(["--mirror", str(tmp_path), "--cases", str(cases)])
    assert status == 2
    assert "someone/tutorial" in capsys.readouterr().err


def test_bad_case_file_is_a_usage_error(tmp_path, capsys):
    broken = tmp_path / "cases.toml"
    broken.write_text('[[bug]]\nid = "x"\nrepo = "a/b"\n', encoding="utf-8")
    assert score.main(["--mirror", str(tmp_path), "--cases", str(broken)]) == 2
    assert "has no" in capsys.readouterr().err


def test_a_finding_about_another_object_does_not_count(tmp_path):
    case = score.Case("c", "bug", "a/b", "0" * 40, "train.py", 10, 10, "EVL101", "0" * 40, None, "")
    on_the_loss = score.Finding("EVL101", "train.py", 11, None, "criterion may be in train mode in validate()")
    on_the_model = score.Finding("EVL101", "train.py", 11, None, "model may be in train mode in validate()")
    line = "        output = model(data)"
    assert not score.judge(case, [on_the_loss], line).lenient
    assert score.judge(case, [on_the_model], line).lenient

"""The command line: exit codes, selection, configuration errors, suppression, JSON shape."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evallint.rules import ALL_RULES

from .conftest import REPO

BUGGY = textwrap.dedent(
    """
    import torch

    def validate(model, loader):
        for x in loader:
            out = model(x)
    """
).lstrip()


def evallint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evallint", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "EVALLINT_STRICT": "1"},
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "train.py").write_text(BUGGY)
    (tmp_path / "clean.py").write_text("x = 1\n")
    return tmp_path


def test_findings_exit_1_and_concise_lines(project):
    result = evallint("train.py", "--no-cache", cwd=project)
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("train.py:")]
    assert lines == [
        "train.py:5:15: EVL101 model may be in train mode in validate(): nothing in validate() sets the mode of model "
        "and nothing calls model.eval() before this forward",
        "train.py:5:15: EVL201 model runs in validate() with autograd enabled: nothing on this path disables autograd "
        "(torch.no_grad(), torch.inference_mode()), so every forward builds a graph nobody uses",
    ]


def test_clean_file_exits_0(project):
    result = evallint("clean.py", "--no-cache", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed!" in result.stdout


def test_exit_zero(project):
    assert evallint("train.py", "--exit-zero", "--no-cache", cwd=project).returncode == 0


@pytest.mark.parametrize(
    ("args", "codes"),
    [
        (["--select", "EVL1"], {"EVL101"}),
        (["--select", "EVL2"], {"EVL201"}),
        (["--ignore", "EVL101"], {"EVL201"}),
        (["--select", "EVL104", "--extend-select", "EVL201"], {"EVL201"}),
        (["--select", "EVL101,EVL201"], {"EVL101", "EVL201"}),
    ],
)
def test_selection(project, args, codes):
    result = evallint("train.py", "--no-cache", "--output-format", "json", *args, cwd=project)
    assert {item["code"] for item in json.loads(result.stdout)} == codes


def test_json_is_shaped_like_ruff(project):
    result = evallint("train.py", "--no-cache", "--output-format", "json", cwd=project)
    first = json.loads(result.stdout)[0]
    assert set(first) >= {"code", "message", "filename", "location", "end_location", "fix", "cell", "url"}
    assert first["location"] == {"row": 5, "column": 15}
    assert first["end_location"] == {"row": 5, "column": 23}
    assert first["cell"] is None
    assert first["url"].endswith("EVL101.md")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--select", "EVL999"], "'EVL999' matches no rule"),
        (["--output-format", "xml"], "Invalid value for '--output-format'"),
        (["missing_dir/"], "missing_dir/: no such file or directory"),
        (["--config", "nowhere.toml"], "--config nowhere.toml: no such file"),
    ],
)
def test_usage_errors_exit_2_with_a_sentence(project, args, needle):
    result = evallint(*args, "--no-cache", cwd=project)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_config_key_is_exit_2(project):
    (project / "pyproject.toml").write_text("[tool.evallint]\nselct = ['EVL1']\n")
    result = evallint("train.py", "--no-cache", cwd=project)
    assert result.returncode == 2
    assert "unknown key 'selct'" in result.stderr and "did you mean 'select'" in result.stderr


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ("select = 'EVL1'", "must be a list of strings"),
        ("ignore = ['NOPE1']", "'NOPE1' matches no rule"),
        ("per-file-ignores = { 'a.py' = 'EVL101' }", "must map glob patterns"),
    ],
)
def test_bad_config_values_are_exit_2(project, table, needle):
    (project / "pyproject.toml").write_text(f"[tool.evallint]\n{table}\n")
    result = evallint("train.py", "--no-cache", cwd=project)
    assert result.returncode == 2 and needle in result.stderr


def test_invalid_toml_is_exit_2(project):
    (project / "pyproject.toml").write_text("[tool.evallint\n")
    result = evallint("train.py", "--no-cache", cwd=project)
    assert result.returncode == 2 and "not valid TOML" in result.stderr


def test_config_select_ignore_and_per_file_ignores(project):
    (project / "pyproject.toml").write_text(
        "[tool.evallint]\nignore = ['EVL201']\nper-file-ignores = { 'other.py' = ['EVL1'] }\n"
    )
    (project / "other.py").write_text(BUGGY)
    result = evallint(".", "--no-cache", "--output-format", "json", cwd=project)
    assert {(Path(i["filename"]).name, i["code"]) for i in json.loads(result.stdout)} == {("train.py", "EVL101")}


def test_config_exclude_and_extend_exclude(project):
    (project / "vendored").mkdir()
    (project / "vendored" / "copy.py").write_text(BUGGY)
    (project / "pyproject.toml").write_text("[tool.evallint]\nextend-exclude = ['vendored/', 'train.py']\n")
    result = evallint(".", "--no-cache", "--output-format", "json", cwd=project)
    assert json.loads(result.stdout) == []


def test_project_names_from_config(project):
    (project / "score.py").write_text(
        "def rank_candidates(tower, loader):\n    return [tower(x) for x in loader]\n"
    )
    result = evallint("score.py", "--no-cache", cwd=project)
    assert result.returncode == 0
    (project / "pyproject.toml").write_text(
        "[tool.evallint]\neval-function-patterns = ['rank_*']\nmodel-names = ['tower']\n"
    )
    result = evallint("score.py", "--no-cache", "--output-format", "json", cwd=project)
    assert {item["code"] for item in json.loads(result.stdout)} == {"EVL101", "EVL201"}


def test_training_step_calls_from_config(project):
    (project / "loop.py").write_text(
        textwrap.dedent(
            """
            def validate(model, loader):
                model.eval()

            def fit(model, engine, train_loader, val_loader):
                for epoch in range(3):
                    for x in train_loader:
                        loss = model(x).sum()
                        engine.apply_gradients(loss)
                    validate(model, val_loader)
            """
        ).lstrip()
    )
    assert evallint("loop.py", "--no-cache", cwd=project).returncode == 0
    (project / "pyproject.toml").write_text("[tool.evallint]\ntraining-step-calls = ['engine.apply_gradients']\n")
    result = evallint("loop.py", "--no-cache", "--output-format", "json", cwd=project)
    assert [(i["code"], i["location"]["row"]) for i in json.loads(result.stdout)] == [("EVL102", 7)]


@pytest.mark.parametrize(
    ("comment", "reported"),
    [("# noqa", set()), ("# noqa: EVL101", {"EVL201"}), ("# noqa: EVL101, EVL201", set()), ("# noqa:EVL104", {"EVL101", "EVL201"})],
)
def test_noqa(project, comment, reported):
    (project / "train.py").write_text(BUGGY.replace("out = model(x)", f"out = model(x)  {comment}"))
    result = evallint("train.py", "--no-cache", "--output-format", "json", cwd=project)
    assert {i["code"] for i in json.loads(result.stdout)} == reported


def test_file_level_noqa(project):
    (project / "train.py").write_text("# evallint: noqa\n" + BUGGY)
    assert evallint("train.py", "--no-cache", cwd=project).returncode == 0


def test_noqa_inside_a_string_does_not_count(project):
    (project / "train.py").write_text(BUGGY.replace("out = model(x)", "out = model(x); s = '# noqa'"))
    assert evallint("train.py", "--no-cache", cwd=project).returncode == 1


def test_statistics(project):
    result = evallint("train.py", "--no-cache", "--statistics", cwd=project)
    assert result.stdout.split() == ["1", "EVL101", "eval-in-train-mode", "1", "EVL201", "eval-with-grad"]


def test_rule_docs_command():
    result = evallint("rule", "EVL102", cwd=REPO)
    assert result.returncode == 0
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety", "## Known problems"):
        assert heading in result.stdout
    listing = evallint("rule", cwd=REPO)
    assert [line.split()[0] for line in listing.stdout.splitlines()] == list(ALL_RULES)
    every = evallint("rule", "--all", cwd=REPO).stdout
    assert every == "\n".join(rule.render_doc() for rule in ALL_RULES.values())
    assert every.count("## What it does") == len(ALL_RULES)
    assert evallint("rule", "EVL999", cwd=REPO).returncode == 2


def test_default_path_is_current_directory(project):
    result = evallint("--no-cache", "--output-format", "json", cwd=project)
    assert {Path(i["filename"]).name for i in json.loads(result.stdout)} == {"train.py"}


def test_skips_virtualenvs_and_build_dirs(project):
    for directory in (".venv/lib", "build", "node_modules/pkg", "site-packages"):
        (project / directory).mkdir(parents=True)
        (project / directory / "copy.py").write_text(BUGGY)
    result = evallint(".", "--no-cache", "--output-format", "json", cwd=project)
    assert {Path(i["filename"]).name for i in json.loads(result.stdout)} == {"train.py"}


def test_force_exclude_applies_excludes_to_named_files(project):
    (project / "generated").mkdir()
    (project / "generated" / "model_code.py").write_text(BUGGY)
    (project / "pyproject.toml").write_text("[tool.evallint]\nextend-exclude = ['generated/']\n")
    named = ["generated/model_code.py", "train.py", "--no-cache", "--output-format", "json"]
    reported = {Path(i["filename"]).name for i in json.loads(evallint(*named, cwd=project).stdout)}
    assert reported == {"model_code.py", "train.py"}  # named files are linted, as ruff does
    forced = json.loads(evallint(*named, "--force-exclude", cwd=project).stdout)
    assert {Path(i["filename"]).name for i in forced} == {"train.py"}
    (project / "pyproject.toml").write_text("[tool.evallint]\nextend-exclude = ['generated/']\nforce-exclude = true\n")
    from_config = json.loads(evallint(*named, cwd=project).stdout)
    assert {Path(i["filename"]).name for i in from_config} == {"train.py"}


def test_the_hard_exit_delivers_all_output_first(tmp_path):
    """The console script ends with os._exit: every byte of a long report must reach the pipe and the file."""
    for number in range(200):
        (tmp_path / f"train_{number}.py").write_text(BUGGY)
    piped = evallint(".", "--no-cache", "--output-format", "json", cwd=tmp_path)
    assert piped.returncode == 1
    assert len(piped.stdout) > 4 * 65536  # several pipe buffers
    findings = json.loads(piped.stdout)
    assert {finding["filename"].rsplit("/", 1)[-1] for finding in findings} == {f"train_{n}.py" for n in range(200)}
    report = tmp_path / "report.json"
    written = evallint(".", "--no-cache", "--output-format", "json", "--output-file", str(report), cwd=tmp_path)
    assert written.returncode == 1 and written.stdout == ""
    assert json.loads(report.read_text()) == findings


def test_files_are_known_by_their_real_path_once_however_they_are_reached(tmp_path):
    """Discovery resolves each directory once and joins file names to it: a linked directory, a
    link to a file and the file itself are still one file, under its real path."""
    from evallint.config import Settings
    from evallint.discovery import discover

    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "train.py").write_text(BUGGY)
    (project / "alias.py").symlink_to(project / "pkg" / "train.py")
    (tmp_path / "linked").symlink_to(project, target_is_directory=True)
    settings = Settings(project_root=str(project))
    through_link = discover([str(tmp_path / "linked")], settings)
    direct = discover([str(project)], settings)
    real = str((project / "pkg" / "train.py").resolve())
    assert [s.absolute for s in through_link] == [s.absolute for s in direct] == [real]

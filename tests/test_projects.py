"""Multi-file projects under tests/projects/: each tree is linted as one project, and every file's
findings must match its inline markers (`# EVL101`). Negative cases carry no markers."""

from __future__ import annotations

from pathlib import Path

import pytest

from evallint.config import Settings
from evallint.engine import lint_paths

from .conftest import expected_findings

PROJECTS = sorted(p for p in (Path(__file__).parent / "projects").iterdir() if p.is_dir())


def _expected(project: Path) -> dict[str, set]:
    expected = {}
    for file in sorted(project.rglob("*.py")):
        marks = expected_findings(file.read_text(encoding="utf-8"))
        if marks:
            expected[file.relative_to(project).as_posix()] = marks
    return expected


def _actual(project: Path, paths: list[str]) -> dict[str, set]:
    actual: dict[str, set] = {}
    for d in lint_paths(paths, Settings(project_root=str(project)), jobs=1):
        relative = Path(d.path).resolve().relative_to(project).as_posix()
        actual.setdefault(relative, set()).add((d.location.row, d.code))
    return actual


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_project_findings_match_markers(project):
    assert _actual(project, [str(project)]) == _expected(project)


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_each_file_alone_still_uses_the_whole_project(project):
    """As pre-commit does: only one file is given, the rest of the project still informs it."""
    expected = _expected(project)
    for file in sorted(project.rglob("*.py")):
        relative = file.relative_to(project).as_posix()
        actual = _actual(project, [str(file)])
        assert actual.get(relative, set()) == expected.get(relative, set()), relative
        assert set(actual) <= {relative}, "findings are reported only for the files given"


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_a_file_alone_gets_the_whole_project_run_s_diagnostics_word_for_word(project):
    # Alone, the walk skips roots that cannot reach the file; what it reports must not change.
    settings = Settings(project_root=str(project))
    whole = lint_paths([str(project)], settings, jobs=1)
    for file in sorted(project.rglob("*.py")):
        alone = lint_paths([str(file)], settings, jobs=1)
        same_file = [d for d in whole if Path(d.path).resolve() == file.resolve()]
        assert [(d.location, d.code, d.message) for d in alone] == [
            (d.location, d.code, d.message) for d in same_file
        ], file.name


def test_messages_name_the_caller_and_the_evidence():
    project = Path(__file__).parent / "projects" / "callers_disagree"
    [diagnostic] = lint_paths([str(project)], Settings(project_root=str(project)), jobs=1)
    assert "careless()" in diagnostic.message
    assert "model.train()" in diagnostic.message


def test_cross_file_message_names_the_helper_file():
    project = Path(__file__).parent / "projects" / "helper_in_other_file"
    [diagnostic] = lint_paths([str(project)], Settings(project_root=str(project)), jobs=1)
    assert "evaluate() at line 6 of" in diagnostic.message and "engine.py" in diagnostic.message


def test_module_names_follow_the_package_directories(tmp_path):
    from evallint.indexing import index_files
    from evallint.sources import module_name_for

    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    for init in ("pkg/__init__.py", "pkg/sub/__init__.py"):
        (tmp_path / init).write_text("")
    (tmp_path / "script.py").write_text("")
    assert module_name_for(str(tmp_path / "pkg" / "sub" / "train.py")) == ("pkg.sub.train", False)
    assert module_name_for(str(tmp_path / "pkg" / "sub" / "__init__.py")) == ("pkg.sub", True)
    assert module_name_for(str(tmp_path / "pkg" / "data.tar.py")) == ("pkg.data.tar", False)
    assert module_name_for(str(tmp_path / "script.py")) == ("script", False)
    assert module_name_for("/__init__.py") == ("__init__", True)

    # A package that loses its __init__.py between two runs in one process is a plain directory.
    (tmp_path / "pkg" / "sub" / "__init__.py").unlink()
    index_files([])
    assert module_name_for(str(tmp_path / "pkg" / "sub" / "train.py")) == ("train", False)


def test_namespace_package_imports_resolve_from_a_relative_path(monkeypatch):
    """Run from inside the project (`evallint .`), files have relative paths: a folder without
    `__init__.py` at the top still holds the imported module."""
    project = Path(__file__).parent / "projects" / "namespace_packages"
    monkeypatch.chdir(project)
    assert _actual(project, ["."]) == _expected(project) != {}

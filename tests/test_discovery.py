"""Which files discovery yields: excludes by name and by path, through linked directories too."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from evallint.config import Settings
from evallint.discovery import _relative_text, discover


def _found(root: Path, *extend_exclude: str) -> list[str]:
    settings = replace(Settings(), project_root=str(root), extend_exclude=tuple(extend_exclude))
    return sorted(Path(source.absolute).relative_to(root.resolve()).as_posix() for source in discover([str(root)], settings))


def _tree(root: Path) -> None:
    for relative in ("train.py", "pkg/model.py", "pkg/gen/out.py", "pkg/deep/gen/more.py", "build/x.py", "notes.txt"):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")


def test_default_and_configured_excludes_match_names_at_any_depth_and_anchored_paths(tmp_path):
    _tree(tmp_path)
    assert _found(tmp_path) == ["pkg/deep/gen/more.py", "pkg/gen/out.py", "pkg/model.py", "train.py"]
    assert _found(tmp_path, "gen/") == ["pkg/model.py", "train.py"]
    assert _found(tmp_path, "/pkg/gen/") == ["pkg/deep/gen/more.py", "pkg/model.py", "train.py"]
    assert _found(tmp_path, "pkg/deep/gen/more.py", "model.py") == ["pkg/gen/out.py", "train.py"]


def test_a_linked_directory_is_excluded_by_where_it_leads(tmp_path):
    project = tmp_path / "project"
    _tree(project)
    (project / "shared").symlink_to(project / "pkg" / "gen", target_is_directory=True)
    # os.walk does not follow the link, so its files come once, through their real directory.
    assert _found(project, "/pkg/gen/") == ["pkg/deep/gen/more.py", "pkg/model.py", "train.py"]
    assert "pkg/gen/out.py" in _found(project)


def test_relative_text_agrees_with_pathlib():
    root = os.sep + os.path.join("work", "project")
    for real in (root, os.path.join(root, "a.py"), os.path.join(root, "pkg", "b.py"), os.path.join(root + "2", "c.py"), os.sep):
        try:
            expected = Path(real).relative_to(root).as_posix()
        except ValueError:
            expected = None
        assert _relative_text(real, root) == expected
    assert _relative_text(os.path.join(os.sep, "a.py"), os.sep) == "a.py"


def test_exclusion_spec_matches_as_gitignore_spec_does():
    import itertools

    import pathspec

    from evallint.config import DEFAULT_EXCLUDE
    from evallint.discovery import ExclusionSpec

    pattern_sets = [
        list(DEFAULT_EXCLUDE),
        [*DEFAULT_EXCLUDE, "gen/", "/pkg/gen/", "model.py", "*.pyi", "a?c", "[ab]x", "**/deep/*.py"],
        [*DEFAULT_EXCLUDE, "build", "!build", "*.egg-info", "!keep.egg-info"],
        ["!build", "build"],
        [".", "..", "*", "x.y"],
        ["*.py", "-x", "under_score", "évite"],
    ]
    names = ["build", ".git", "venv", "myvenv", "venv2", "gen", "pkg", "deep", "x.egg-info", ".egg-info", "keep.egg-info",
             "model.py", "other.py", "abc", "ax", "t.pyi", "x.y", "-x", "under_score", "évite", "..", "."]
    candidates = set()
    for depth in (1, 2, 3):
        for parts in itertools.product(names, repeat=depth):
            path = "/".join(parts)
            candidates |= {path, path + "/", "/" + path, "./" + path, "../" + path}
    for patterns in pattern_sets:
        ours = ExclusionSpec(patterns)
        theirs = pathspec.GitIgnoreSpec.from_lines(patterns)
        differing = [c for c in sorted(candidates) if ours.match_file(c) != theirs.match_file(c)]
        assert differing == [], (patterns, differing[:10])
    # The plain names and suffixes are told without pathspec; the rest are left to it.
    defaults = ExclusionSpec(list(DEFAULT_EXCLUDE))
    assert defaults.spec is None and defaults.suffixes == (".egg-info",)


def test_display_paths_are_relative_to_the_working_directory_inside_it_and_as_given_outside(tmp_path, monkeypatch):
    _tree(tmp_path)
    inside = tmp_path / "inside"
    inside.mkdir()
    monkeypatch.chdir(inside)
    settings = replace(Settings(), project_root=str(tmp_path))
    outside = sorted(source.path for source in discover([str(tmp_path / "pkg")], settings))
    assert outside == sorted(str(tmp_path / "pkg" / name) for name in ("deep/gen/more.py", "gen/out.py", "model.py"))
    monkeypatch.chdir(tmp_path)
    assert sorted(source.path for source in discover(["pkg", "./train.py"], settings)) == [
        "pkg/deep/gen/more.py", "pkg/gen/out.py", "pkg/model.py", "train.py"]
    assert sorted(source.path for source in discover([str(tmp_path)], settings)) == [
        "pkg/deep/gen/more.py", "pkg/gen/out.py", "pkg/model.py", "train.py"]


def test_a_walk_that_passes_through_the_working_directory_shows_its_files_relative_to_it(tmp_path, monkeypatch):
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path / "pkg")
    settings = replace(Settings(), project_root=str(tmp_path))
    assert sorted(source.path for source in discover([".."], settings)) == [
        "../train.py", "deep/gen/more.py", "gen/out.py", "model.py"]


def test_linked_files_are_kept_and_pipes_skipped_without_reading_them(tmp_path):
    _tree(tmp_path)
    (tmp_path / "pkg" / "alias.py").symlink_to(tmp_path / "train.py")
    (tmp_path / "pkg" / "gone.py").symlink_to(tmp_path / "nowhere.py")
    os.mkfifo(tmp_path / "pkg" / "pipe.py")
    settings = replace(Settings(), project_root=str(tmp_path))
    found = {Path(source.path).name: source.absolute for source in discover([str(tmp_path / "pkg")], settings)}
    # A link is read through (its real path), a broken one is reported as unreadable, a pipe is skipped.
    assert found["alias.py"] == str((tmp_path / "train.py").resolve())
    assert found["gone.py"] == str((tmp_path / "nowhere.py").resolve())
    assert "pipe.py" not in found

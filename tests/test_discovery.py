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

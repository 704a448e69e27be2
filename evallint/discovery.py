"""Which files a run reads: Python files and notebooks under the given paths, minus excludes."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pathspec

from evallint.config import Settings
from evallint.errors import UsageError

SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")
LINTED_SUFFIXES = (".py", ".ipynb")
MAX_CONTEXT_FILES = 20000


@dataclass(frozen=True)
class SourcePath:
    path: str  # as shown to the user (relative to the working directory when possible)
    absolute: str


def _display(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def _absolute(path: Path) -> str:
    """The real path of a file, or its plain absolute path when it cannot be resolved (a symlink loop)."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):
        return os.path.abspath(path)


def exclusion_spec(settings: Settings) -> pathspec.PathSpec:
    patterns = [*settings.exclude, *settings.extend_exclude]
    return pathspec.GitIgnoreSpec.from_lines(patterns)


def discover(paths: list[str], settings: Settings) -> list[SourcePath]:
    """Files to lint. A path named explicitly is linted even if excluded, as ruff does for files."""
    spec = exclusion_spec(settings)
    root = Path(settings.project_root or ".").resolve()
    found: dict[str, SourcePath] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists() and not path.is_symlink():
            raise UsageError(f"{raw}: no such file or directory")
        if path.is_file() or (path.is_symlink() and not path.exists()):
            if settings.force_exclude and _excluded(path, spec, root, is_dir=False, with_parents=True):
                continue  # pre-commit names files one by one; --force-exclude keeps excludes in force
            absolute = _absolute(path) if path.exists() else str(path.absolute())
            found.setdefault(absolute, SourcePath(_display(path), absolute))
            continue
        for file in _walk(path, spec, root):
            absolute = _absolute(file)
            found.setdefault(absolute, SourcePath(_display(file), absolute))
    return sorted(found.values(), key=lambda s: s.path)


def project_files(settings: Settings) -> list[SourcePath]:
    """Every Python file of the project around the run, for cross-file summaries."""
    root = Path(settings.project_root or ".")
    spec = exclusion_spec(settings)
    files = []
    for file in _walk(root, spec, root.resolve(), suffixes=(".py",)):
        files.append(SourcePath(_display(file), _absolute(file)))
        if len(files) >= MAX_CONTEXT_FILES:
            break
    return files


def _walk(directory: Path, spec: pathspec.PathSpec, root: Path, suffixes=LINTED_SUFFIXES):
    """Walk without following directory symlinks (no loops), pruning excluded directories."""
    for current, dirnames, filenames in os.walk(directory, followlinks=False, onerror=lambda error: None):
        current_path = Path(current)
        kept = []
        for name in sorted(dirnames):
            if _excluded(current_path / name, spec, root, is_dir=True):
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            if not name.endswith(suffixes):
                continue
            file = current_path / name
            if not _may_be_source(file) or _excluded(file, spec, root, is_dir=False):
                continue
            yield file


def _may_be_source(file: Path) -> bool:
    """A regular file, or a link that cannot be followed (reported as unreadable).

    Reading a named pipe would block the run forever and a device such as
    /dev/zero never ends, so whatever else carries a source suffix is skipped.
    """
    try:
        return stat.S_ISREG(os.stat(file).st_mode)
    except OSError:
        return True


def _excluded(path: Path, spec: pathspec.PathSpec, root: Path, is_dir: bool, with_parents: bool = False) -> bool:
    """Does an exclusion pattern match this path (or, with ``with_parents``, a directory above it)?"""
    name = path.name
    try:
        relative = path.resolve().relative_to(root).as_posix() if path.exists() else path.as_posix()
    except ValueError:
        relative = path.as_posix()
    candidates = [name, relative]
    if is_dir:
        candidates = [c + "/" for c in candidates] + candidates
    if with_parents:
        parts = relative.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            candidates += [parts[depth - 1] + "/", "/".join(parts[:depth]) + "/"]
    return any(spec.match_file(candidate) for candidate in candidates)

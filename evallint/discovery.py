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
        for file, absolute in _walk(path, spec, root):
            found.setdefault(absolute, SourcePath(_display(file), absolute))
    return sorted(found.values(), key=lambda s: s.path)


def project_files(settings: Settings) -> list[SourcePath]:
    """Every Python file of the project around the run, for cross-file summaries."""
    root = Path(settings.project_root or ".")
    spec = exclusion_spec(settings)
    files = []
    for file, absolute in _walk(root, spec, root.resolve(), suffixes=(".py",)):
        files.append(SourcePath(_display(file), absolute))
        if len(files) >= MAX_CONTEXT_FILES:
            break
    return files


def _walk(directory: Path, spec: pathspec.PathSpec, root: Path, suffixes=LINTED_SUFFIXES):
    """Each source file with its real path, walking without following directory symlinks (no
    loops) and pruning excluded directories. A directory's real path is resolved once: resolving
    every file (or subdirectory) again would stat each directory above it, entry after entry."""
    root_text = str(root)
    for current, dirnames, filenames in os.walk(directory, followlinks=False, onerror=lambda error: None):
        real_directory = os.path.realpath(current)
        kept = []
        for name in sorted(dirnames):
            child = os.path.join(current, name)
            # os.walk lists a link to a directory among the directories: only that one is resolved.
            real = None if os.path.islink(child) else os.path.join(real_directory, name)
            if _excluded(Path(child), spec, root, is_dir=True, real=real, root_text=root_text):
                continue
            kept.append(name)
        dirnames[:] = kept
        current_path = Path(current)
        for name in sorted(filenames):
            if not name.endswith(suffixes):
                continue
            file = current_path / name
            kind = _source_kind(file)
            if kind is None:
                continue
            real = os.path.join(real_directory, name) if kind == "file" else None
            if _excluded(file, spec, root, is_dir=False, real=real, root_text=root_text):
                continue
            yield file, real if real is not None else _absolute(file)


def _source_kind(file: Path) -> str | None:
    """"file" for a regular file, "link" for a link to one or one that cannot be followed
    (reported as unreadable), None for anything else.

    Reading a named pipe would block the run forever and a device such as
    /dev/zero never ends, so whatever else carries a source suffix is skipped.
    """
    try:
        mode = os.lstat(file).st_mode
    except OSError:
        return "link"  # gone since the directory was listed: reported as unreadable
    if stat.S_ISREG(mode):
        return "file"
    if not stat.S_ISLNK(mode):
        return None
    try:
        return "link" if stat.S_ISREG(os.stat(file).st_mode) else None
    except OSError:
        return "link"


def _excluded(
    path: Path, spec: pathspec.PathSpec, root: Path, is_dir: bool, with_parents: bool = False,
    real: str | None = None, root_text: str | None = None,
) -> bool:
    """Does an exclusion pattern match this path (or, with ``with_parents``, a directory above it)?
    ``real`` is the path's real path when the caller knows it already."""
    name = path.name
    if real is not None:
        relative = _relative_text(real, root_text if root_text is not None else str(root))
        if relative is None:
            relative = path.as_posix()
    else:
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


def _relative_text(real: str, root: str) -> str | None:
    """``Path(real).relative_to(root).as_posix()`` for two real (normalized, absolute) paths, on
    strings (discovery asks it for every file); None where ``real`` is not under ``root``."""
    if real == root:
        return "."
    prefix = root if root.endswith(os.sep) else root + os.sep
    if not real.startswith(prefix):
        return None
    relative = real[len(prefix):]
    return relative.replace(os.sep, "/") if os.sep != "/" else relative

"""Which files a run reads: Python files and notebooks under the given paths, minus excludes."""

from __future__ import annotations

import os
import re
import stat
from operator import attrgetter
from dataclasses import dataclass
from pathlib import Path

from evallint.config import Settings
from evallint.errors import UsageError

SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")
LINTED_SUFFIXES = (".py", ".ipynb")
MAX_CONTEXT_FILES = 20000
_BY_NAME = attrgetter("name")  # directory entries in the order os.walk lists them


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


# A gitignore pattern that is a plain name (`.git`, `build`) matches a path exactly when one of the
# path's components is that name; one that is `*` and a plain name (`*.egg-info`), exactly when a
# component ends with that name.
_PLAIN_NAME = re.compile(r"[\w.-]+")


class ExclusionSpec:
    """The exclude patterns, matched as pathspec's ``GitIgnoreSpec`` matches them.

    Discovery asks about every directory and file of a run, several candidate paths each, and
    pathspec tries each pattern's regular expression in turn: most of discovery's time, before
    any file is read. Most patterns (all the defaults) are plain names or a star
    and a plain name, so those are told by the path's components, a set lookup and a suffix test
    each; pathspec (imported only then) matches any other pattern. A negated pattern
    (``!keep.py``) makes the patterns' order matter: then pathspec matches them all.
    """

    def __init__(self, patterns: list[str]) -> None:
        names: set[str] = set()
        suffixes: set[str] = set()
        if not any(pattern.startswith("!") for pattern in patterns):
            for pattern in patterns:
                if _PLAIN_NAME.fullmatch(pattern) and pattern not in (".", ".."):
                    names.add(pattern)
                elif pattern.startswith("*") and _PLAIN_NAME.fullmatch(pattern[1:]):
                    suffixes.add(pattern[1:])
        self.names = frozenset(names)
        self.suffixes = tuple(sorted(suffixes))
        others = [p for p in patterns if p not in names and not (p.startswith("*") and p[1:] in suffixes)]
        self.spec = None
        if others:
            import pathspec

            self.spec = pathspec.GitIgnoreSpec.from_lines(others)

    def match_file(self, candidate: str) -> bool:
        if self.names or self.suffixes:
            components = candidate.split("/")
            if not self.names.isdisjoint(components):
                return True
            if self.suffixes and any(component.endswith(self.suffixes) for component in components):
                return True
        return self.spec is not None and self.spec.match_file(candidate)


def exclusion_spec(settings: Settings) -> ExclusionSpec:
    return ExclusionSpec([*settings.exclude, *settings.extend_exclude])


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
        for display, absolute in _walk(path, spec, root):
            found.setdefault(absolute, SourcePath(display, absolute))
    return sorted(found.values(), key=lambda s: s.path)


def project_files(settings: Settings) -> list[SourcePath]:
    """Every Python file of the project around the run, for cross-file summaries."""
    root = Path(settings.project_root or ".")
    spec = exclusion_spec(settings)
    files = []
    for display, absolute in _walk(root, spec, root.resolve(), suffixes=(".py",)):
        files.append(SourcePath(display, absolute))
        if len(files) >= MAX_CONTEXT_FILES:
            break
    return files


def _walk(directory: Path, spec: ExclusionSpec, root: Path, suffixes=LINTED_SUFFIXES):
    """Each source file's display path and real path, walking without following directory
    symlinks (no loops) and pruning excluded directories, in the order ``os.walk`` gives (a
    directory's files, then each kept subdirectory's, by name). Each directory is listed once with
    ``os.scandir``, whose entries tell files, directories and links apart without a stat of their
    own; a subdirectory's real path is its parent's and its name, so no path is resolved again
    component by component."""
    root_text = str(root)
    top = str(directory)
    pending = [(top, os.path.realpath(top))]
    while pending:
        current, real_directory = pending.pop()
        try:
            with os.scandir(current) as listing:
                entries = list(listing)
        except OSError:
            continue
        # The directory as pathlib writes it (``a/./b`` is ``a/b``): with forward slashes, what a
        # path is matched by when it is outside the project's root; as the platform writes it, what
        # a file above the working directory is displayed as.
        current_path = Path(current)
        written, shown = current_path.as_posix(), str(current_path)
        directories, files = [], []
        for entry in entries:
            try:
                is_directory = entry.is_dir()
            except OSError:
                is_directory = False
            (directories if is_directory else files).append(entry)
        kept = []
        for entry in sorted(directories, key=_BY_NAME):
            name = entry.name
            if entry.is_symlink():
                continue  # a link to a directory is never entered (no loops)
            real = os.path.join(real_directory, name)
            if _matches(spec, name, _relative_text(real, root_text) or _below(written, name, "/"), is_dir=True):
                continue
            kept.append((entry.path, real))
        try:
            relative_directory: str | None = os.path.relpath(current)
        except ValueError:  # another drive than the working directory's
            relative_directory = None
        for entry in sorted(files, key=_BY_NAME):
            name = entry.name
            if not name.endswith(suffixes):
                continue
            file = entry.path
            plain = not entry.is_symlink() and entry.is_file(follow_symlinks=False)
            kind = "file" if plain else _source_kind(Path(file))
            if kind is None:
                continue
            if kind == "file":
                real = os.path.join(real_directory, name)
                if _matches(spec, name, _relative_text(real, root_text) or _below(written, name, "/")):
                    continue
            else:
                real = None
                if _excluded(Path(file), spec, root, is_dir=False):
                    continue
            # What ``_display(file)`` gives, from the directory's relative path.
            if relative_directory is None:
                display = _below(shown, name, os.sep)
            else:
                display = name if relative_directory == "." else os.path.join(relative_directory, name)
                if display.startswith(".."):
                    display = _below(shown, name, os.sep)
            yield display, real if real is not None else _absolute(Path(file))
        pending.extend(reversed(kept))


def _below(written: str, name: str, separator: str) -> str:
    """``Path(directory) / name`` written with ``separator``, from the directory as pathlib
    writes it with that separator."""
    if written == ".":
        return name
    return written + name if written.endswith(separator) else written + separator + name


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
    path: Path, spec: ExclusionSpec, root: Path, is_dir: bool, with_parents: bool = False
) -> bool:
    """Does an exclusion pattern match this path (or, with ``with_parents``, a directory above it)?"""
    try:
        relative = path.resolve().relative_to(root).as_posix() if path.exists() else path.as_posix()
    except ValueError:
        relative = path.as_posix()
    if not with_parents:
        return _matches(spec, path.name, relative, is_dir=is_dir)
    candidates = [path.name, relative]
    parts = relative.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        candidates += [parts[depth - 1] + "/", "/".join(parts[:depth]) + "/"]
    return _matches(spec, *candidates, is_dir=is_dir)


def _matches(spec: ExclusionSpec, name: str, relative: str, *more: str, is_dir: bool = False) -> bool:
    """Does an exclusion pattern match a path by its name or its path below the project root
    (a directory's also with a trailing slash), or one of ``more`` candidates?"""
    candidates = [name, relative, *more]
    if is_dir:
        candidates = [name + "/", relative + "/", name, relative, *more]
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

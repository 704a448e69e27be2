"""Settings: defaults, then `[tool.evallint]` in the nearest pyproject.toml, then the command line.

Hierarchical, as ruff's: the run's settings come from the config nearest the first path (or
--config); a file under a directory with a pyproject.toml of its own that has a
`[tool.evallint]` table is reported by that table's select, ignore, extend-select and
per-file-ignores instead (``Settings.nested``; the command line's selection still wins). The
keys that shape the run as a whole (exclude, the project's names, cache-dir, output-format)
come from the run's config. With --config, that file is the only one.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from evallint.errors import ConfigError, UsageError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

DEFAULT_EXCLUDE = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".env",
    "env",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".evallint_cache",
    "__pycache__",
    "__pypackages__",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    ".ipynb_checkpoints",
    ".eggs",
    "*.egg-info",
)

# Keys accepted in [tool.evallint], kebab-case as ruff spells them.
_LIST_KEYS = {
    "select": "select",
    "ignore": "ignore",
    "extend-select": "extend_select",
    "exclude": "exclude",
    "extend-exclude": "extend_exclude",
    "eval-function-patterns": "eval_function_patterns",
    "model-names": "model_names",
    "training-step-calls": "training_step_calls",
}
_TABLE_KEYS = {"per-file-ignores": "per_file_ignores"}
_STRING_KEYS = {"cache-dir": "cache_dir", "output-format": "output_format"}
_BOOL_KEYS = {"force-exclude": "force_exclude"}
KNOWN_KEYS = sorted([*_LIST_KEYS, *_TABLE_KEYS, *_STRING_KEYS, *_BOOL_KEYS])


@dataclass(frozen=True)
class Settings:
    select: tuple[str, ...] = ("EVL",)
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    eval_function_patterns: tuple[str, ...] = ()
    model_names: tuple[str, ...] = ()
    training_step_calls: tuple[str, ...] = ()
    cache_dir: str | None = None
    output_format: str | None = None
    force_exclude: bool = False  # apply excludes to files named on the command line too
    project_root: str | None = None  # None when no pyproject.toml or .git marks a project
    config_path: str | None = None
    hierarchical: bool = True  # False with --config: that file settles every file
    # The command line's --select / --ignore / --extend-select, which override every config's.
    command_line: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # (directory, settings) of the configs below the run's that report the files under them.
    nested: tuple[tuple[str, "Settings"], ...] = ()

    def config_directory(self) -> str:
        """What per-file-ignores patterns are relative to: the directory of the config that holds them."""
        if self.config_path is not None:
            return os.path.dirname(os.path.realpath(self.config_path))
        return os.path.realpath(self.project_root or ".")

    def for_file(self, absolute: str) -> "Settings":
        """The settings that report ``absolute``: those of the nearest config above it, the run's
        own included (a run started in a nested project may also reach its parent's files)."""
        best_directory, best = "", self
        own = os.path.dirname(os.path.abspath(self.config_path)) if self.config_path else None
        for directory, settings in ((own, self), *self.nested) if own else self.nested:
            inside = absolute.startswith(directory.rstrip(os.sep) + os.sep)
            if inside and len(directory) > len(best_directory):
                best_directory, best = directory, settings
        return best

    def analysis_key(self) -> tuple:
        """What the per-file summaries depend on (part of the cache key)."""
        return (self.eval_function_patterns, self.model_names, self.training_step_calls)


def find_pyproject(start: Path) -> Path | None:
    start = start if start.is_dir() else start.parent
    for directory in [start, *start.parents]:
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def find_project_root(start: Path) -> Path | None:
    """The nearest directory above ``start`` with a pyproject.toml or a .git: the project."""
    start = start.resolve()
    start = start if start.is_dir() else start.parent
    for directory in [start, *start.parents]:
        if (directory / "pyproject.toml").is_file() or (directory / ".git").exists():
            return directory
    return None


def load_settings(config: str | None, paths: list[str]) -> Settings:
    """Settings for a run: an explicit --config file, else the pyproject.toml nearest the first path."""
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise UsageError(f"--config {config}: no such file")
        table = _read_table(path, explicit=True)
        root = path.resolve().parent
    else:
        first = _existing_ancestor(Path(paths[0]) if paths else Path("."))
        found = find_pyproject(first)
        path = found
        table = _read_table(found, explicit=False) if found is not None else {}
        root = find_project_root(first)
        if found is not None and (root is None or found.resolve().parent.is_relative_to(root)):
            root = found.resolve().parent
    settings = settings_from_table(table, str(path) if path else "<defaults>")
    return replace(
        settings, project_root=str(root) if root else None, config_path=str(path) if path else None,
        hierarchical=config is None,
    )


def with_command_line(settings: Settings, **selection) -> Settings:
    """Apply the command line's --select / --ignore / --extend-select (those given) to the run's
    settings and remember them for the nested configs."""
    given = tuple((key, tuple(value)) for key, value in selection.items() if value is not None)
    return replace(settings, command_line=given, **dict(given))


def with_nested_configs(settings: Settings, files: list[str]) -> Settings:
    """``settings`` with the configs that report some of ``files`` (absolute paths) instead of the
    run's own: the nearest pyproject.toml with a [tool.evallint] table above each file, below the
    run's config."""
    if not settings.hierarchical:
        return settings
    own = os.path.abspath(settings.config_path) if settings.config_path else None
    found: dict[str, Settings] = {}
    seen: dict[str, str | None] = {}  # directory -> its nearest evallint config (None: the run's)
    for file in files:
        directory = os.path.dirname(file)
        chain = []
        nearest = None
        while directory not in seen:
            chain.append(directory)
            candidate = os.path.join(directory, "pyproject.toml")
            if candidate == own:
                break
            if os.path.isfile(candidate) and _has_evallint_table(candidate):
                nearest = candidate
                break
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
        else:
            nearest = seen[directory]
        for item in chain:
            seen[item] = nearest
        if nearest is not None and os.path.dirname(nearest) not in found:
            nested = settings_from_table(_read_table(Path(nearest), explicit=False), nearest)
            nested = replace(
                nested, config_path=nearest, project_root=settings.project_root, **dict(settings.command_line)
            )
            found[os.path.dirname(nearest)] = nested
    if not found:
        return settings
    return replace(settings, nested=tuple(sorted(found.items())))


def _has_evallint_table(path: str) -> bool:
    """Does this pyproject.toml configure evallint? (One that does not is passed over, as ruff does.)"""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return isinstance(data.get("tool"), dict) and "evallint" in data["tool"]


def _existing_ancestor(path: Path) -> Path:
    """``path``, or the nearest directory above it that exists (a buffer not saved yet, stdin's
    ``--stdin-filename``), resolved."""
    path = path.absolute()
    for candidate in [path, *path.parents]:
        if candidate.exists():
            return candidate.resolve()
    return Path(".").resolve()


def _read_table(path: Path, explicit: bool) -> dict:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    if path.name == "pyproject.toml":
        return data.get("tool", {}).get("evallint", {})
    # A dedicated evallint.toml / .evallint.toml holds the keys at top level.
    return data.get("tool", {}).get("evallint", data) if explicit else data


def settings_from_table(table: dict, source: str) -> Settings:
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.evallint] in {source} must be a table")
    values: dict = {}
    for key, value in table.items():
        where = f"[tool.evallint] key '{key}' in {source}"
        if key in _LIST_KEYS:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ConfigError(f"{where} must be a list of strings")
            values[_LIST_KEYS[key]] = tuple(value)
        elif key in _TABLE_KEYS:
            if not isinstance(value, dict) or not all(
                isinstance(codes, list) and all(isinstance(c, str) for c in codes) for codes in value.values()
            ):
                raise ConfigError(f'{where} must map glob patterns to lists of codes, e.g. {{"tests/*" = ["EVL101"]}}')
            values["per_file_ignores"] = tuple((pattern, tuple(codes)) for pattern, codes in value.items())
        elif key in _STRING_KEYS:
            if not isinstance(value, str):
                raise ConfigError(f"{where} must be a string")
            values[_STRING_KEYS[key]] = value
        elif key in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise ConfigError(f"{where} must be true or false")
            values[_BOOL_KEYS[key]] = value
        else:
            close = difflib.get_close_matches(key.replace("_", "-"), KNOWN_KEYS, n=1, cutoff=0.7)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown key '{key}' in [tool.evallint] of {source}{hint}; known keys: {', '.join(KNOWN_KEYS)}")
    settings = Settings(**values)
    if "exclude" in values:
        settings = replace(settings, exclude=values["exclude"])
    from evallint.selection import validate_codes

    validate_codes(settings.select, f"select in {source}")
    validate_codes(settings.ignore, f"ignore in {source}")
    validate_codes(settings.extend_select, f"extend-select in {source}")
    for pattern, codes in settings.per_file_ignores:
        validate_codes(codes, f"per-file-ignores '{pattern}' in {source}")
    return settings



def describe_settings(settings: Settings) -> str:
    """The settings a run uses, as `[tool.evallint]` TOML (for --show-settings)."""
    import json

    def table(values: Settings) -> list[str]:
        lines = []
        for key, attribute in sorted({**_LIST_KEYS, **_STRING_KEYS, **_BOOL_KEYS}.items()):
            value = getattr(values, attribute)
            if value is None:
                continue
            if isinstance(value, tuple):
                value = list(value)
            lines.append(f"{key} = {json.dumps(value)}")
        ignores = ", ".join(
            f"{json.dumps(pattern)} = {json.dumps(list(codes))}" for pattern, codes in values.per_file_ignores
        )
        lines.append(f"per-file-ignores = {{{ignores}}}")
        return lines

    lines = [
        f"# settings file: {settings.config_path or '(none: defaults)'}",
        f"# project root: {settings.project_root or '(none)'}",
        "[tool.evallint]",
        *table(settings),
    ]
    for directory, nested in settings.nested:
        lines += ["", f"# files under {directory} are reported with {nested.config_path}:", *table(nested)]
    return "\n".join(lines) + "\n"


def with_overrides(settings: Settings, **overrides) -> Settings:
    """``settings`` with the options given (not None) replaced."""
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})

"""Settings: defaults, then `[tool.evallint]` in the nearest pyproject.toml, then the command line."""

from __future__ import annotations

import difflib
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
        first = Path(paths[0]) if paths else Path(".")
        found = find_pyproject(first.resolve() if first.exists() else Path(".").resolve())
        path = found
        table = _read_table(found, explicit=False) if found is not None else {}
        root = find_project_root(first if first.exists() else Path("."))
        if found is not None and (root is None or found.resolve().parent.is_relative_to(root)):
            root = found.resolve().parent
    settings = settings_from_table(table, str(path) if path else "<defaults>")
    return replace(
        settings, project_root=str(root) if root else None, config_path=str(path) if path else None
    )


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


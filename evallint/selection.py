"""Which rules a run reports: --select / --ignore / --extend-select with codes or prefixes.

EVL001 (a file that cannot be read or parsed) is always reported, whatever the selection says.
A rule that is off by default (``Rule.default_enabled``, e.g. EVL901) is selected only by a
selector more specific than the default `EVL`: its code, a prefix such as `EVL9`, or `ALL`.
"""

from __future__ import annotations

import fnmatch
import os

from evallint.errors import UsageError
from evallint.rules import ALL_RULES


def split_codes(values: tuple[str, ...]) -> tuple[str, ...] | None:
    """`--select EVL1,EVL2 --select EVL9` -> ("EVL1", "EVL2", "EVL9"); None when none was given."""
    if not values:
        return None
    codes = []
    for value in values:
        codes.extend(part.strip() for part in value.split(",") if part.strip())
    return tuple(codes)


def _matches(code: str, selector: str) -> bool:
    selector = selector.strip().upper()
    return selector == "ALL" or code.startswith(selector)


def validate_codes(selectors, where: str) -> None:
    for selector in selectors:
        if not any(_matches(code, selector) for code in ALL_RULES):
            known = ", ".join(ALL_RULES)
            raise UsageError(f"{where}: '{selector}' matches no rule; rule codes are {known} (prefixes such as EVL1 work too)")


ALWAYS_REPORTED = "EVL001"


def selected_codes(select, ignore, extend_select) -> frozenset[str]:
    def chosen_by(code: str, selector: str) -> bool:
        if not _matches(code, selector):
            return False
        return ALL_RULES[code].default_enabled or selector.strip().upper() != "EVL"

    chosen = {code for code in ALL_RULES if any(chosen_by(code, s) for s in (*select, *extend_select))}
    kept = {code for code in chosen if not any(_matches(code, s) for s in ignore)}
    return frozenset(kept | {ALWAYS_REPORTED})


def ignored_for_path(absolute: str, per_file_ignores, base_directory: str) -> tuple[str, ...]:
    """The codes per-file-ignores drops for a file. A pattern is matched against the file's path
    relative to ``base_directory`` (that of the config declaring it), and against its name."""
    inside = absolute.startswith(base_directory.rstrip(os.sep) + os.sep)
    relative = os.path.relpath(absolute, base_directory) if inside else absolute
    relative = relative.replace("\\", "/")
    name = relative.rsplit("/", 1)[-1]
    ignored: list[str] = []
    for pattern, codes in per_file_ignores:
        pattern = pattern.removeprefix("./")
        if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(name, pattern):
            ignored.extend(codes)
    return tuple(ignored)


def is_ignored(code: str, ignored: tuple[str, ...]) -> bool:
    return any(_matches(code, selector) for selector in ignored)

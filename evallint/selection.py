"""Which rules a run reports: --select / --ignore / --extend-select with codes or prefixes."""

from __future__ import annotations

import fnmatch

from evallint.errors import UsageError
from evallint.rules import ALL_RULES


def _matches(code: str, selector: str) -> bool:
    selector = selector.strip().upper()
    return selector == "ALL" or code.startswith(selector)


def validate_codes(selectors, where: str) -> None:
    for selector in selectors:
        if not any(_matches(code, selector) for code in ALL_RULES):
            known = ", ".join(ALL_RULES)
            raise UsageError(f"{where}: '{selector}' matches no rule; rule codes are {known} (prefixes such as EVL1 work too)")


def selected_codes(select, ignore, extend_select) -> frozenset[str]:
    chosen = {code for code in ALL_RULES if any(_matches(code, s) for s in (*select, *extend_select))}
    return frozenset(code for code in chosen if not any(_matches(code, s) for s in ignore))


def ignored_for_path(path: str, per_file_ignores) -> tuple[str, ...]:
    normalized = path.replace("\\", "/")
    ignored: list[str] = []
    for pattern, codes in per_file_ignores:
        if fnmatch.fnmatch(normalized, pattern) or fnmatch.fnmatch(normalized.rsplit("/", 1)[-1], pattern):
            ignored.extend(codes)
    return tuple(ignored)


def is_ignored(code: str, ignored: tuple[str, ...]) -> bool:
    return any(_matches(code, selector) for selector in ignored)

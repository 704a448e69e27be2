"""Which diagnostics a run reports, file by file: the selection of the file's config, its
per-file-ignores, its `# noqa` comments; EVL001 always; and the unused `noqa` codes (EVL901).
"""

from __future__ import annotations

import re

from evallint.config import Settings
from evallint.sources import read_source
from evallint.selection import ALWAYS_REPORTED, ignored_for_path, is_ignored, selected_codes
from evallint.suppression import NONE, Suppressions, read_suppressions
from evallint.types import Diagnostic, Location

_NOQA_WORD = re.compile("noqa", re.IGNORECASE)


def codes_of_run(settings: Settings) -> frozenset[str]:
    """Every code some file of the run reports: the rules to check."""
    codes = set(selected_codes(settings.select, settings.ignore, settings.extend_select))
    for _, nested in settings.nested:
        codes |= selected_codes(nested.select, nested.ignore, nested.extend_select)
    return frozenset(codes)


def reported(diagnostics: list[Diagnostic], results: list, settings: Settings, report_paths: set[str]) -> list[Diagnostic]:
    """The diagnostics of the files in ``report_paths`` that their settings and comments let through,
    with each unreadable or unparsable file's EVL001."""
    by_path = {r.path: r for r in results}
    selections: dict[int, frozenset[str]] = {}

    def codes_for(file_settings: Settings) -> frozenset[str]:
        key = id(file_settings)
        if key not in selections:
            selections[key] = selected_codes(file_settings.select, file_settings.ignore, file_settings.extend_select)
        return selections[key]

    kept: list[Diagnostic] = []
    used: dict[str, set[tuple[int, str]]] = {}
    for diagnostic in diagnostics:
        result = by_path.get(diagnostic.path)
        if result is None:
            continue
        verdict = _verdict(diagnostic, result.absolute, result, settings, codes_for)
        if verdict == _NOQA:
            used.setdefault(result.path, set()).add((_joined_row(result, diagnostic), diagnostic.code))
        elif verdict == _KEPT:
            kept.append(diagnostic)
    for result in results:
        # A file in a newer Python's syntax is not a parse error: the run names it once instead.
        if result.error is not None and not result.error.newer_python and result.absolute in report_paths:
            kept.append(parse_error(result))
    for result in results:
        if result.absolute not in report_paths or result.error is not None:
            continue
        file_settings = settings.for_file(result.absolute)
        enabled = codes_for(file_settings)
        if "EVL901" in enabled and not is_ignored(
            "EVL901", ignored_for_path(result.absolute, file_settings.per_file_ignores, file_settings.config_directory())
        ):
            kept.extend(_unused_noqa(result, used.get(result.path, set()), enabled))
    return kept


_KEPT, _DROPPED, _NOQA = "kept", "dropped", "noqa"


def _verdict(diagnostic: Diagnostic, absolute: str, result, settings: Settings, codes_for) -> str:
    """Kept, dropped by the file's selection or per-file-ignores or a file-level directive, or hidden
    by a `# noqa` on its line. ``result``: the file's FileResult, None where the file cannot be read."""
    file_settings = settings.for_file(absolute)
    if diagnostic.code not in codes_for(file_settings):
        return _DROPPED
    ignored = ignored_for_path(absolute, file_settings.per_file_ignores, file_settings.config_directory())
    if is_ignored(diagnostic.code, ignored):
        return _DROPPED
    if result is None:
        return _KEPT
    suppressions = suppressions_of(result)
    if diagnostic.code in suppressions.file_codes or "*" in suppressions.file_codes:
        return _DROPPED
    if suppressions.suppresses(diagnostic.code, _joined_row(result, diagnostic)):
        return _NOQA
    return _KEPT


def is_reported(diagnostic: Diagnostic, absolute: str, result, settings: Settings) -> bool:
    """Whether the lint would report this one diagnostic of the file ``absolute`` (``result``: its
    FileResult, or None where the file cannot be read): for `verify`'s findings."""
    if diagnostic.code == ALWAYS_REPORTED:
        return True

    def codes_for(file_settings: Settings) -> frozenset[str]:
        return selected_codes(file_settings.select, file_settings.ignore, file_settings.extend_select)

    return _verdict(diagnostic, absolute, result, settings, codes_for) == _KEPT


def parse_error(result) -> Diagnostic:
    error = result.error
    row, cell, column, message = error.row, None, error.column, error.message
    if result.cell_map is not None and result.cell_map.starts:
        column = result.cell_map.column(row, column)
        cell, row = result.cell_map.locate(row)
        message = result.cell_map.cell_rows_in(message, cell)
    location = Location(row, column)
    return Diagnostic(ALWAYS_REPORTED, message, result.path, location, location, None, cell)


def _joined_row(result, diagnostic: Diagnostic) -> int:
    if result.cell_map is not None and diagnostic.cell is not None:
        return result.cell_map.joined_row(diagnostic.cell, diagnostic.location.row)
    return diagnostic.location.row


def suppressions_of(result) -> Suppressions:
    """The file's `# noqa` comments, read from the same text the analysis read (unsaved text too)."""
    if not isinstance(result.suppressions, Suppressions):
        text = read_source(result.absolute)[0]
        result.suppressions = read_suppressions(text) if text is not None and _NOQA_WORD.search(text) else NONE
    return result.suppressions


def _unused_noqa(result, used: set[tuple[int, str]], enabled: frozenset[str]) -> list[Diagnostic]:
    from evallint.parsing.python import split_lines
    from evallint.rules import ALL_RULES
    from evallint.rules.evl901_unused_noqa import unused_noqa

    suppressions = suppressions_of(result)
    if not suppressions.comments:
        return []
    text = read_source(result.absolute)[0] or ""
    locate = result.cell_map.locate if result.cell_map is not None and result.cell_map.starts else None
    return unused_noqa(
        result.path, [line.rstrip("\r\n") for line in split_lines(text)], suppressions, used, enabled,
        frozenset(ALL_RULES), locate,
    )

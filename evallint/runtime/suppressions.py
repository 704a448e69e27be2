"""Which runtime findings `verify` reports: the lint's selection and suppressions, applied to what ran.

A finding the lint would not report (a code that is not selected, `# noqa` on
its line, a file-level `# evallint: noqa`, `per-file-ignores`) is not reported
when the probes see it either. A `# noqa` for the code on any line of the
finding's call stack silences it, because a static finding may sit on any of
those lines (a helper's call site as well as the forward inside it).
"""

from __future__ import annotations

import os

from evallint.runtime.cells import split_cell_filename


class RuntimeSuppressions:
    def __init__(self, settings) -> None:
        from evallint.selection import selected_codes

        self.settings = settings
        self.codes = selected_codes(settings.select, settings.ignore, settings.extend_select)
        self._files: dict[str, object] = {}

    def _file(self, absolute: str):
        """The lint's record of one file (text read lazily, as the lint reads it)."""
        result = self._files.get(absolute)
        if result is None:
            from evallint.sources import FileResult, read_source

            _, cell_map, _ = read_source(absolute)
            result = FileResult(_display(absolute), absolute, cell_map=cell_map)
            self._files[absolute] = result
        return result

    def silenced_at(self, code: str, filename: str, row: int) -> bool:
        """A `# noqa` covering ``code`` on this line of the call stack (``filename`` as the probes name it)."""
        from evallint.reporting import suppressions_of

        path, cell = split_cell_filename(filename)
        if not os.path.isfile(path):
            return False
        result = self._file(path)
        if cell is not None:
            if result.cell_map is None:
                return False
            try:
                row = result.cell_map.joined_row(cell, row)
            except KeyError:
                return False
        return suppressions_of(result).suppresses(code, row)

    def reported(self, diagnostic) -> bool:
        """Whether the lint would report ``diagnostic`` (a display path; ``cell`` set in a notebook)."""
        from evallint.reporting import is_reported

        if diagnostic.code not in self.codes:
            return False
        absolute = os.path.realpath(diagnostic.path)
        result = self._file(absolute) if os.path.isfile(absolute) else None
        return is_reported(diagnostic, absolute, result, self.settings)


def _display(absolute: str) -> str:
    try:
        relative = os.path.relpath(absolute)
    except ValueError:
        return absolute
    return absolute if relative.startswith("..") else relative


"""Lint one file from a text that is not on disk (an editor's buffer, stdin, the lines flake8 read),
with the whole project around the file, as `evallint FILE` would.

The editor integrations call this once per keystroke or per file: a ``BufferLinter`` keeps the
per-file results of the project's unchanged files between calls, and reads the cache for the
files it has not seen yet, so only the buffer itself is parsed again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from evallint.config import Settings, with_nested_configs
from evallint.discovery import SourcePath, discover, project_files
from evallint.engine import analyse
from evallint.indexing import index_file, index_files
from evallint.sources import FileResult, overlaid_sources
from evallint.internal_errors import InternalError, unique
from evallint.types import UNSAFE_EDITS, Diagnostic


@dataclass
class BufferReport:
    diagnostics: list[Diagnostic]
    files_checked: int
    results: dict[str, FileResult] = field(default_factory=dict)  # by display path, as LintReport's
    internal_errors: list[InternalError] = field(default_factory=list)  # as LintReport's
    newer_python: list[str] = field(default_factory=list)  # as LintReport's


def target_for(path: str, settings: Settings) -> list[SourcePath]:
    """The source a buffer is reported as: what discovery makes of ``path``, also for a file not
    saved yet (none when excludes drop it under ``force-exclude``)."""
    if os.path.exists(path):
        return discover([path], settings)
    try:
        display = os.path.relpath(path)
    except ValueError:
        display = path
    if display.startswith(".."):
        display = path
    return [SourcePath(display, os.path.abspath(path))]


class BufferLinter:
    def __init__(self, use_cache: bool = True) -> None:
        self.use_cache = use_cache
        # (absolute, display, mtime, size, what the summaries depend on) -> FileResult
        self._memo: dict[tuple, FileResult] = {}

    def lint(
        self,
        path: str,
        text: str | bytes,
        settings: Settings,
        other_texts: dict[str, str] | None = None,
        unsafe_fixes: str = UNSAFE_EDITS,
    ) -> BufferReport:
        """Diagnostics of the file ``path`` whose content is ``text`` (a notebook's JSON for an
        ``.ipynb``; bytes are decoded as the file's would be). ``other_texts`` (absolute path ->
        text) replace other files of the project on disk too: the editor's other unsaved buffers."""
        targets = target_for(path, settings)
        if not targets:
            return BufferReport([], 0)
        target = targets[0]
        settings = with_nested_configs(settings, [target.absolute])
        overlay = {k: v for k, v in (other_texts or {}).items() if k != target.absolute}
        overlay[target.absolute] = text
        sources = [target]
        if settings.project_root is not None:
            sources += [s for s in project_files(settings) if s.absolute != target.absolute]
        with overlaid_sources(overlay):
            target_result = index_file(target)
            results = [target_result, *self._context(sources[1:], overlay, settings)]
            errors = [r.internal_error for r in results if r.internal_error is not None]
            diagnostics = analyse(results, settings, {target.absolute}, unsafe_fixes=unsafe_fixes, jobs=1,
                                  internal_errors=errors)
        newer = [target_result.path] if target_result.error is not None and target_result.error.newer_python else []
        return BufferReport(diagnostics, 1, {r.path: r for r in results}, unique(errors), newer)

    def _context(self, sources: list[SourcePath], overlay: dict[str, str], settings: Settings) -> list[FileResult]:
        """The other files' results: from the overlay, this linter's memory, the cache, or parsed now."""
        results: dict[str, FileResult] = {}
        missing: list[tuple[SourcePath, tuple | None]] = []
        for source in sources:
            if source.absolute in overlay:
                results[source.absolute] = index_file(source)
                continue
            try:
                stat = Path(source.absolute).stat()
            except OSError:
                missing.append((source, None))
                continue
            key = (source.absolute, source.path, stat.st_mtime_ns, stat.st_size, settings.analysis_key())
            known = self._memo.get(key)
            if known is not None:
                results[source.absolute] = known
            else:
                missing.append((source, key))
        if missing:
            cache = None
            if self.use_cache:
                from evallint.cache import Cache

                cache = Cache.for_settings(settings)
            indexed = index_files([s for s, _ in missing], 1, cache=cache, prescreen=False, settings=settings)
            for (source, key), result in zip(missing, indexed):
                results[source.absolute] = result
                if key is not None:
                    self._memo[key] = result
        return [results[s.absolute] for s in sources]

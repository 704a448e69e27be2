"""What `evallint check` does with its options: settings, lint, fixes, report, exit status."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from evallint.config import load_settings, with_command_line, with_overrides
from evallint.engine import run
from evallint.errors import UsageError
from evallint.selection import validate_codes
from evallint.types import UNSAFE_EDITS, UNSAFE_NAMED, UNSAFE_PLANNED

# As ruff does: a run that met a bug of evallint's is not a clean run, nor one with findings.
EXIT_INTERNAL_ERROR = 2


@dataclass
class CheckOptions:
    paths: list[str]
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] | None = None
    output_format: str | None = None
    exit_zero: bool = False
    config_path: str | None = None
    jobs: int | None = None
    statistics: bool = False
    quiet: bool = False
    output_file: str | None = None
    fix: bool = False
    unsafe_fixes: bool = False
    diff: bool = False
    show_fixes: bool = False
    no_cache: bool = False
    cache_dir: str | None = None
    force_exclude: bool = False
    color: bool = False
    add_noqa: bool = False
    show_settings: bool = False
    show_files: bool = False
    stdin_filename: str | None = None  # lint stdin as this file (`-` alone among the paths: as "-")


def run_check(options: CheckOptions) -> int:
    reads_stdin = options.stdin_filename is not None or "-" in options.paths
    if reads_stdin:
        if options.paths not in ([], ["."], ["-"]):
            raise UsageError("with stdin (`-` or --stdin-filename) name no other path")
        options.stdin_filename = options.stdin_filename or "-"
        options.paths = [options.stdin_filename]
        if options.fix or options.diff or options.add_noqa:
            raise UsageError("--fix, --diff and --add-noqa rewrite files; they do not read stdin")
    if options.add_noqa and (options.fix or options.diff):
        raise UsageError("--add-noqa cannot be combined with --fix or --diff")
    settings = load_settings(options.config_path, options.paths)
    for name in ("select", "ignore", "extend_select"):
        value = getattr(options, name)
        if value is not None:
            validate_codes(value, f"--{name.replace('_', '-')}")
    settings = with_command_line(
        settings, select=options.select, ignore=options.ignore, extend_select=options.extend_select
    )
    settings = with_overrides(
        settings,
        cache_dir=options.cache_dir,
        force_exclude=options.force_exclude or None,
    )
    if options.show_files or options.show_settings:
        return _show(options, settings)
    output_format = options.output_format or settings.output_format or "concise"
    from evallint.output import EDIT_FORMATS, FORMATS

    if output_format not in FORMATS:
        raise UsageError(f"output format '{output_format}' is not available; choose one of {', '.join(FORMATS)}")
    # An unsafe fix's edits cost a libcst parse of its file: built only where they are applied,
    # shown or written out. The other outputs show whether it exists, which planning tells at the
    # cost of the statement around it, except concise output without its summary, which names none.
    if options.fix or options.diff or options.unsafe_fixes or options.show_fixes or output_format in EDIT_FORMATS:
        unsafe_fixes = UNSAFE_EDITS
    elif output_format == "concise" and options.quiet and not options.statistics:
        unsafe_fixes = UNSAFE_NAMED
    else:
        unsafe_fixes = UNSAFE_PLANNED
    if reads_stdin:
        from evallint.buffer_lint import BufferLinter

        report = BufferLinter(use_cache=not options.no_cache).lint(
            options.stdin_filename, _read_stdin(), settings, unsafe_fixes=unsafe_fixes
        )
    else:
        report = run(
            options.paths, settings, options.jobs, use_cache=not options.no_cache, unsafe_fixes=unsafe_fixes
        )
    diagnostics = report.diagnostics
    for error in report.internal_errors:
        print(error.line(), file=sys.stderr)
    if report.newer_python:
        print(_newer_python_notice(report.newer_python), file=sys.stderr)
    if report.files_checked == 0 and not reads_stdin:
        _warn_no_files(options.paths)
    if options.add_noqa:
        return _add_noqa(report)
    outcome = None
    if options.fix or options.diff:
        from evallint.apply_fixes import apply_fixes, print_notes

        outcome = apply_fixes(report, options, settings)
        diagnostics = outcome.remaining
        print_notes(outcome.notes)
        if options.diff:
            status = _report_diff(outcome, options)
            return EXIT_INTERNAL_ERROR if report.internal_errors else status
    options.color = options.output_file is None and _stream_is_terminal() and not _no_color()
    if options.statistics:
        text = _statistics(diagnostics, output_format)
    else:
        from evallint.output import renderer

        text = renderer(output_format)(diagnostics, options)
        if output_format in ("concise", "full") and not options.quiet:
            text += _summary(diagnostics, outcome, options)
    if options.output_file:
        write_output_file(options.output_file, text)
    else:
        sys.stdout.write(text)
    if report.internal_errors:
        return EXIT_INTERNAL_ERROR
    if options.exit_zero:
        return 0
    return 1 if diagnostics else 0


def _newer_python_notice(paths: list[str]) -> str:
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (
        f"evallint: not analysed: {shown} ({_plural(len(paths), 'file')} in the syntax of a Python newer than "
        f"{running}, which runs evallint); run evallint with that newer Python to analyse them"
    )


def write_output_file(path: str, text: str) -> None:
    """``-o``: the report into ``path``, making its missing parent directories (as ruff does)."""
    import os

    try:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise UsageError(f"cannot write the report to {path}: {error.strerror or error}") from None


def _add_noqa(report) -> int:
    """`--add-noqa`: write the directives, say how many (on stderr, as ruff does), exit 0."""
    from evallint.add_noqa import add_noqa
    from evallint.apply_fixes import print_notes

    outcome = add_noqa(report)
    print_notes(outcome.notes)
    added = sum(outcome.added.values())
    print(f"Added {added} noqa {_plural(added, 'directive')}.", file=sys.stderr)
    return 0


def _read_stdin() -> bytes:
    """stdin's bytes, decoded later as the file's would be (coding cookie, BOM; a notebook's JSON)."""
    return sys.stdin.buffer.read()


def _summary(diagnostics, outcome=None, options=None) -> str:
    """ruff's closing lines: counts, what `--fix` would do, what it did (with `--show-fixes`, per file)."""
    fixed = outcome.fixed_count if outcome is not None else 0
    lines = []
    if outcome is not None and options is not None and options.show_fixes and fixed:
        from evallint.rules import ALL_RULES

        lines.append(f"Fixed {fixed} {_plural(fixed, 'error')}:")
        for path, counts in sorted(outcome.fixed.items()):
            lines.append(f"- {path}:")
            lines.extend(f"    {n} × {code} ({ALL_RULES[code].name})" for code, n in sorted(counts.items()))
    if not diagnostics:
        lines.append(f"Found {fixed} {_plural(fixed, 'error')} ({fixed} fixed, 0 remaining)." if fixed else "All checks passed!")
        return "\n".join(lines) + "\n"
    total = len(diagnostics) + fixed
    if fixed:
        lines.append(f"Found {total} {_plural(total, 'error')} ({fixed} fixed, {len(diagnostics)} remaining).")
    else:
        lines.append(f"Found {total} {_plural(total, 'error')}.")
    # A fix that cannot be built is None (JSON `"fix": null`) and not counted; without
    # --unsafe-fixes an unsafe fix is planned rather than written, which decides the same.
    safe = sum(1 for d in diagnostics if d.fix is not None and d.fix.applicability == "safe")
    unsafe = sum(1 for d in diagnostics if d.fix is not None and d.fix.applicability == "unsafe")
    unsafe_enabled = options is not None and options.unsafe_fixes
    fixable = safe + (unsafe if unsafe_enabled else 0)
    if fixable:
        flags = "`--fix --unsafe-fixes`" if unsafe_enabled and unsafe else "`--fix`"
        lines.append(f"[*] {fixable} fixable with the {flags} option.")
    if unsafe and not unsafe_enabled:
        lines.append(f"({unsafe} hidden {_plural(unsafe, 'fix')} can be enabled with the `--unsafe-fixes` option.)")
    return "\n".join(lines) + "\n"


def _plural(count: int, noun: str) -> str:
    if count == 1:
        return noun
    return noun + ("es" if noun.endswith("x") else "s")


def _report_diff(outcome, options) -> int:
    """`--diff`: the diff on stdout, a count on stderr, nothing written; exit 1 when there is something to fix."""
    if options.output_file:
        write_output_file(options.output_file, outcome.diff)
    else:
        sys.stdout.write(outcome.diff)
    fixed = outcome.fixed_count
    if not options.quiet:
        message = f"Would fix {fixed} {_plural(fixed, 'error')}." if fixed else "No errors would be fixed."
        print(message, file=sys.stderr)
    if options.exit_zero:
        return 0
    return 1 if outcome.diff else 0


def _statistics(diagnostics, output_format: str = "concise") -> str:
    """A count per rule: ruff's tab-separated lines, or with --output-format json ruff's list of
    {code, name, count, fixable}."""
    from collections import Counter

    from evallint.rules import ALL_RULES

    counts = Counter(d.code for d in diagnostics)
    fixable = Counter(d.code for d in diagnostics if d.fix is not None and d.fix.edits)
    if output_format == "json":
        import json

        rows = [
            {"code": code, "name": ALL_RULES[code].name, "count": count, "fixable": fixable[code] > 0}
            for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ]
        return json.dumps(rows, indent=2) + "\n"
    lines = [f"{count:>5}\t{code}\t{ALL_RULES[code].name}" for code, count in sorted(counts.items())]
    return "\n".join(lines) + ("\n" if lines else "")


def _warn_no_files(paths: list[str]) -> None:
    print(f"evallint: warning: no Python files found under {', '.join(paths)}", file=sys.stderr)


def _show(options: CheckOptions, settings) -> int:
    """--show-files: the files a run would lint; --show-settings: the settings it would use."""
    from evallint.config import describe_settings, with_nested_configs
    from evallint.discovery import discover

    targets = discover(options.paths, settings)
    if not targets:
        _warn_no_files(options.paths)
    if options.show_files:
        for target in targets:
            print(target.path)
    if options.show_settings:
        settings = with_nested_configs(settings, [t.absolute for t in targets])
        print(describe_settings(settings), end="")
    return 0


def _stream_is_terminal() -> bool:
    return hasattr(sys.stdout, "isatty") and sys.stdout.isatty()


def _no_color() -> bool:
    import os

    return "NO_COLOR" in os.environ

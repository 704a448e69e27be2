"""The `evallint` command.

Exit codes: 0 no findings, 1 findings, 2 usage or configuration error, or an internal error
(contained: everything else is still reported).
`evallint [PATHS...]` lints (the implicit `check` command); `evallint rule CODE`
prints a rule's documentation; `evallint verify SCRIPT` runs a script under
torch hooks (imported only for that command).
"""

from __future__ import annotations

import os
import sys

import click

from evallint import __version__
from evallint.errors import UsageError
from evallint.internal_errors import InternalError, describe
from evallint.lifetime import kept_until_exit
from evallint.selection import split_codes
from evallint.strict import strict

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class _DefaultToCheck(click.Group):
    """`evallint src/` means `evallint check src/`, as with ruff's default command."""

    def parse_args(self, ctx, args):
        if args and args[0] in ("--help", "-h", "--version"):
            return super().parse_args(ctx, args)
        if not args or args[0] not in self.commands:
            args = ["check", *args]
        return super().parse_args(ctx, args)


def entry() -> None:
    """The console script (and ``python -m evallint``): ``main``, then a hard exit.

    After a check the process holds the whole project's IR and analysis. Tearing
    that down object by object (a last garbage collection, then one free per
    object) takes longer than some whole runs on a large tree.
    Output is flushed and files are closed by then, so the process ends without
    it, as mypy's does; and the steps of a run keep what they built instead of
    freeing it as they return (``evallint.lifetime``).
    """
    interrupted = _stop_on_signals()
    with kept_until_exit():  # never left: the process ends inside it
        try:
            main()
            code: object = 0
        except SystemExit as done:
            code = done.code
        except Exception as error:  # a bug of evallint's that nothing closer contained
            if strict():
                raise
            print(InternalError("running", None, None, describe(error)).line(), file=sys.stderr)
            code = EXIT_USAGE
        if interrupted:
            code = 128 + interrupted[0]  # as a shell reports a process ended by that signal
        elif code is None:
            code = EXIT_CLEAN
        elif not isinstance(code, int):
            print(code, file=sys.stderr)
            code = EXIT_FINDINGS
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass  # a closed pipe or stream: nothing more can reach the reader
        os._exit(code)


def _stop_on_signals() -> list[int]:
    """Ctrl-C and SIGTERM unwind the run as an error does, so that its worker pools are stopped
    (``evallint.scheduler.worker_pool``) before the process ends; the list gets the signal's number."""
    import signal

    received: list[int] = []

    def stop(number, frame):
        if received:  # asked again while stopping: end now (workers end with this process)
            os._exit(128 + received[0])
        received.append(number)
        raise KeyboardInterrupt

    for number in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(number, stop)
        except (ValueError, OSError):
            pass  # not the main thread, or a signal this platform lacks
    return received


@click.group(cls=_DefaultToCheck, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="evallint")
def main() -> None:
    """Find train/eval-mode and autograd-mode bugs in PyTorch training code."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, help="Rule codes or prefixes to report (comma-separated), e.g. EVL1.")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes not to report.")
@click.option("--extend-select", multiple=True, help="Codes to report in addition to the selected ones.")
@click.option(
    "--output-format",
    type=click.Choice(["concise", "full", "json", "json-lines", "sarif", "github", "junit"]),
    default=None,
    help="How to print findings (default: concise).",
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--config", "config_path", type=click.Path(), default=None, help="Read settings from this TOML file.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Worker processes (default: CPU count).")
@click.option("--statistics", is_flag=True, help="Print a count per rule instead of each finding.")
@click.option("--quiet", "-q", is_flag=True, help="Print findings only, no summary line.")
@click.option("--output-file", "-o", type=click.Path(dir_okay=False), default=None, help="Write the report to a file.")
@click.option("--fix", is_flag=True, help="Apply safe fixes.")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply (or show) unsafe fixes.")
@click.option("--diff", is_flag=True, help="Print the fixes as a diff instead of writing them.")
@click.option("--show-fixes", is_flag=True, help="List the fixes applied or available.")
@click.option("--force-exclude", is_flag=True, help="Apply exclusions to files named on the command line too.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None, help="Where to keep the cache.")
@click.option("--show-settings", is_flag=True, help="Print the settings the run would use, and lint nothing.")
@click.option("--show-files", is_flag=True, help="Print the files the run would lint, and lint nothing.")
@click.option("--add-noqa", is_flag=True, help="Add `# noqa: CODES` to each line with findings; change nothing else.")
@click.option(
    "--stdin-filename", default=None,
    help="Read the source from stdin and report it as this file, with that file's project and settings.",
)
def check(paths, select, ignore, extend_select, output_format, exit_zero, config_path, jobs, statistics, quiet,
          output_file, fix, unsafe_fixes, diff, show_fixes, force_exclude, no_cache, cache_dir, show_settings,
          show_files, add_noqa, stdin_filename) -> None:
    """Lint PATHS (files or directories; default: the current directory; `-`: stdin)."""
    from evallint.runner import CheckOptions, run_check

    options = CheckOptions(
        paths=list(paths) or ["."],
        select=split_codes(select),
        ignore=split_codes(ignore),
        extend_select=split_codes(extend_select),
        output_format=output_format,
        exit_zero=exit_zero,
        config_path=config_path,
        jobs=jobs,
        statistics=statistics,
        quiet=quiet,
        output_file=output_file,
        fix=fix,
        unsafe_fixes=unsafe_fixes,
        diff=diff,
        show_fixes=show_fixes,
        no_cache=no_cache,
        cache_dir=cache_dir,
        force_exclude=force_exclude,
        stdin_filename=stdin_filename,
        add_noqa=add_noqa,
        show_settings=show_settings,
        show_files=show_files,
    )
    try:
        status = run_check(options)
    except UsageError as error:
        click.echo(f"evallint: error: {error}", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(status)


@main.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="Print the documentation of every rule.")
def rule(code: str | None, show_all: bool) -> None:
    """Print the documentation of rule CODE (every rule's with --all; an index without either)."""
    from evallint.rules import ALL_RULES

    if show_all:
        click.echo("\n".join(item.render_doc() for item in ALL_RULES.values()), nl=False)
        return
    if code is None:
        for rule_code, item in ALL_RULES.items():
            off = "" if item.default_enabled else " (off by default)"
            click.echo(f"{rule_code}  {item.name:<28} {item.summary}{off}")
        return
    item = ALL_RULES.get(code.upper())
    if item is None:
        click.echo(f"evallint: error: unknown rule code '{code}'; run `evallint rule` to list them", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(item.render_doc(), nl=False)


@main.command()
def server() -> None:
    """Run the language server on stdio (for editors: diagnostics as you type, fixes, rule docs)."""
    try:
        from evallint.server import serve
    except ImportError as error:
        message = f"the language server needs pygls ({error}); pip install 'evallint[server]'"
        click.echo(f"evallint: error: {message}", err=True)
        sys.exit(EXIT_USAGE)
    serve()


# `evallint verify` lives in evallint.runtime; its command module imports torch only when it runs.
from evallint.runtime.command import verify  # noqa: E402

main.add_command(verify, "verify")

"""`evallint verify`: lint a script, run it under the probes, give every finding a verdict.

Importing this module is cheap and never imports torch: the CLI registers the
command at startup, and only running it loads the harness (and, in the child
process, torch).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import click

from evallint.runtime.cells import cell_filename, code_cells, is_notebook, split_cell_filename

DEFAULT_TIMEOUT = 300.0
# Without --max-steps, a script is stopped once every finding has a verdict
# and this many training steps have run.
SETTLE_STEPS = 200
STDERR_TAIL_LINES = 20
VERDICT_LABELS = {
    "confirmed": "CONFIRMED",
    "not-reproduced": "NOT REPRODUCED",
    "inconclusive": "INCONCLUSIVE",
    "not-reached": "NOT REACHED",
}
STOP_NOTES = {
    "budget": "the run was stopped by --max-steps after {steps}, so later iterations were not observed",
    "settled": "the run was stopped once every finding had a verdict, after {steps}, so later iterations were not observed",
    "timeout": "the run was stopped by the timeout after {steps}, so later iterations were not observed",
    "error": "the script failed after {steps}, so the rest of it did not run",
}
# What a finding's line does that the crash came before.
CRASH_BEFORE = {
    "EVL101": "it called a model",
    "EVL201": "it called a model",
    "EVL102": "it trained a model",
    "EVL103": "it switched a model to eval mode",
}


@dataclass
class VerifyReport:
    script: str
    device: str
    exit_status: int | None
    stopped_by: str
    script_error: dict | None
    verdicts: list  # verdicts.Verdict
    runtime_findings: list  # matcher.RuntimeFinding
    training_steps: int
    seconds: float
    stderr_tail: list[str]
    internal_errors: list[str]
    # "the script did not run: ..." when it failed before verify could check anything.
    failure: str | None = None

    @property
    def exit_code(self) -> int:
        if self.failure is not None:
            return 2
        confirmed = any(v.verdict == "confirmed" for v in self.verdicts)
        return 1 if confirmed or self.runtime_findings else 0


def build_report(
    script: str,
    script_args: list[str] | tuple[str, ...] = (),
    *,
    diagnostics: list | None = None,
    settings=None,
    device: str = "auto",
    timeout: float = DEFAULT_TIMEOUT,
    max_steps: int | None = None,
    echo_stdout=None,
    echo_stderr=None,
) -> VerifyReport:
    """Lint ``script`` (unless ``diagnostics`` are given), run it, and judge every finding.

    ``settings`` (the lint's: selection, suppressions) also decide which
    runtime findings are reported; by default they are read as the lint reads
    them. ``max_steps`` stops the script after exactly that many training
    steps; without it the script is stopped once every finding has a verdict
    and ``SETTLE_STEPS`` training steps have run.
    """
    from evallint.runtime.harness import VerifyError, run_script
    from evallint.runtime.matcher import runtime_findings
    from evallint.runtime.verdicts import all_settled, judge_all
    from evallint.runtime.suppressions import RuntimeSuppressions

    if settings is None:
        from evallint.config import load_settings
        from evallint.errors import UsageError

        try:
            settings = load_settings(None, [script])
        except UsageError as error:
            raise VerifyError(str(error)) from None
    real = os.path.realpath(script)
    if is_notebook(script):
        _register_cells(real)
    if diagnostics is None:
        from evallint.engine import lint_paths

        diagnostics = lint_paths([script], settings)
    diagnostics = list(diagnostics)
    # The probes name a notebook's lines by cell: judge each finding in those terms.
    judged = [_in_cell_file(d) for d in diagnostics]

    def should_stop(observations) -> bool:
        return observations.training_steps >= SETTLE_STEPS and all_settled(judged, observations)

    result = run_script(script, list(script_args), device=device, timeout=timeout,
                        should_stop=should_stop if max_steps is None else None,
                        max_steps=max_steps, echo_stdout=echo_stdout, echo_stderr=echo_stderr)
    obs = result.observations
    verdicts = [
        _ran_before_the_failure(type(v)(original, v.verdict, v.evidence), v.diagnostic, obs.error)
        for original, v in zip(diagnostics, judge_all(judged, obs))
    ]
    steps = obs.training_steps
    verdicts = _with_stop_note(verdicts, result.stopped_by, steps)
    suppressions = RuntimeSuppressions(settings)
    extra = runtime_findings(judged, obs, finished=result.stopped_by == "exit",
                             project_root=os.path.dirname(real),
                             suppressed=suppressions.silenced_at)
    extra = [type(f)(_display_path(_out_of_cell_file(f.diagnostic)), f.evidence) for f in extra]
    extra = [f for f in extra if suppressions.reported(f.diagnostic)]
    stderr_tail = result.stderr.last_lines(STDERR_TAIL_LINES)
    return VerifyReport(
        script=script,
        device=result.device,
        exit_status=result.exit_status,
        stopped_by=result.stopped_by,
        script_error=result.script_error,
        verdicts=verdicts,
        runtime_findings=extra,
        training_steps=steps,
        seconds=result.seconds,
        stderr_tail=stderr_tail,
        internal_errors=obs.internal_errors,
        failure=_did_not_run(result, verdicts, extra, steps),
    )


def _with_stop_note(verdicts: list, stopped_by: str, steps: int) -> list:
    from evallint.runtime.judging import CONFIRMED

    note = STOP_NOTES.get(stopped_by)
    if not note:
        return verdicts
    note = note.format(steps=_steps(steps))
    return [
        v if v.verdict == CONFIRMED else type(v)(v.diagnostic, v.verdict, f"{v.evidence}; {note}")
        for v in verdicts
    ]


def _steps(steps: int) -> str:
    return f"{steps} training step" + ("" if steps == 1 else "s")


def _ran_before_the_failure(verdict, judged, error: dict | None):
    """A finding whose own line is on the failing traceback ran: it is not NOT REACHED.

    The line started and raised before it did what the finding is about, so
    there is nothing to confirm or refute: it is INCONCLUSIVE, and the evidence
    says why.
    """
    from evallint.runtime.judging import INCONCLUSIVE, NOT_REACHED

    if verdict.verdict != NOT_REACHED or error is None:
        return verdict
    path, row = os.path.realpath(judged.path), judged.location.row
    if not any(frame[0] == path and frame[1] == row for frame in error.get("frames", [])):
        return verdict
    before = CRASH_BEFORE.get(judged.code, "anything there could be checked")
    return type(verdict)(
        verdict.diagnostic, INCONCLUSIVE,
        f"line {row} ran and raised {error['type']}: {_shorten(error['message'])} before {before}",
    )


def _shorten(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _did_not_run(result, verdicts: list, runtime: list, steps: int) -> str | None:
    """"the script did not run: ..." when it failed before anything could be checked.

    Failed: an exception, a signal, or a non-zero exit status. Before anything
    could be checked: no finding was confirmed or refuted (each is not reached
    or inconclusive; in a script without findings, no training step ran) and
    the probes saw no bug of their own.
    """
    from evallint.runtime.judging import INCONCLUSIVE, NOT_REACHED

    failed = result.stopped_by == "error" or (
        result.stopped_by == "exit" and result.exit_status not in (0, None)
    )
    if not failed or runtime:
        return None
    if verdicts:
        if any(v.verdict not in (NOT_REACHED, INCONCLUSIVE) for v in verdicts):
            return None
    elif steps:
        return None
    when = ("before its first training step" if steps == 0
            else f"after {_steps(steps)}, before any finding was confirmed or refuted")
    error = result.script_error
    if error is None:
        how = f"it exited with status {result.exit_status} {when}"
    elif error.get("type") == "StartupError":
        how = "the verifier could not start it"
    elif error.get("type") == "Killed":
        how = f"{error['message']} {when}".replace("the script", "it", 1)
    else:
        how = f"it failed {when}: {error['type']}: {_shorten(error['message'])}"
    return f"the script did not run: {how}"


def _register_cells(notebook: str) -> None:
    """Put the notebook's cells where the judges read source that is not a file of its own."""
    import linecache

    from evallint.parsing.notebook import NotebookError
    from evallint.runtime.harness import VerifyError

    try:
        with open(notebook, "rb") as handle:
            cells = code_cells(handle.read())
    except (OSError, NotebookError) as error:
        raise VerifyError(f"cannot run {notebook}: {error}") from None
    for number, source in cells:
        filename = cell_filename(notebook, number)
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def _in_cell_file(diagnostic):
    """A notebook finding as the probes see it: in the cell's own file, row within the cell."""
    from dataclasses import replace

    if diagnostic.cell is None:
        return diagnostic
    return replace(diagnostic, path=cell_filename(os.path.realpath(diagnostic.path), diagnostic.cell),
                   cell=None)


def _out_of_cell_file(diagnostic):
    from dataclasses import replace

    path, cell = split_cell_filename(diagnostic.path)
    return diagnostic if cell is None else replace(diagnostic, path=path, cell=cell)


def _display_path(diagnostic):
    """Show runtime findings' paths the way lint output shows paths: relative to the working directory."""
    from dataclasses import replace

    path = diagnostic.path
    cwd = os.getcwd()
    if os.path.isabs(path):
        try:
            relative = os.path.relpath(path, cwd)
        except ValueError:
            relative = path
        if not relative.startswith(".."):
            path = relative
    return replace(diagnostic, path=path)


# ---- rendering ----------------------------------------------------------------


def verdict_to_json(verdict) -> dict:
    """One judged static finding as JSON (shared with the pytest plugin's report)."""
    from evallint.output.json_format import diagnostic_to_json

    item = diagnostic_to_json(verdict.diagnostic)
    item["verdict"] = verdict.verdict
    item["evidence"] = verdict.evidence
    return item


def runtime_finding_to_json(finding) -> dict:
    from evallint.output.json_format import diagnostic_to_json

    item = diagnostic_to_json(finding.diagnostic)
    item["evidence"] = finding.evidence
    return item


def report_to_json(report: VerifyReport) -> dict:
    findings = [verdict_to_json(v) for v in report.verdicts]
    extra = [runtime_finding_to_json(f) for f in report.runtime_findings]
    return {
        "script": report.script,
        "device": report.device,
        "exit_status": report.exit_status,
        "stopped_by": report.stopped_by,
        "training_steps": report.training_steps,
        "seconds": round(report.seconds, 3),
        "script_ran": report.failure is None,
        "failure": report.failure,
        "stderr_tail": report.stderr_tail,
        "script_error": report.script_error,
        "findings": findings,
        "runtime_findings": extra,
    }


def _position(diagnostic) -> str:
    cell = f"cell {diagnostic.cell}:" if diagnostic.cell is not None else ""
    return f"{diagnostic.path}:{cell}{diagnostic.location.row}:{diagnostic.location.column}"


def verdict_to_text(verdict) -> str:
    """One judged static finding as text (shared with the pytest plugin's report)."""
    d = verdict.diagnostic
    return (f"{VERDICT_LABELS.get(verdict.verdict, verdict.verdict.upper())}: "
            f"{_position(d)}: {d.code} {d.message}\n    evidence: {verdict.evidence}")


def runtime_finding_to_text(finding) -> str:
    d = finding.diagnostic
    return (f"FOUND AT RUNTIME: {_position(d)}: {d.code} {d.message}\n"
            f"    evidence: {finding.evidence}")


def report_to_text(report: VerifyReport) -> str:
    blocks = [verdict_to_text(v) for v in report.verdicts]
    blocks += [runtime_finding_to_text(f) for f in report.runtime_findings]
    error = report.script_error
    if report.failure is not None:
        lines = [report.failure]
        if report.stderr_tail:
            lines.append("The last lines of its stderr:")
            lines.extend(f"  | {line}" for line in report.stderr_tail)
        blocks.append("\n".join(lines))
    elif error is not None:
        lines = [f"The script failed: {error['type']}: {error['message']}"]
        for frame in error.get("frames", [])[-5:]:
            lines.append(f'  File "{frame["filename"]}", line {frame["line"]}, in {frame["function"]}')
            if frame.get("code"):
                lines.append(f"    {frame['code']}")
        for line in error.get("stderr_tail", [])[-10:]:
            lines.append(f"  | {line}")
        blocks.append("\n".join(lines))
    if report.internal_errors:
        blocks.append("Note: a probe failed, so some evidence may be missing: "
                      + report.internal_errors[0])
    counts = {key: sum(1 for v in report.verdicts if v.verdict == key) for key in VERDICT_LABELS}
    steps = report.training_steps
    how = {
        "exit": f"exited with status {report.exit_status}",
        "error": "failed",
        "timeout": "was stopped by the timeout",
        "budget": "was stopped by --max-steps",
        "settled": "was stopped once every finding had a verdict",
    }[report.stopped_by]
    blocks.append(
        f"{report.script} ran on {report.device} and {how} after {steps} training "
        f"step{'' if steps == 1 else 's'} ({report.seconds:.1f}s): "
        f"{counts['confirmed']} confirmed, {counts['not-reproduced']} not reproduced, "
        f"{counts['inconclusive']} inconclusive, {counts['not-reached']} not reached, "
        f"{len(report.runtime_findings)} found at runtime."
    )
    return "\n\n".join(blocks)


# ---- command -----------------------------------------------------------------


@click.command(
    "verify",
    context_settings={"help_option_names": ["-h", "--help"]},
    short_help="Run a script under torch hooks and confirm its findings.",
)
@click.argument("script", type=click.Path(exists=True, dir_okay=False))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="auto",
              show_default=True,
              help="cpu hides GPUs from the script; cuda requires one; auto uses what is there.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT,
              show_default=True, metavar="SECONDS",
              help="Wall-clock limit; the script's whole process tree is killed when it is reached.")
@click.option("--max-steps", type=click.IntRange(min=1), default=None, metavar="N",
              help="Stop the script after exactly N training steps (optimizer steps; backward() "
                   f"calls in a script without an optimizer). Without it the script is stopped once "
                   f"every finding has a verdict and {SETTLE_STEPS} training steps have run.")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--select", multiple=True, help="Rule codes or prefixes to verify (comma-separated), e.g. EVL1.")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes not to report, statically or at runtime.")
@click.option("--extend-select", multiple=True, help="Codes to verify in addition to the selected ones.")
@click.option("--config", "config_path", type=click.Path(), default=None,
              help="Read settings from this TOML file.")
@click.option("--quiet", "-q", is_flag=True, help="Do not show the script's own output.")
@click.pass_context
def verify(ctx, script, script_args, device, timeout, max_steps, output_format, select, ignore,
           extend_select, config_path, quiet):
    """Run SCRIPT (as `python SCRIPT SCRIPT_ARGS...` would) under torch hooks and confirm
    each static finding with evidence. SCRIPT may be a notebook: its code cells run in order.

    Pass the script's own arguments after `--`. Findings silenced with `# noqa`
    or by the configuration are not reported at runtime either. The script's
    output is shown as it runs (on stderr with --output-format json). Exit
    status: 1 when a finding is confirmed or a bug is found at runtime, 0
    otherwise, 2 for usage errors and when the script did not run (it failed
    before any finding was confirmed or refuted, or before its first training step).
    """
    from evallint.runtime.harness import VerifyError

    try:
        settings = _settings(config_path, script, select, ignore, extend_select)
        echo_stdout = echo_stderr = None
        if not quiet:
            echo_stderr = click.get_binary_stream("stderr")
            # JSON on stdout stays parseable: the script's stdout goes to stderr.
            echo_stdout = echo_stderr if output_format == "json" else click.get_binary_stream("stdout")
        report = build_report(script, script_args, settings=settings, device=device,
                              timeout=timeout, max_steps=max_steps,
                              echo_stdout=echo_stdout, echo_stderr=echo_stderr)
    except VerifyError as exc:
        click.echo(f"evallint verify: {exc}", err=True)
        ctx.exit(2)
        return
    if output_format == "json":
        click.echo(json.dumps(report_to_json(report), indent=2))
    else:
        click.echo(report_to_text(report))
    ctx.exit(report.exit_code)


def _settings(config_path, script, select, ignore, extend_select):
    """The lint's settings for SCRIPT, with the command line's selection on top."""
    from evallint.config import load_settings
    from evallint.config import with_overrides
    from evallint.errors import UsageError
    from evallint.runtime.harness import VerifyError
    from evallint.selection import split_codes, validate_codes

    overrides = {"select": split_codes(select), "ignore": split_codes(ignore),
                 "extend_select": split_codes(extend_select)}
    try:
        settings = load_settings(config_path, [script])
        for name, value in overrides.items():
            if value is not None:
                validate_codes(value, f"--{name.replace('_', '-')}")
    except UsageError as error:
        raise VerifyError(str(error)) from None
    return with_overrides(settings, **overrides)

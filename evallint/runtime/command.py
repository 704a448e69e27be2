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

DEFAULT_TIMEOUT = 300.0
DEFAULT_MAX_STEPS = 200
VERDICT_LABELS = {
    "confirmed": "CONFIRMED",
    "not-reproduced": "NOT REPRODUCED",
    "not-reached": "NOT REACHED",
}
STOP_NOTES = {
    "budget": "the run was stopped by the step budget after {steps}, so later iterations were not observed",
    "timeout": "the run was stopped by the timeout after {steps}, so later iterations were not observed",
    "error": "the script failed after {steps}, so the rest of it did not run",
}


@dataclass
class VerifyReport:
    script: str
    device: str
    exit_status: int | None
    stopped_by: str
    script_error: dict | None
    verdicts: list  # matcher.Verdict
    runtime_findings: list  # matcher.RuntimeFinding
    training_steps: int
    seconds: float
    stderr_tail: list[str]
    internal_errors: list[str]

    @property
    def exit_code(self) -> int:
        confirmed = any(v.verdict == "confirmed" for v in self.verdicts)
        return 1 if confirmed or self.runtime_findings else 0


def build_report(
    script: str,
    script_args: list[str] | tuple[str, ...] = (),
    *,
    diagnostics: list | None = None,
    device: str = "auto",
    timeout: float = DEFAULT_TIMEOUT,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> VerifyReport:
    """Lint ``script`` (unless ``diagnostics`` are given), run it, and judge every finding."""
    from evallint.runtime.harness import run_script
    from evallint.runtime.matcher import (
        CONFIRMED, all_settled, judge_all, runtime_findings,
    )

    if diagnostics is None:
        from evallint.engine import lint_paths

        diagnostics = lint_paths([script])
    diagnostics = list(diagnostics)

    def should_stop(observations) -> bool:
        return observations.training_steps >= max_steps and all_settled(diagnostics, observations)

    result = run_script(script, list(script_args), device=device, timeout=timeout,
                        should_stop=should_stop)
    obs = result.observations
    verdicts = judge_all(diagnostics, obs)
    steps = obs.training_steps
    note = STOP_NOTES.get(result.stopped_by)
    if note:
        note = note.format(steps=f"{steps} training step" + ("" if steps == 1 else "s"))
        verdicts = [
            v if v.verdict == CONFIRMED else type(v)(v.diagnostic, v.verdict, f"{v.evidence}; {note}")
            for v in verdicts
        ]
    project_root = os.path.dirname(os.path.realpath(script))
    extra = runtime_findings(diagnostics, obs, finished=result.stopped_by == "exit",
                             project_root=project_root)
    extra = [type(f)(_display_path(f.diagnostic), f.evidence) for f in extra]
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
        stderr_tail=result.stderr.last_lines(20),
        internal_errors=obs.internal_errors,
    )


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
    if error is not None:
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
        "budget": "was stopped once the step budget was spent",
    }[report.stopped_by]
    blocks.append(
        f"{report.script} ran on {report.device} and {how} after {steps} training "
        f"step{'' if steps == 1 else 's'} ({report.seconds:.1f}s): "
        f"{counts['confirmed']} confirmed, {counts['not-reproduced']} not reproduced, "
        f"{counts['not-reached']} not reached, {len(report.runtime_findings)} found at runtime."
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
@click.option("--max-steps", type=click.IntRange(min=0), default=DEFAULT_MAX_STEPS,
              show_default=True, metavar="N",
              help="Stop the script once every finding has a verdict and N training steps have run.")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.pass_context
def verify(ctx, script, script_args, device, timeout, max_steps, output_format):
    """Run SCRIPT (as `python SCRIPT SCRIPT_ARGS...` would) under torch hooks and confirm
    each static finding with evidence.

    Pass the script's own arguments after `--`. Exit status: 1 when a finding is
    confirmed or a bug is found at runtime, 0 otherwise, 2 for usage errors.
    """
    from evallint.runtime.harness import VerifyError

    try:
        report = build_report(script, script_args, device=device, timeout=timeout,
                              max_steps=max_steps)
    except VerifyError as exc:
        click.echo(f"evallint verify: {exc}", err=True)
        ctx.exit(2)
        return
    if output_format == "json":
        click.echo(json.dumps(report_to_json(report), indent=2))
    else:
        click.echo(report_to_text(report))
    ctx.exit(report.exit_code)

"""Score evallint on real train/eval-mode and no_grad bugs from public repositories' history.

    python benchmarks/realbugs/score.py [--mirror DIR] [--json] [--cases FILE] [--only ID ...]

Each case in cases.toml names a repository, a commit, a file and a line (see README.md). For each
(repository, commit) the project's Python files and notebooks at that commit are written into a
temporary directory from the local git snapshot (nothing is fetched), evallint runs on that tree
once (`python -m evallint --output-format json --no-cache DIR`, with the evallint that PYTHONPATH
selects), and its findings are matched to the cases:

- a bug case is found strictly when a finding with its code is on its line, leniently within
  two lines; for EVL101, EVL102 and EVL201 the finding must also name an object written on the
  case's line (a finding on the loss one line below is not the forward's);
- a correct case has a false alarm for each finding of an EVL1xx/EVL2xx rule on its lines.

Prints the recall per rule, the false alarms and the misses (with what evallint reported nearby).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_MIRROR = Path("/work/.mirror")
LENIENT_LINES = 2
NEARBY_LINES = 10
# One tree's run; the largest snapshots take a few minutes on two CPUs.
DEFAULT_TIMEOUT = 1200
# Seconds a process evallint started may take to exit after evallint itself has returned.
LEFTOVER_GRACE = 10.0
# Trees on which evallint exited but left processes of its own running (they are stopped).
LEFT_RUNNING: list[str] = []
# Project files evallint reads; everything else in the tree (data, images, weights) is left out.
LINTED_SUFFIXES = (".py", ".ipynb", ".toml")
# Rules whose message starts with the model reference; a hit must name an object on the case's line.
MODEL_RULES = {"EVL101", "EVL102", "EVL201"}
SUBJECT = re.compile(r"[A-Za-z_][\w.\[\]'\"]*")


class UsageError(Exception):
    """Bad input from the person running the script: a message, exit status 2."""


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # "bug" or "correct"
    repo: str
    commit: str
    path: str
    line: int
    end_line: int
    code: str  # expected code for bugs; empty for correct cases
    fix_commit: str
    cell: int | None
    description: str


@dataclass
class Finding:
    code: str
    path: str
    row: int
    cell: int | None
    message: str


@dataclass
class Outcome:
    case: Case
    strict: bool = False
    lenient: bool = False
    false_alarms: list[Finding] = field(default_factory=list)
    nearby: list[Finding] = field(default_factory=list)
    parse_error: str = ""  # evallint could not read the case's file (EVL001)
    error: str = ""


def load_cases(path: Path) -> list[Case]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"cannot read cases from {path}: {error}") from error
    cases, seen = [], set()
    for kind, key in (("bug", "bug"), ("correct", "correct")):
        for number, entry in enumerate(data.get(key, []), 1):
            try:
                case = Case(
                    id=entry["id"],
                    kind=kind,
                    repo=entry["repo"],
                    commit=entry["commit"],
                    path=entry["path"],
                    line=int(entry["line"]),
                    end_line=int(entry.get("end_line", entry["line"])),
                    code=entry.get("code", "") if kind == "bug" else "",
                    fix_commit=entry.get("fix_commit", ""),
                    cell=entry.get("cell"),
                    description=entry.get("description", ""),
                )
            except KeyError as missing:
                raise UsageError(f"{path}: [[{key}]] number {number} has no {missing}") from None
            if kind == "bug" and not case.code:
                raise UsageError(f"{path}: bug {case.id} has no code")
            if case.id in seen:
                raise UsageError(f"{path}: case id {case.id} is used twice")
            seen.add(case.id)
            cases.append(case)
    return cases


def git_dir(mirror: Path, repo: str) -> Path | None:
    base = mirror / repo.replace("/", "+") / "repo"
    for candidate in (base / ".git", base):
        if (candidate / "objects").is_dir():
            return candidate
    return None


def git(gitdir: Path, *args: str, data: bytes | None = None) -> bytes:
    result = subprocess.run(
        ["git", "--git-dir", str(gitdir), *args], input=data, capture_output=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.decode(errors="replace").strip() or f"git {args[0]} failed")
    return result.stdout


def materialise(gitdir: Path, commit: str, into: Path) -> int:
    """Write the linted files of the tree at commit into `into`; return how many were written.

    Read blob by blob rather than with `git archive`: snapshots may lack their largest blobs,
    which archive refuses, while the source files are all there.
    """
    listing = git(gitdir, "ls-tree", "-r", "-z", commit).split(b"\0")
    wanted = []
    for entry in listing:
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        mode, kind, sha = meta.split()
        if kind == b"blob" and mode != b"120000" and name.decode(errors="replace").endswith(LINTED_SUFFIXES):
            wanted.append((sha.decode(), name.decode(errors="replace")))
    batch = git(gitdir, "cat-file", "--batch", data="".join(f"{sha}\n" for sha, _ in wanted).encode())
    written, offset = 0, 0
    for sha, name in wanted:
        header_end = batch.index(b"\n", offset)
        header = batch[offset:header_end].split()
        offset = header_end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        content = batch[offset : offset + size]
        offset += size + 1
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        written += 1
    return written


def run_evallint(tree: Path, timeout: float) -> list[Finding]:
    """evallint's findings on the tree.

    Its output goes to files, not pipes: a process evallint left behind that still holds a pipe
    would keep the read waiting after evallint itself has exited.
    """
    out_path, err_path = tree.parent / "evallint.out", tree.parent / "evallint.err"
    command = [sys.executable, "-m", "evallint", "--output-format", "json", "--no-cache", "--exit-zero", str(tree)]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        # Its own session, so that whatever it leaves running can be found and stopped.
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=tree, start_new_session=True)
        try:
            status = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_session(process.pid, grace=0)
            process.wait()
            raise RuntimeError(f"evallint did not finish within {timeout:.0f} s") from None
        except BaseException:  # interrupted: stop it before leaving
            stop_session(process.pid, grace=0)
            process.wait()
            raise
    if stop_session(process.pid):
        LEFT_RUNNING.append(tree.name)
    stderr = err_path.read_text(encoding="utf-8", errors="replace").strip()
    if status != 0:
        raise RuntimeError(f"evallint exited {status}: {stderr[-500:]}")
    findings = []
    for item in json.loads(out_path.read_text(encoding="utf-8") or "[]"):
        # evallint names files relative to its working directory, the tree, or absolutely
        path = os.path.relpath(os.path.realpath(tree / item["filename"]), os.path.realpath(tree))
        findings.append(
            Finding(item["code"], path, item["location"]["row"], item.get("cell"), item["message"])
        )
    return findings


def stop_session(session: int, grace: float = LEFTOVER_GRACE) -> bool:
    """Kill what is still running in the session after `grace` seconds; whether there was any.

    evallint may let a worker finish exiting on its own just after it returns: only what is
    still there after the grace period counts as left running."""
    deadline = time.monotonic() + grace
    while True:
        try:
            os.killpg(session, 0)
        except (ProcessLookupError, PermissionError):
            return False
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    try:
        os.killpg(session, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def case_source_line(tree: Path, case: Case) -> str:
    """The text of the case's line (in a notebook, the row of its cell), or "" when unreadable."""
    try:
        text = (tree / case.path).read_text(encoding="utf-8-sig", errors="replace")
        if case.cell is not None:
            cell = json.loads(text)["cells"][case.cell - 1]["source"]
            text = cell if isinstance(cell, str) else "".join(cell)
        return text.splitlines()[case.line - 1]
    except (OSError, ValueError, LookupError, TypeError):
        return ""


def names_another_object(finding: Finding, source_line: str) -> bool:
    """Whether a model-rule finding is about an object that the case's line does not mention.

    Messages start with the reference the user wrote (`criterion may be in train mode ...`); a
    finding on the loss one line below the forward must not count as finding the forward.
    """
    if finding.code not in MODEL_RULES or not source_line:
        return False
    subject = finding.message.split(" ", 1)[0].strip("`'\"")
    return bool(SUBJECT.fullmatch(subject)) and subject not in source_line


def judge(case: Case, findings: list[Finding], source_line: str = "") -> Outcome:
    outcome = Outcome(case)
    here = [f for f in findings if f.path == case.path and (case.cell is None or f.cell == case.cell)]
    if case.kind == "bug":
        for finding in here:
            if finding.code != case.code or names_another_object(finding, source_line):
                continue
            distance = abs(finding.row - case.line)
            outcome.strict |= distance == 0
            outcome.lenient |= distance <= LENIENT_LINES
    else:
        outcome.false_alarms = [
            f
            for f in here
            if case.line - (0 if case.end_line > case.line else LENIENT_LINES)
            <= f.row
            <= case.end_line + (0 if case.end_line > case.line else LENIENT_LINES)
            and f.code[3] in "12"
        ]
    outcome.nearby = [f for f in here if abs(f.row - case.line) <= NEARBY_LINES]
    outcome.parse_error = next((f.message for f in here if f.code == "EVL001"), "")
    return outcome


def score(cases: list[Case], mirror: Path, timeout: float = DEFAULT_TIMEOUT) -> list[Outcome]:
    by_tree: dict[tuple[str, str], list[Case]] = defaultdict(list)
    for case in cases:
        by_tree[(case.repo, case.commit)].append(case)
    missing = sorted({repo for repo, _ in by_tree if git_dir(mirror, repo) is None})
    if missing:
        raise UsageError(
            f"no snapshot under {mirror} for: {', '.join(missing)}; fetch each of them "
            "(github:<owner>/<name>) and run again"
        )
    outcomes = []
    for (repo, commit), tree_cases in sorted(by_tree.items()):
        with tempfile.TemporaryDirectory(prefix="realbugs-") as tmp:
            tree = Path(tmp) / repo.replace("/", "+")
            tree.mkdir()
            try:
                materialise(git_dir(mirror, repo), commit, tree)
                findings = run_evallint(tree, timeout)
            except (RuntimeError, ValueError) as error:
                outcomes.extend(Outcome(case, error=f"{repo}@{commit[:12]}: {error}") for case in tree_cases)
                continue
            for case in tree_cases:
                if not (tree / case.path).is_file():
                    outcomes.append(Outcome(case, error=f"{case.path} is not in {repo}@{commit[:12]}"))
                    continue
                outcomes.append(judge(case, findings, case_source_line(tree, case)))
    order = {case.id: number for number, case in enumerate(cases)}
    return sorted(outcomes, key=lambda outcome: order[outcome.case.id])


def summary(outcomes: list[Outcome]) -> dict:
    bugs = [o for o in outcomes if o.case.kind == "bug"]
    correct = [o for o in outcomes if o.case.kind == "correct"]
    per_rule: dict[str, dict[str, int]] = {}
    for outcome in bugs:
        row = per_rule.setdefault(outcome.case.code, {"cases": 0, "strict": 0, "lenient": 0})
        row["cases"] += 1
        row["strict"] += outcome.strict
        row["lenient"] += outcome.lenient
    return {
        "bugs": len(bugs),
        "strict": sum(o.strict for o in bugs),
        "lenient": sum(o.lenient for o in bugs),
        "correct_cases": len(correct),
        "correct_cases_with_false_alarms": sum(bool(o.false_alarms) for o in correct),
        "false_alarms": sum(len(o.false_alarms) for o in correct),
        "errors": sum(bool(o.error) for o in outcomes),
        "evallint_left_processes_on": sorted(set(LEFT_RUNNING)),
        "per_rule": dict(sorted(per_rule.items())),
    }


def describe(finding: Finding) -> str:
    return f"{finding.code}@{finding.row}"


def as_json(outcomes: list[Outcome]) -> dict:
    return {
        "summary": summary(outcomes),
        "cases": [
            {
                "id": o.case.id,
                "kind": o.case.kind,
                "code": o.case.code,
                "repo": o.case.repo,
                "commit": o.case.commit,
                "path": o.case.path,
                "line": o.case.line,
                "strict": o.strict,
                "lenient": o.lenient,
                "false_alarms": [describe(f) + " " + f.message for f in o.false_alarms],
                "nearby": [describe(f) for f in o.nearby],
                "parse_error": o.parse_error,
                "error": o.error,
            }
            for o in outcomes
        ],
    }


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def print_report(outcomes: list[Outcome]) -> None:
    s = summary(outcomes)
    print(f"bugs: {s['bugs']}  strict {s['strict']} ({percent(s['strict'], s['bugs'])})"
          f"  within ±{LENIENT_LINES} lines {s['lenient']} ({percent(s['lenient'], s['bugs'])})")
    print(f"correct cases: {s['correct_cases']}  with false alarms {s['correct_cases_with_false_alarms']}"
          f"  false alarms {s['false_alarms']}")
    if s["errors"]:
        print(f"cases not scored (errors): {s['errors']}")
    if s["evallint_left_processes_on"]:
        print("evallint exited but left processes running on: " + ", ".join(s["evallint_left_processes_on"]))
    print()
    print("| rule | cases | strict | ±2 lines |")
    print("|---|---|---|---|")
    for code, row in s["per_rule"].items():
        print(f"| {code} | {row['cases']} | {row['strict']} ({percent(row['strict'], row['cases'])})"
              f" | {row['lenient']} ({percent(row['lenient'], row['cases'])}) |")
    errors = [o for o in outcomes if o.error]
    if errors:
        print("\nerrors:")
        for o in errors:
            print(f"  {o.case.id}: {o.error}")
    alarms = [o for o in outcomes if o.false_alarms]
    if alarms:
        print("\nfalse alarms on correct cases:")
        for o in alarms:
            for f in o.false_alarms:
                print(f"  {o.case.id} {o.case.repo} {o.case.path}:{f.row} {f.code} {f.message}")
    misses = [o for o in outcomes if o.case.kind == "bug" and not o.strict and not o.error]
    if misses:
        print("\nmisses (strict):")
        for o in misses:
            near = ", ".join(describe(f) for f in o.nearby) or "nothing within 10 lines"
            if o.parse_error:
                near += f" (the file does not parse: {o.parse_error})"
            lenient = " (found within ±2)" if o.lenient else ""
            print(f"  {o.case.id} {o.case.code} {o.case.repo} {o.case.path}:{o.case.line}{lenient}"
                  f" -- reported: {near} -- {o.case.description}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR,
                        help="directory of git snapshots, <owner>+<name>/repo (default: %(default)s)")
    parser.add_argument("--cases", type=Path, default=HERE / "cases.toml", help="case file (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--only", nargs="+", metavar="ID", help="score only these case ids")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds one tree's evallint run may take (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        if not args.mirror.is_dir():
            raise UsageError(f"mirror directory {args.mirror} does not exist")
        cases = load_cases(args.cases)
        if args.only:
            unknown = set(args.only) - {case.id for case in cases}
            if unknown:
                raise UsageError(f"unknown case id(s): {', '.join(sorted(unknown))}")
            cases = [case for case in cases if case.id in args.only]
        outcomes = score(cases, args.mirror, args.timeout)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(as_json(outcomes), sys.stdout, indent=2)
        print()
    else:
        print_report(outcomes)
    return 0


if __name__ == "__main__":
    # A terminated run still removes its temporary trees and stops the evallint it started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sys.exit(main())

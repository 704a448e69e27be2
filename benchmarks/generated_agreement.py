"""How well evallint and `evallint verify` agree with generated training scripts of known truth.

Generates programs with ``tests/generated_programs.py`` (seeded: program i of a
run uses seed ``--seed + i``; programs without a single truth are skipped),
lints each alone, and prints:

* per rule: truth findings, reported, true positives, false positives, false negatives;
* where the misses and false alarms sit (which forward, or which other line);
* for each generator choice, the share of programs linted exactly right;
* for a sample run under ``verify`` (CPU), with the truth and the linter's
  false alarms as the findings to judge: truth findings confirmed, false alarms
  reproduced, and bugs the runtime found that the truth does not name; and, run
  again with no static findings, how much of the truth the runtime finds alone.

``--failures DIR`` writes one reproducer per distinct kind of disagreement (the
shortest program of each), with the truth and what evallint said in a header.

Usage: python benchmarks/generated_agreement.py [--programs 500] [--verify 30] [--seed 0]
       [--failures DIR] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.generated_programs import (  # noqa: E402
    Program, generate, lint_program, random_chooser, site_kind, truth_diagnostics, write_program,
)

RULES = ("EVL101", "EVL102", "EVL201")


def programs(count: int, seed: int) -> list[tuple[int, Program]]:
    made = []
    current = seed
    while len(made) < count:
        program = generate(random_chooser(current))
        if program is not None:
            made.append((current, program))
        current += 1
    return made


def lint_all(made: list[tuple[int, Program]]) -> dict[int, set]:
    reported = {}
    with tempfile.TemporaryDirectory() as scratch:
        for seed, program in made:
            directory = os.path.join(scratch, str(seed))
            os.mkdir(directory)
            reported[seed] = lint_program(program, directory)
    return reported


def table(rows: list[list], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths)),
           "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append("  ".join(str(v).rjust(w) if isinstance(v, (int, float)) else str(v).ljust(w)
                             for v, w in zip(row, widths)))
    return "\n".join(out)


def disagreements(program: Program, got: set) -> list[tuple[str, str, str]]:
    """(code, "missed" / "false alarm", where) for each difference from the truth."""
    truth = set(program.truth)
    found = [(code, "missed", site_kind(program, row)) for code, row in truth - got]
    found += [(code, "false alarm", site_kind(program, row)) for code, row in got - truth]
    return sorted(found)


def rule_table(made, reported) -> str:
    rows = []
    codes = sorted(set(RULES) | {code for got in reported.values() for code, _ in got})
    totals = Counter()
    for code in codes:
        truth = sum(1 for _, p in made for c, _ in p.truth if c == code)
        got = sum(1 for s, _ in made for c, _ in reported[s] if c == code)
        tp = sum(len({t for t in p.truth if t[0] == code} & reported[s]) for s, p in made)
        rows.append([code, truth, got, tp, got - tp, truth - tp])
        totals.update(truth=truth, got=got, tp=tp)
    rows.append(["all", totals["truth"], totals["got"], totals["tp"], totals["got"] - totals["tp"],
                 totals["truth"] - totals["tp"]])
    return table(rows, ["rule", "truth", "reported", "TP", "FP", "FN"])


def where_table(made, reported) -> str:
    counts = Counter()
    for seed, program in made:
        for item in disagreements(program, reported[seed]):
            counts[item] += 1
    rows = [[code, kind, where, n] for (code, kind, where), n in counts.most_common()]
    return table(rows, ["rule", "error", "where", "findings"])


def feature_table(made, reported, least: int) -> str:
    by_feature = defaultdict(lambda: [0, 0])
    for seed, program in made:
        exact = set(program.truth) == reported[seed]
        for label, value in program.features.items():
            entry = by_feature[(label, value)]
            entry[0] += 1
            entry[1] += exact
    rows = [[label, value, n, exact, f"{100 * exact / n:.0f}%"]
            for (label, value), (n, exact) in by_feature.items() if n >= least]
    rows.sort(key=lambda r: (r[3] / r[2], r[0], r[1]))
    return table(rows, ["choice", "value", "programs", "exact", "exact %"])


def write_failures(made, reported, directory: str) -> int:
    shortest: dict[tuple, tuple[int, Program]] = {}
    for seed, program in made:
        signature = tuple(disagreements(program, reported[seed]))
        if not signature:
            continue
        best = shortest.get(signature)
        if best is None or len(program.source) < len(best[1].source):
            shortest[signature] = (seed, program)
    os.makedirs(directory, exist_ok=True)
    for number, (signature, (seed, program)) in enumerate(sorted(shortest.items()), start=1):
        got = reported[seed]
        # At the end, so the program's line numbers stay those of the truth.
        notes = [
            "",
            f"# Generated by tests/generated_programs.py from random_chooser({seed}).",
            f"# Truth:    {program.describe_truth()}",
            "# evallint: " + (", ".join(f"{c}@{r}" for c, r in sorted(got, key=lambda t: (t[1], t[0]))) or "none"),
        ]
        notes += [f"#   {code} {kind}: {where}" for code, kind, where in signature]
        Path(directory, f"failure_{number:02d}_seed{seed}.py").write_text(
            program.source + "\n".join(notes) + "\n", encoding="utf-8")
    return len(shortest)


def verify_sample(made, reported, count: int, jobs: int) -> str:
    from evallint.runtime.command import build_report
    from evallint.runtime.judging import CONFIRMED

    step = max(1, len(made) // count)
    sample = made[::step][:count]
    tally = Counter()
    for key in ("did not run to the end", "found at runtime, not in the truth",
                "found by the runtime alone, not in the truth", "truth: not-reproduced", "truth: not-reached",
                "programs where verify agrees with the truth"):
        tally[key] = 0
    details = []
    with tempfile.TemporaryDirectory() as scratch:

        def run(item):
            seed, program = item
            directory = os.path.join(scratch, str(seed))
            os.mkdir(directory)
            path = write_program(program, directory)
            false_alarms = reported[seed] - set(program.truth)
            diagnostics = truth_diagnostics(program, path, false_alarms)
            judged = build_report(path, diagnostics=diagnostics, device="cpu", timeout=120)
            alone = build_report(path, diagnostics=[], device="cpu", timeout=120)
            return seed, program, false_alarms, judged, alone

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(run, sample))
    for seed, program, false_alarms, report, alone in results:
        # On its own (no static findings to judge), what the runtime reports of the truth.
        found_alone = {(f.diagnostic.code, f.diagnostic.location.row) for f in alone.runtime_findings}
        for code, row in sorted(program.truth):
            tally[f"truth {code}"] += 1
            if (code, row) in found_alone:
                tally[f"truth {code} found by the runtime alone"] += 1
            else:
                details.append(f"seed {seed}: the runtime alone did not find truth {code}@{row}")
        for code, row in sorted(found_alone - set(program.truth)):
            tally["found by the runtime alone, not in the truth"] += 1
            details.append(f"seed {seed}: runtime alone found {code}@{row}, not in the truth")
        tally["programs"] += 1
        if report.stopped_by != "exit" or report.exit_status != 0:
            tally["did not run to the end"] += 1
            details.append(f"seed {seed}: the script stopped by {report.stopped_by}: {report.script_error}")
        for verdict in report.verdicts:
            key = (verdict.diagnostic.code, verdict.diagnostic.location.row)
            is_truth = key in program.truth
            label = "truth" if is_truth else "linter false alarm"
            tally[f"{label}: {verdict.verdict}"] += 1
            if (verdict.verdict == CONFIRMED) != is_truth:
                details.append(f"seed {seed}: {label} {key[0]}@{key[1]} {verdict.verdict}: {verdict.evidence}")
        for finding in report.runtime_findings:
            tally["found at runtime, not in the truth"] += 1
            d = finding.diagnostic
            details.append(f"seed {seed}: runtime found {d.code}@{d.location.row}: {finding.evidence}")
        if all((v.verdict == CONFIRMED) == ((v.diagnostic.code, v.diagnostic.location.row) in program.truth)
               for v in report.verdicts) and not report.runtime_findings and report.stopped_by == "exit":
            tally["programs where verify agrees with the truth"] += 1
    for code in RULES:
        tally.setdefault(f"truth {code} found by the runtime alone", 0)
    rows = [[key, n] for key, n in sorted(tally.items())]
    text = table(rows, ["verify", "count"])
    if details:
        text += "\n\n" + "\n".join(details)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=500)
    parser.add_argument("--verify", type=int, default=30, help="programs to run under verify (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--failures", help="directory for one reproducer per kind of disagreement")
    parser.add_argument("--jobs", type=int, default=2, help="verify runs at once")
    parser.add_argument("--least", type=int, default=15, help="show choices made in at least this many programs")
    args = parser.parse_args()
    if args.programs < 1 or args.verify < 0 or args.jobs < 1:
        parser.error("--programs and --jobs must be positive, --verify at least 0")

    made = programs(args.programs, args.seed)
    reported = lint_all(made)
    exact = sum(set(p.truth) == reported[s] for s, p in made)
    clean = sum(not p.truth for _, p in made)
    print(f"{len(made)} programs (seeds {made[0][0]}..{made[-1][0]}; {clean} correct, {len(made) - clean} with bugs); "
          f"evallint exactly right on {exact} ({100 * exact / len(made):.0f}%)\n")
    print(rule_table(made, reported) + "\n")
    print("Where evallint and the truth disagree:\n" + where_table(made, reported) + "\n")
    print("Programs linted exactly right, by generator choice:\n" + feature_table(made, reported, args.least) + "\n")
    if args.failures:
        n = write_failures(made, reported, args.failures)
        print(f"{n} reproducers written to {args.failures}\n")
    if args.verify:
        print(f"verify on {min(args.verify, len(made))} programs (CPU):\n"
              + verify_sample(made, reported, args.verify, args.jobs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

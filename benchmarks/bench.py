"""Time evallint against libcst, ast and ruff on the same files, in one run.

    python benchmarks/bench.py DIR [DIR ...] [--repeat N] [--jobs N]

Prints one row per measurement: median wall time over N runs, peak memory
(largest resident set of the process and its children), and the ratio to a
cold evallint run. Each measurement runs in its own subprocess so that peak
memory is its own. Rows: evallint cold (--no-cache), evallint warm (cache,
nothing changed), evallint after touching one file (its content changes),
libcst.parse_module of every file in one process, ast.parse of every file,
and `ruff check --select ALL --no-cache` when ruff is on PATH. evallint cold and ruff run in
turns, one run of each, so that their ratio holds on a machine whose speed drifts; the ratio of
each turn is printed too. ruff's report goes to /dev/null (on a large tree it is megabytes, and
reading it would be timed too); evallint's is kept, to check that its findings are the same in
every mode. Both print their default output. The touched file gets a trailing comment and is
restored afterwards.

evallint's bytecode is compiled before anything is timed, as a wheel install compiles it and as
Python caches it on a first import. Without that, where PYTHONDONTWRITEBYTECODE is set (or the
package directory is read-only) every run would compile evallint's modules again, a cost no
installed evallint pays and ruff, compiled ahead of time, never does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PARSE_ALL = r"""
import sys, warnings
warnings.simplefilter("ignore")
paths = sys.argv[2:]
if sys.argv[1] == "libcst":
    import libcst
    parse = libcst.parse_module
else:
    import ast
    parse = ast.parse
for path in paths:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            parse(handle.read())
    except Exception:
        pass
"""


def compile_evallint() -> None:
    """Write the bytecode of the evallint that ``python -m evallint`` imports here (the same
    interpreter and working directory finds the same package)."""
    compile_package = "import compileall, os, evallint; compileall.compile_dir(os.path.dirname(evallint.__file__), quiet=1)"
    subprocess.run([sys.executable, "-c", compile_package], check=True)


def python_files(directories: list[str]) -> list[str]:
    files = []
    for directory in directories:
        for root, dirnames, filenames in os.walk(directory):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
            files.extend(os.path.join(root, name) for name in sorted(filenames) if name.endswith(".py"))
    return files


def run_measured(command: list[str], repeat: int, before=None) -> tuple[float, int, str]:
    times, peaks, output = [], [], ""
    for _ in range(repeat):
        if before is not None:
            before()
        seconds, peak, output = run_once(command)
        times.append(seconds)
        peaks.append(peak)
    return statistics.median(times), max(peaks), output


def run_once(command: list[str], keep_output: bool = True) -> tuple[float, int, str]:
    # ru_maxrss of RUSAGE_CHILDREN is the largest of all children so far: measure each run in a fresh wrapper.
    wrapper = [sys.executable, "-c", _WRAPPER, "keep" if keep_output else "discard", *command]
    done = subprocess.run(wrapper, check=False, capture_output=True, text=True)
    seconds, peak, output = done.stdout.split("\0", 2)
    return float(seconds), int(peak), output


def run_alternating(first: list[str], second: list[str], repeat: int):
    """Both commands, one run of each in turn: on a machine whose speed drifts, the two medians
    and the per-turn ratios (first / second) then compare like with like. The second command's
    output is discarded, not read (ruff's report on the corpus is 120 MB: reading it through a
    pipe added 0.7 s to ruff's time)."""
    runs: list[list[tuple[float, int, str]]] = [[], []]
    for _ in range(repeat):
        for command, found, keep in zip((first, second), runs, (True, False)):
            found.append(run_once(command, keep))
    rows = [(statistics.median(t for t, _, _ in found), max(p for _, p, _ in found), found[-1][2]) for found in runs]
    ratios = [a[0] / b[0] for a, b in zip(*runs)]
    return rows[0], rows[1], ratios


_WRAPPER = r"""
import resource, subprocess, sys, time
keep = sys.argv[1] == "keep"
start = time.perf_counter()
done = subprocess.run(sys.argv[2:], stdout=subprocess.PIPE if keep else subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
sys.stdout.write(f"{elapsed}\0{peak}\0{done.stdout or ''}")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directories", nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    files = python_files(args.directories)
    lines = 0
    for path in files:
        with open(path, "rb") as handle:
            lines += handle.read().count(b"\n")
    print(f"corpus: {len(files)} Python files, {lines} lines; {os.cpu_count()} CPUs; repeat {args.repeat}")
    compile_evallint()
    cache_dir = tempfile.mkdtemp(prefix="evallint-bench-cache-")
    # The default output, as ruff's command below: JSON would add the building of every fix's edits
    # (libcst parses each file with a fixable finding), which ruff's timed command does not pay for.
    evallint = [sys.executable, "-m", "evallint", *args.directories, "--exit-zero", "-q"]
    if args.jobs:
        evallint += ["--jobs", str(args.jobs)]
    touched = Path(files[len(files) // 2])
    original = touched.read_bytes()
    counter = [0]

    def touch():
        counter[0] += 1
        touched.write_bytes(original + f"\n# evallint benchmark touch {counter[0]}\n".encode())

    rows = []
    ruff = shutil.which("ruff")
    ruff_row, ratios = None, []
    try:
        if ruff:
            ruff_command = [ruff, "check", "--select", "ALL", "--no-cache", "--exit-zero", "-q", *args.directories]
            cold, ruff_row, ratios = run_alternating(evallint + ["--no-cache"], ruff_command, args.repeat)
            rows.append(("evallint cold (--no-cache)", *cold))
        else:
            rows.append(("evallint cold (--no-cache)", *run_measured(evallint + ["--no-cache"], args.repeat)))
        run_measured(evallint + ["--cache-dir", cache_dir], 1)  # fill the cache
        rows.append(("evallint warm (cache)", *run_measured(evallint + ["--cache-dir", cache_dir], args.repeat)))
        rows.append(("evallint, one file touched", *run_measured(evallint + ["--cache-dir", cache_dir], args.repeat, touch)))
    finally:
        touched.write_bytes(original)
        shutil.rmtree(cache_dir, ignore_errors=True)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(PARSE_ALL)
    try:
        rows.append(("libcst.parse_module, 1 process", *run_measured([sys.executable, script.name, "libcst", *files], args.repeat)))
        rows.append(("ast.parse, 1 process", *run_measured([sys.executable, script.name, "ast", *files], args.repeat)))
    finally:
        os.unlink(script.name)
    if ruff_row is not None:
        rows.append(("ruff check --select ALL", *ruff_row))
    outputs = {name: out for name, _, _, out in rows if name.startswith("evallint")}
    cold = rows[0][1]
    print(f"{'measurement':34} {'median s':>9} {'peak MiB':>9} {'x cold':>7}")
    for name, seconds, peak, _ in rows:
        print(f"{name:34} {seconds:9.2f} {peak:9d} {seconds / cold:7.2f}")
    if ratios:
        ratios.sort()
        print(f"evallint cold / ruff, run in turns: median {statistics.median(ratios):.2f} "
              f"(from {ratios[0]:.2f} to {ratios[-1]:.2f})")
    same = len(set(outputs.values())) == 1
    print(f"evallint findings identical in all modes: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

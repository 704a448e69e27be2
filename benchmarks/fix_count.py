"""What counting the hidden (unsafe) fixes costs on one large file.

    python benchmarks/fix_count.py [--size-kb 1024] [--buggy 100] [--repeat 3] [--code DIR] [--no-unsafe-run]

Generates one Python file of about ``--size-kb`` KiB: ``--buggy`` blocks with
three unsafe fixes that can be built (EVL101 and EVL201 in an evaluation loop,
EVL201 in a one-line function) and one that cannot (EVL101 in a one-line
function: no statement to insert ``model.eval()`` before), padded with
functions that have no finding. Then times, each in a fresh process
(``--no-cache``, median of ``--repeat``), the default run (its summary counts
the hidden fixes) and ``--unsafe-fixes`` (which builds every unsafe fix's
edits; ``--no-unsafe-run`` leaves it out, it takes minutes with many
fixes), and prints each run's summary line. ``--code`` is the evallint
checkout to run (default: this one), to compare two versions on one file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BUGGY = '''

def test_{i}(model, loader): return [model(x) for x in loader]


def evaluate_{i}(model, loader):
    total = 0
    for x, y in loader:
        total += (model(x).argmax(1) == y).sum().item()
    return total
'''

PADDING = '''

def schedule_{i}(step, warmup=100, base=0.1):
    if step < warmup:
        return base * (step + 1) / warmup
    scale = 0.5 ** ((step - warmup) // 1000)
    values = [base * scale * k for k in range(8)]
    return sum(values) / len(values) + {i}
'''


def generate(path: Path, size: int, buggy: int) -> None:
    parts = ["import torch\n"]
    parts.extend(BUGGY.format(i=i) for i in range(buggy))
    total = sum(len(p) for p in parts)
    i = 0
    while total < size:
        block = PADDING.format(i=i)
        parts.append(block)
        total += len(block)
        i += 1
    path.write_text("".join(parts))


def timed(code: Path, cwd: Path, *args: str) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(code))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "evallint", "big.py", "--no-cache", *args],
                            cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    summary = [line for line in result.stdout.splitlines()
               if line.startswith(("Found", "[*]", "("))]
    return elapsed, " / ".join(summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-kb", type=int, default=1024)
    parser.add_argument("--buggy", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--code", type=Path, default=ROOT)
    parser.add_argument("--no-unsafe-run", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        cwd = Path(directory)
        generate(cwd / "big.py", args.size_kb * 1024, args.buggy)
        size = (cwd / "big.py").stat().st_size
        print(f"big.py: {size / 1024:.0f} KiB, {args.buggy} blocks "
              f"({3 * args.buggy} buildable unsafe fixes, {args.buggy} not buildable)")
        runs_to_time = [("default (counts hidden fixes)", ())]
        if not args.no_unsafe_run:
            runs_to_time.append(("--unsafe-fixes (builds them)", ("--unsafe-fixes",)))
        for label, extra in runs_to_time:
            runs = [timed(args.code, cwd, *extra) for _ in range(args.repeat)]
            times = sorted(t for t, _ in runs)
            print(f"{label}: median {statistics.median(times):.2f} s "
                  f"(min {times[0]:.2f}, max {times[-1]:.2f}); {runs[0][1]}", flush=True)


if __name__ == "__main__":
    main()

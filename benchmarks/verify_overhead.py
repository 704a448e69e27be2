"""How much slower a training script runs under `evallint verify` than on its own.

Runs a small CNN training script (synthetic data, periodic validation) as
`python script.py` and under the verifier, several times each, and prints the
median ratios of:

* wall time of the whole process (startup, torch import, training), and
* the training loop alone, as the script times it itself (the probes' cost
  per forward, backward and optimizer step, without process startup).

Usage: python benchmarks/verify_overhead.py [--repeats 5] [--steps 200] [--device cpu]
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
sys.path.insert(0, str(ROOT))

TRAINING_SCRIPT = '''
import sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

steps = int(sys.argv[1])
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
    nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(32, 10),
).to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
images = torch.randn(32, 3, 16, 16, device=device)
labels = torch.randint(0, 10, (32,), device=device)

def validate():
    model.eval()
    with torch.no_grad():
        for _ in range(5):
            model(images)
    model.train()

start = time.perf_counter()
model.train()
for step in range(steps):
    loss = F.cross_entropy(model(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 50 == 49:
        validate()
if device == "cuda":
    torch.cuda.synchronize()
print(f"LOOP_SECONDS {time.perf_counter() - start:.6f}", file=sys.stderr)
'''


def loop_seconds(stderr_text: str) -> float:
    for line in stderr_text.splitlines():
        if line.startswith("LOOP_SECONDS "):
            return float(line.split()[1])
    raise RuntimeError(f"the training script did not report its loop time:\n{stderr_text}")


def run_plain(script: str, steps: int, device: str) -> tuple[float, float]:
    env = dict(os.environ)
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, script, str(steps)], env=env, capture_output=True,
                          text=True, check=True)
    return time.perf_counter() - start, loop_seconds(done.stderr)


def run_verified(script: str, steps: int, device: str) -> tuple[float, float]:
    from evallint.runtime.harness import run_script

    start = time.perf_counter()
    result = run_script(script, [str(steps)], device=device, timeout=600)
    wall = time.perf_counter() - start
    if result.stopped_by != "exit" or result.exit_status != 0:
        raise RuntimeError(f"verified run ended by {result.stopped_by}: {result.stderr.text()}")
    if result.observations.step_count != steps:
        raise RuntimeError("the probes missed optimizer steps")
    return wall, loop_seconds(result.stderr.text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--device", choices=["cpu", "auto"], default="cpu")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        script = os.path.join(scratch, "train_small_cnn.py")
        Path(script).write_text(TRAINING_SCRIPT)
        run_plain(script, 5, args.device)  # warm the file cache and torch's import
        wall_ratios, loop_ratios = [], []
        for _ in range(args.repeats):
            plain_wall, plain_loop = run_plain(script, args.steps, args.device)
            verified_wall, verified_loop = run_verified(script, args.steps, args.device)
            wall_ratios.append(verified_wall / plain_wall)
            loop_ratios.append(verified_loop / plain_loop)
            print(f"plain {plain_wall:.2f}s (loop {plain_loop:.2f}s)  verified "
                  f"{verified_wall:.2f}s (loop {verified_loop:.2f}s)", flush=True)
    print(f"median wall-time ratio (verify / plain): {statistics.median(wall_ratios):.2f}")
    print(f"median training-loop ratio (verify / plain): {statistics.median(loop_ratios):.2f}")


if __name__ == "__main__":
    main()

"""What the guard (``evallint.guard``) costs per training step, once warm, on CPU.

Two training loops on synthetic data, each with a validation pass every
``--validate-every`` steps (eval mode, no_grad), as real loops have:

* a small CNN (two conv + BatchNorm blocks, Dropout, a linear head) on 32
  images of 3x32x32;
* a transformer block (``nn.TransformerEncoderLayer``, d_model 128, 4 heads,
  feed-forward 512, dropout 0.1) and a linear head on 16 sequences of 64 tokens.

For each, in one process: warm up (unguarded, then guarded, so that the
guard's per-call-site caches are filled), then ``--repeats`` times run three
blocks of ``--steps`` steps: without the guard, with it, without it again. The
guard's cost in one repeat is the guarded block minus the mean of the two
unguarded blocks around it, which cancels a slow drift of a shared machine;
the difference of the two unguarded blocks is the same measurement with no
guard at all (an A/A comparison), so its spread is the noise of the machine.
The table gives the median time per step without and with the guard, the
median of the guard's per-repeat cost with its interquartile range and a
bootstrap 95% confidence interval of that median, and the same for the A/A
difference. Neighbours on a shared machine only ever slow a block down, so the
last column compares the fastest blocks instead: the 10th percentile of the
guarded blocks minus that of the unguarded ones.

Time is the main thread's CPU time (``time.thread_time``), with torch limited
to ``--threads`` 1 so that all of a step's work (forward, backward on CPU,
optimizer) runs on that thread: on a shared machine, wall time mostly measures
the neighbours. A tiny MLP row shows the guard's fixed cost per step, which a
real model's step hides.

Usage: python benchmarks/guard_overhead.py [--repeats 41] [--steps 20] [--threads 1] [--only NAME]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def small_cnn(torch):
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(32, 10),
    )
    return model, torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))


def tiny_mlp(torch):
    nn = torch.nn
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 4))
    return model, torch.randn(8, 16), torch.randint(0, 4, (8,))


class TransformerClassifier:
    """Built lazily so that importing this script does not import torch."""

    @staticmethod
    def build(torch):
        nn = torch.nn

        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.block = nn.TransformerEncoderLayer(128, 4, 512, dropout=0.1,
                                                        batch_first=True)
                self.head = nn.Linear(128, 10)

            def forward(self, x):
                return self.head(self.block(x).mean(dim=1))

        return Model(), torch.randn(16, 64, 128), torch.randint(0, 10, (16,))


def make_loop(torch, model, inputs, labels, validate_every: int):
    F = torch.nn.functional
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    counter = [0]

    def validate():
        model.eval()
        with torch.no_grad():
            model(inputs)
        model.train()

    def steps(n: int) -> float:
        model.train()
        start = time.thread_time()
        for _ in range(n):
            loss = F.cross_entropy(model(inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            counter[0] += 1
            if counter[0] % validate_every == 0:
                validate()
        return (time.thread_time() - start) / n

    return steps


def spread(values: list[float]) -> tuple[float, float, float, float, float]:
    """(median, first quartile, third quartile, 95% CI of the median: low, high), by bootstrap."""
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(2000))
    return median, q1, q3, medians[49], medians[1949]


def measure(name: str, steps, args) -> None:
    from evallint.guard import EvallintWarning
    from evallint.guard.monitor import Guard

    # One guard for the whole measurement, switched on and off around its
    # blocks, so that every guarded block runs with warm caches, as a long
    # training run does (evallint.guard.install() would start a fresh one).
    guard = Guard(str(ROOT), EvallintWarning)
    steps(args.steps)
    guard.session.start()
    steps(args.steps)
    guard.session.stop()
    plain, guarded, cost, noise = [], [], [], []
    for _ in range(args.repeats):
        before = steps(args.steps)
        guard.session.start()
        try:
            with_guard = steps(args.steps)
        finally:
            guard.session.stop()
        after = steps(args.steps)
        plain.extend((before, after))
        guarded.append(with_guard)
        cost.append(with_guard - (before + after) / 2)
        noise.append(after - before)
    p, g = statistics.median(plain), statistics.median(guarded)

    def cell(values):
        median, q1, q3, low, high = spread(values)
        return (f"{median * 1e6:+.0f} µs ({median / p * 100:+.1f}%), IQR {q1 * 1e6:+.0f}..{q3 * 1e6:+.0f}, "
                f"CI {low * 1e6:+.0f}..{high * 1e6:+.0f} ({low / p * 100:+.1f}%..{high / p * 100:+.1f}%)")

    fast = decile(guarded) - decile(plain)
    print(f"| {name} | {p * 1e3:.3f} ms | {g * 1e3:.3f} ms | {cell(cost)} | {cell(noise)} | "
          f"{fast * 1e6:+.0f} µs ({fast / p * 100:+.1f}%) |", flush=True)


def decile(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=41)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--validate-every", type=int, default=20)
    parser.add_argument("--only", choices=("cnn", "transformer", "mlp"), action="append",
                        help="measure only these loops (repeatable)")
    args = parser.parse_args()

    import torch

    import evallint.guard

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    warnings.simplefilter("ignore", evallint.guard.EvallintWarning)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.steps} steps per block, "
          f"{args.repeats} blocks each, validation every {args.validate_every} steps")
    print("| loop | CPU time per step without guard | with guard | guard's cost per step "
          "(median, IQR, 95% CI) | A/A: unguarded minus unguarded (noise) | "
          "fastest blocks: 10th percentiles, guarded minus unguarded |")
    print("|---|---|---|---|---|---|")
    loops = (("cnn", "small CNN", small_cnn),
             ("transformer", "transformer block", TransformerClassifier.build),
             ("mlp", "tiny MLP (fixed cost)", tiny_mlp))
    for key, name, build in loops:
        if args.only and key not in args.only:
            continue
        model, inputs, labels = build(torch)
        measure(name, make_loop(torch, model, inputs, labels, args.validate_every), args)


if __name__ == "__main__":
    main()

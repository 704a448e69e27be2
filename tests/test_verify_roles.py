"""`evallint verify` judges models and evaluation the way the static analysis defines them.

* A module with no mode-dependent layer (a loss, a plain Linear) is never
  confirmed for EVL101/EVL102: its mode changes nothing.
* An evaluation forward is a trained (or loaded) model's forward whose output
  reaches no backward, whatever the code is called; outputs computed under
  no_grad that feed the loss (pseudo-labels, targets) are training.

Each test runs a small script of its own under the probes; static findings
are given as inline markers (`model(x)  # EVL101`), as in test_verify.py.
"""

from __future__ import annotations

import re
import textwrap
import warnings
from pathlib import Path

import pytest

from evallint.types import Diagnostic, Location

torch = pytest.importorskip("torch")

from evallint.runtime.command import build_report, report_to_text  # noqa: E402

TIMEOUT = 120
MARKER = re.compile(r"#\s*(EVL\d{3}(?:\s*,\s*EVL\d{3})*)\s*$")


def _write(tmp_path: Path, body: str, name: str = "script.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def _marked(path: Path) -> list[Diagnostic]:
    diagnostics = []
    for row, line in enumerate(path.read_text().splitlines(), 1):
        match = MARKER.search(line)
        if match:
            column = len(line) - len(line.lstrip()) + 1
            for code in re.findall(r"EVL\d{3}", match.group(1)):
                diagnostics.append(Diagnostic(code, f"{code} expected here", str(path),
                                              Location(row, column), Location(row, len(line) + 1)))
    return diagnostics


def _line_of(path: Path, text: str) -> int:
    (row,) = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    return row


def _run(path: Path, marked: bool = True, args: list[str] | None = None):
    diagnostics = _marked(path) if marked else []
    report = build_report(str(path), args or [], diagnostics=diagnostics, device="cpu",
                          timeout=TIMEOUT)
    assert report.stopped_by == "exit" and report.exit_status == 0, report_to_text(report)
    return report


def _verdicts(report) -> dict:
    return {(v.diagnostic.code, v.diagnostic.location.row): v for v in report.verdicts}


def _runtime(report) -> set:
    return {(f.diagnostic.code, f.diagnostic.location.row) for f in report.runtime_findings}


# ---- modules whose mode changes nothing ------------------------------------------------


def test_loss_module_in_a_validation_pass_is_not_confirmed(tmp_path):
    path = _write(tmp_path, """
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
        criterion = nn.CrossEntropyLoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            model.train()
            loss = criterion(model(torch.randn(5, 4)), torch.randint(0, 3, (5,)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            model.eval()
            val_out = model(torch.randn(5, 4))
            val_loss = criterion(val_out, torch.randint(0, 3, (5,)))  # EVL101, EVL201
    """)
    report = _run(path)
    row = _line_of(path, "val_loss = criterion")
    mode = _verdicts(report)[("EVL101", row)]
    assert mode.verdict == "not-reproduced", report_to_text(report)
    assert mode.evidence == ("CrossEntropyLoss holds no Dropout, BatchNorm or other "
                             "mode-dependent layer: its mode changes nothing")
    grad = _verdicts(report)[("EVL201", row)]
    assert grad.verdict == "not-reproduced", report_to_text(report)
    assert "CrossEntropyLoss has no parameters" in grad.evidence
    # The model's own forward, in eval mode with autograd on, is the real finding.
    assert _runtime(report) == {("EVL201", _line_of(path, "val_out = model("))}, \
        report_to_text(report)


def test_module_without_mode_layers_trained_in_eval_mode_is_not_confirmed(tmp_path):
    path = _write(tmp_path, """
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.GRU(8, 8, batch_first=True))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        model.eval()
        for _ in range(3):
            out, _ = model(torch.randn(2, 5, 4))  # EVL102
            loss = out.pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    """)
    report = _run(path)
    (verdict,) = report.verdicts
    assert verdict.verdict == "not-reproduced", report_to_text(report)
    assert verdict.evidence == ("Sequential was trained in eval mode, but holds no Dropout, "
                                "BatchNorm or other mode-dependent layer: its mode changes nothing")
    assert not report.runtime_findings, report_to_text(report)


def test_layers_of_a_frozen_part_trained_in_eval_mode_are_not_confirmed(tmp_path):
    """A linear probe: every parameter but the head's frozen, eval mode on purpose."""
    path = _write(tmp_path, """
        import torch
        import torch.nn as nn

        backbone = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5))
        model = nn.Sequential(backbone, nn.Linear(8, 3))
        for name, param in model.named_parameters():
            if not name.startswith("1."):
                param.requires_grad = False
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
        model.eval()
        for _ in range(3):
            loss = model(torch.randn(5, 4)).pow(2).mean()  # EVL102
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    """)
    report = _run(path)
    (verdict,) = report.verdicts
    assert verdict.verdict == "not-reproduced", report_to_text(report)
    assert verdict.evidence == ("Sequential was trained in eval mode, but each of its eval-mode layers "
                                "sits in a part whose parameters are frozen: only the rest trains")
    assert not report.runtime_findings, report_to_text(report)


def test_a_trainable_layer_in_eval_mode_is_confirmed_beside_a_frozen_part(tmp_path):
    path = _write(tmp_path, """
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 3))
        for param in model[0].parameters():
            param.requires_grad = False
        for param in model[1].parameters():
            param.requires_grad = False
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
        model.eval()
        for _ in range(3):
            loss = model(torch.randn(5, 4)).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    """)
    report = _run(path, marked=False)
    (finding,) = report.runtime_findings
    # The Dropout's parent trains: its eval mode changes what is trained. The frozen BatchNorm's does not.
    assert finding.diagnostic.message == "Sequential was trained in eval mode: Dropout(p=0.5) in eval mode during training steps"


def test_mode_dependent_layers_are_the_ones_whose_output_depends_on_mode():
    from evallint.runtime.roles import mode_dependent_layers

    nn = torch.nn

    def names(module):
        return [description for _, description, _ in mode_dependent_layers(module, nn)]

    assert names(nn.CrossEntropyLoss()) == []
    assert names(nn.Sequential(nn.Linear(2, 2), nn.GRU(2, 2), nn.Embedding(3, 2))) == []
    # An RNN drops between its layers: with one layer its dropout does nothing.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert names(nn.GRU(2, 2, num_layers=1, dropout=0.3)) == []
    # Without running statistics BatchNorm and InstanceNorm normalise by the batch in both modes.
    assert names(nn.BatchNorm1d(2, track_running_stats=False)) == []
    assert names(nn.InstanceNorm2d(2)) == []
    assert names(nn.InstanceNorm2d(2, track_running_stats=True)) == [
        "InstanceNorm2d(track_running_stats)"]
    assert names(nn.Sequential(nn.BatchNorm2d(2), nn.AlphaDropout(0.1),
                               nn.LSTM(2, 2, num_layers=2, dropout=0.2))) == [
        "BatchNorm2d", "AlphaDropout(p=0.1)", "LSTM(dropout=0.2)"]
    assert "MultiheadAttention(dropout=0.1)" in names(
        nn.TransformerEncoderLayer(8, 2, dim_feedforward=8, dropout=0.1))
    assert names(nn.TransformerEncoderLayer(8, 2, dim_feedforward=8, dropout=0.0)) == []


# ---- training forwards whose outputs went through no graph ------------------------------


PSEUDO_LABELS = """
    import sys
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    use_targets = sys.argv[1:] != ["--unused"]

    def train_step(x, y, unlabeled):
        with torch.no_grad():
            pseudo = model(unlabeled).argmax(dim=1)  # EVL101
            soft = model(unlabeled).softmax(dim=1)  # EVL101
        target = model(unlabeled).detach()  # EVL201
        logits = model(unlabeled + 0.1 * torch.randn_like(unlabeled))
        loss = F.cross_entropy(model(x), y)
        if use_targets:
            loss = (loss + F.cross_entropy(logits, pseudo)
                    + F.mse_loss(logits.softmax(dim=1), soft) + F.mse_loss(logits, target))
        else:
            loss = loss + logits.pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(4):
        train_step(torch.randn(8, 4), torch.randint(0, 3, (8,)), torch.randn(8, 4))
"""


def test_pseudo_labels_and_targets_of_a_training_step_are_not_evaluation(tmp_path):
    path = _write(tmp_path, PSEUDO_LABELS)
    report = _run(path, marked=False)
    assert not report.runtime_findings, report_to_text(report)
    report = _run(path)
    assert {v.verdict for v in report.verdicts} == {"not-reproduced"}, report_to_text(report)
    for verdict in report.verdicts:
        assert "fed a loss that was backpropagated" in verdict.evidence


def test_the_same_forwards_left_unused_are_evaluation(tmp_path):
    # The control for the test above: only the data flow differs.
    path = _write(tmp_path, PSEUDO_LABELS)
    report = _run(path, marked=False, args=["--unused"])
    assert _runtime(report) == {
        ("EVL101", _line_of(path, "pseudo = model(")),
        ("EVL101", _line_of(path, "soft = model(")),
        ("EVL101", _line_of(path, "target = model(")),
        ("EVL201", _line_of(path, "target = model(")),
    }, report_to_text(report)


def test_frozen_features_fed_into_the_trained_head_are_not_evaluation(tmp_path):
    # A loaded backbone kept in train mode under no_grad: its output enters the head's call,
    # whose loss is backpropagated.
    checkpoint = tmp_path / "backbone.pt"
    path = _write(tmp_path, f"""
        import torch
        import torch.nn as nn

        backbone = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2))
        torch.save(backbone.state_dict(), {str(checkpoint)!r})
        backbone.load_state_dict(torch.load({str(checkpoint)!r}))
        head = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.2), nn.Linear(8, 2))
        optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
        for _ in range(3):
            with torch.no_grad():
                features = backbone(torch.randn(6, 4))
            loss = head(features).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    """)
    report = _run(path, marked=False)
    assert not report.runtime_findings, report_to_text(report)


@pytest.mark.parametrize("reentrant", [False, True])
def test_forwards_recomputed_by_activation_checkpointing_are_not_evaluation(tmp_path, reentrant):
    path = _write(tmp_path, f"""
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        from torch.utils.checkpoint import checkpoint, set_checkpoint_early_stop

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = nn.Linear(4, 4)
                self.block = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.Linear(8, 3))

            def forward(self, x):
                return checkpoint(self.block, self.stem(x), use_reentrant={reentrant})

        model = Net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            loss = F.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 3, (8,)))
            optimizer.zero_grad()
            # The whole block is recomputed, not only up to the last tensor backward needs.
            with set_checkpoint_early_stop(False):
                loss.backward()
            optimizer.step()
    """)
    report = _run(path, marked=False)
    assert report.training_steps == 3 and not report.runtime_findings, report_to_text(report)


# ---- evaluation found by what the code does, not by its names ---------------------------


HELD_OUT = """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.3), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    held_out = DataLoader(TensorDataset(torch.randn(32, 4), torch.randint(0, 3, (32,))),
                          batch_size=8)

    def accuracy(net, loader):
        hits = 0
        for x, y in loader:
            out = net(x)  # EVL101, EVL201
            hits += (out.argmax(dim=1) == y).sum().item()
        return hits / 32

    for _ in range(3):
        loss = F.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 3, (8,)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        print(accuracy(model, held_out))
"""


def test_neutral_named_held_out_loop_is_found_at_runtime(tmp_path):
    path = _write(tmp_path, HELD_OUT)
    report = _run(path, marked=False)
    row = _line_of(path, "out = net(x)")
    assert _runtime(report) == {("EVL101", row), ("EVL201", row)}, report_to_text(report)
    by_code = {f.diagnostic.code: f for f in report.runtime_findings}
    assert "BatchNorm1d, Dropout(p=0.3) active" in by_code["EVL101"].diagnostic.message
    assert "12 forwards of Sequential in train mode that were never backpropagated" in \
        by_code["EVL101"].evidence
    assert "12 autograd graphs that were never backpropagated" in by_code["EVL201"].evidence


def test_neutral_named_held_out_loop_confirms_the_static_findings(tmp_path):
    path = _write(tmp_path, HELD_OUT)
    report = _run(path)
    assert {v.verdict for v in report.verdicts} == {"confirmed"}, report_to_text(report)
    assert not report.runtime_findings, report_to_text(report)


def test_inline_validation_in_the_epoch_loop_is_still_evaluation(tmp_path):
    # The tutorial loop without model.eval(): the no_grad forward follows the step in the same
    # loop body and its prediction never meets the loss.
    path = _write(tmp_path, """
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
        optimizer = torch.optim.Adam(model.parameters())
        criterion = nn.CrossEntropyLoss()
        for epoch in range(3):
            optimizer.zero_grad()
            out = model(torch.randn(5, 4))
            loss = criterion(out, torch.randint(0, 3, (5,)))
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                val_out = model(torch.randn(5, 4))
                val_pred = val_out.argmax(dim=1)
    """)
    report = _run(path, marked=False)
    assert _runtime(report) == {("EVL101", _line_of(path, "val_out = model("))}, \
        report_to_text(report)


LOADS = {
    "state_dict": ("model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5))\n"
                   "model.load_state_dict(torch.load({path!r}))"),
    "whole_model": "model = torch.load({path!r}, weights_only=False)",
}


@pytest.mark.parametrize("how", sorted(LOADS))
def test_loaded_weights_make_a_trained_model(tmp_path, how):
    checkpoint = tmp_path / "weights.pt"
    network = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Dropout(0.5))
    torch.save(network.state_dict() if how == "state_dict" else network, checkpoint)
    load = textwrap.indent(LOADS[how].format(path=str(checkpoint)), " " * 8).lstrip()
    path = _write(tmp_path, f"""
        import torch
        import torch.nn as nn

        {load}
        with torch.no_grad():
            scores = [model(torch.randn(2, 4)) for _ in range(3)]
        print(torch.cat(scores).argmax(dim=1))
    """)
    report = _run(path, marked=False)
    assert _runtime(report) == {("EVL101", _line_of(path, "scores = ["))}, report_to_text(report)


def test_shape_probe_of_an_untrained_model_is_not_evaluation(tmp_path):
    path = _write(tmp_path, """
        import torch
        import torch.nn as nn

        def smoke():
            net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
            y = net(torch.randn(2, 4))  # EVL101, EVL201
            print(y.shape)

        smoke()
    """)
    report = _run(path)
    assert {v.verdict for v in report.verdicts} == {"not-reproduced"}, report_to_text(report)
    for verdict in report.verdicts:
        assert "before it was trained or its weights were loaded" in verdict.evidence
    assert not report.runtime_findings

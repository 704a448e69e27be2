"""The guard: verify's judge, live in a training run, warning once per location.

Most tests install the guard in this process around a small training loop and
uninstall it (which judges the run as finished); the command-line form,
``-W error`` and forked workers run in a child Python.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HERE = str(Path(__file__).resolve())


def run_python(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180)


def test_importing_the_guard_does_not_import_torch(tmp_path):
    result = run_python(tmp_path, "-c", "import sys, evallint.guard; "
                                        "assert 'torch' not in sys.modules")
    assert result.returncode == 0, result.stderr


def test_the_command_without_a_script_is_a_usage_error(tmp_path):
    assert run_python(tmp_path, "-m", "evallint.guard").returncode == 2
    missing = run_python(tmp_path, "-m", "evallint.guard", "nope.py")
    assert missing.returncode == 2
    assert "nope.py: no such file" in missing.stderr and "Traceback" not in missing.stderr


torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import evallint.guard  # noqa: E402
from evallint.guard import EvallintWarning  # noqa: E402


def make_net() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(16, 2))


def guarded(function):
    """Run ``function`` under the guard; return (its result, the guard's warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evallint.guard.install(project_root=str(ROOT))
        try:
            result = function()
        finally:
            evallint.guard.uninstall()
    return result, [w for w in caught if issubclass(w.category, EvallintWarning)]


def lines(caught) -> list[tuple[str, int]]:
    return [(str(w.message).split()[0], w.lineno) for w in caught]


def line_of(marker: str) -> int:
    for number, line in enumerate(Path(HERE).read_text().splitlines(), 1):
        if line.rstrip().endswith(f"# {marker}"):
            return number
    raise AssertionError(marker)


def buggy_run(model=None, epochs=3):
    torch.manual_seed(0)
    model = model if model is not None else make_net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(32, 8), torch.randint(0, 2, (32,))

    def validate():
        model.eval()
        return model(x).argmax(1)  # eval-with-grad

    def evaluate_in_train_mode():
        with torch.no_grad():
            return model(x)  # eval-in-train-mode

    for _ in range(epochs):
        for _ in range(3):
            loss = F.cross_entropy(model(x), y)  # train-in-eval-mode
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        evaluate_in_train_mode()
        validate()
    return model


def correct_run(model=None, epochs=3):
    torch.manual_seed(0)
    model = model if model is not None else make_net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(32, 8), torch.randint(0, 2, (32,))
    for _ in range(epochs):
        model.train()
        for _ in range(3):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            model(x)
    return model



def expected_warnings():
    return [("EVL201", line_of("eval-with-grad")), ("EVL101", line_of("eval-in-train-mode")),
            ("EVL102", line_of("train-in-eval-mode"))]


def test_each_bug_warns_once_at_its_line_with_verifys_evidence():
    _, caught = guarded(lambda: buggy_run(epochs=4))
    assert sorted(lines(caught)) == sorted(expected_warnings())
    assert all(w.filename == HERE for w in caught)
    text = {str(w.message).split()[0]: str(w.message) for w in caught}
    assert "Sequential ran an evaluation forward in train mode: BatchNorm1d, Dropout(p=0.3) " \
           "active" in text["EVL101"]
    assert "running_mean moved by" in text["EVL101"]
    assert "built 1 autograd graph" in text["EVL201"]
    assert "Sequential was trained in eval mode" in text["EVL102"]
    assert "it was switched to eval mode by validate() at tests/test_guard.py:" in text["EVL102"]


def test_a_correct_loop_gets_no_warning():
    _, caught = guarded(correct_run)
    assert caught == []


def pseudo_label_run():
    torch.manual_seed(0)
    model = make_net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    criterion = nn.CrossEntropyLoss()
    x = torch.randn(32, 8)
    model.train()
    for _ in range(4):
        with torch.no_grad():
            pseudo = model(x).argmax(1)
        loss = criterion(model(x), pseudo)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def test_pseudo_labels_fed_through_a_loss_module_are_training_not_evaluation():
    # The guard follows a loss module's call as torch operations (it has no parameters and no
    # mode-dependent layer): the no_grad forward's labels still reach the backward through it.
    _, caught = guarded(pseudo_label_run)
    assert caught == []


def detached_teacher_run():
    # The teacher runs with autograd on (a waste, but not an evaluation): its detached outputs are
    # the student's targets, so only the flow probe can tell that it fed training.
    teacher, student = make_net(), make_net()
    optimizer = torch.optim.SGD(student.parameters(), lr=0.1)
    x = torch.randn(32, 8)
    for _ in range(4):
        target = teacher(x).detach().softmax(1)
        loss = (student(x).log_softmax(1) * target).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return student


def test_a_detached_teachers_outputs_are_followed_to_the_students_loss():
    _, caught = guarded(detached_teacher_run)
    assert caught == []


def test_lean_probes_stop_following_a_call_sites_outputs_once_they_were_backpropagated():
    """The loss of a training step needs no flow probe once that call site was trained: its
    outputs' gradient probes decide. verify's probes follow every output."""
    from evallint.runtime.live import LiveSession

    # The first step's forward has its own signature (the model was not trained yet).
    for lean, followed in ((True, [True, True, False]), (False, [True, True, True])):
        session = LiveSession(lean=lean)
        model = make_net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        seen = []
        session.start()
        try:
            for _ in range(3):
                out = model(torch.randn(4, 8))
                seen.append(bool(session.probes.flow._entries))
                optimizer.zero_grad()
                out.sum().backward()
                optimizer.step()
        finally:
            session.stop()
        assert seen == followed, lean


def test_submodule_calls_keep_torchs_fast_path():
    """The guard wraps ``Module.__call__`` instead of adding global module hooks, which would
    send every submodule call down torch's slow path."""
    from torch.nn.modules import module as module_internals

    seen = {}

    def run():
        seen["hooks"] = bool(module_internals._has_any_global_hook())
        return buggy_run(epochs=1)

    guarded(run)
    assert seen["hooks"] is False
    assert nn.Module.__call__ is module_internals.Module._wrapped_call_impl  # restored


def test_lean_batchnorm_passes_copy_statistics_only_where_an_untrained_pass_can_be():
    """The guard's BatchNorm passes stop copying running statistics at a signature whose passes
    were all trained (a training step), and copy them again once one was not."""
    from evallint.runtime.batchnorm import BatchNormPasses
    from evallint.runtime.module_facts import ModuleFacts

    written = []

    class Writer:
        write = staticmethod(written.append)

    model = make_net()
    passes = BatchNormPasses(torch, Writer(), ModuleFacts(torch), lean=True)

    def one_pass(number, sig, trained):
        current = passes.open(model, (sig, number, number), sig)
        model(torch.randn(4, 8))
        current["trained"] = trained
        return bool(current["snapshots"])

    assert one_pass(1, sig=1, trained=True)  # a signature's first pass is measured
    assert not one_pass(2, sig=1, trained=True)  # then all its passes were trained: not copied
    assert one_pass(3, sig=2, trained=False)  # another signature: measured
    assert not one_pass(4, sig=1, trained=False)  # unmeasured, and now sig 1 had one
    assert one_pass(5, sig=1, trained=False)
    passes.close_all(on_error=None)
    assert [record["s"] for record in written] == [2, 1]  # the measured untrained passes


def test_the_guard_changes_no_output_and_no_gradient_bitwise():
    def training(record):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                              nn.Dropout(0.2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                              nn.Linear(8, 4))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x, y = torch.randn(16, 3, 8, 8), torch.randint(0, 4, (16,))
        for step in range(6):
            out = model(x)
            loss = F.cross_entropy(out, y)
            optimizer.zero_grad()
            loss.backward()
            record.append(out.detach().clone())
            record.extend(p.grad.clone() for p in model.parameters())
            optimizer.step()
            if step % 2 == 1:
                # A validation left in train mode with autograd on: the guard's
                # BatchNorm snapshots and gradient probes are all exercised.
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    record.append(model(x).detach().float())
        record.extend(t.detach().clone() for t in model.state_dict().values())
        return record

    plain = training([])
    watched, caught = guarded(lambda: training([]))
    assert caught, "the buggy validation should have been seen"
    assert len(plain) == len(watched)
    assert all(a.dtype == b.dtype and torch.equal(a, b) for a, b in zip(plain, watched))


def test_a_torch_function_mode_of_the_users_still_ends_with_its_block():
    # The guard's own mode joins torch's mode stack only while a model output it follows is
    # alive, which can be inside the user's `with` block; that block must still pop the user's
    # mode, not the guard's, and the guard must leave the stack as it found it.
    from torch.overrides import TorchFunctionMode

    class Counting(TorchFunctionMode):
        calls = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            Counting.calls += 1
            return func(*args, **(kwargs or {}))

    def run():
        model = make_net()
        x = torch.randn(4, 8)
        with Counting():
            out = model(x)
            out.sum()
        inside = Counting.calls
        (out * 2).sum()
        return inside, Counting.calls

    assert torch._C._len_torch_function_stack() == 0
    (inside, after), _ = guarded(run)
    assert inside > 0 and after == inside
    assert torch._C._len_torch_function_stack() == 0


def test_dataparallel_is_seen_through():
    _, caught = guarded(lambda: buggy_run(model=nn.DataParallel(make_net())))
    assert sorted(lines(caught)) == sorted(expected_warnings())
    assert "DataParallel(Sequential)" in str(caught[0].message)


def test_torch_compile_is_seen_through_and_torchs_hook_warning_is_not_shown():
    with warnings.catch_warnings(record=True) as everything:
        warnings.simplefilter("always")
        _, caught = guarded(lambda: buggy_run(model=torch.compile(make_net(), backend="eager"),
                                              epochs=2))
    assert sorted(lines(caught)) == sorted(expected_warnings())
    assert not any("global hooks" in str(w.message) for w in everything)


def test_an_in_place_compiled_model_is_seen_without_graph_breaks():
    """`model.compile()` compiles the module's own call; the guard's wrapper sits outside it and
    is plain torch while dynamo traces the submodule calls, so nothing of it breaks the graph."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()

    def run():
        model = make_net()
        model.compile(backend="eager")
        return buggy_run(model=model, epochs=2)

    _, caught = guarded(run)
    assert sorted(lines(caught)) == sorted(expected_warnings())
    assert sum(counters["graph_break"].values()) == 0, dict(counters["graph_break"])


def test_autocast_validation_is_seen():
    def run():
        torch.manual_seed(0)
        model = make_net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(32, 8), torch.randint(0, 2, (32,))
        for _ in range(2):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
                model(x)  # autocast-eval-in-train-mode

    _, caught = guarded(run)
    assert lines(caught) == [("EVL101", line_of("autocast-eval-in-train-mode"))]


def test_a_noqa_on_the_line_silences_its_warning_as_in_verify():
    def run():
        torch.manual_seed(0)
        model = make_net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(32, 8), torch.randint(0, 2, (32,))
        for _ in range(2):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                model(x)  # noqa: EVL101  (train-mode statistics on purpose)

    _, caught = guarded(run)
    assert caught == []


def test_warnings_become_errors_at_the_training_step_that_revealed_them(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent('''
        import sys
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.3), nn.Linear(16, 2))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(32, 8), torch.randint(0, 2, (32,))
        print("args", sys.argv[1:])
        for step in range(int(sys.argv[1])):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                model(x)
        print("finished")
    '''))
    warned = run_python(tmp_path, "-m", "evallint.guard", "train.py", "5")
    assert warned.returncode == 0, warned.stderr
    assert "args ['5']" in warned.stdout and "finished" in warned.stdout
    assert warned.stderr.count("EvallintWarning") == 1
    assert f"{script}:15: EvallintWarning: EVL101 Sequential ran an evaluation forward in " \
           "train mode: Dropout(p=0.3) active" in warned.stderr

    failed = run_python(tmp_path, "-W", "error::evallint.guard.EvallintWarning",
                        "-m", "evallint.guard", "train.py", "5")
    assert failed.returncode == 1
    assert "finished" not in failed.stdout
    assert "evallint.guard.EvallintWarning: EVL101" in failed.stderr
    assert "loss.backward()" in failed.stderr


def test_a_model_in_a_forked_dataloader_worker_is_said_once_not_silently_missed(tmp_path):
    (tmp_path / "train.py").write_text(textwrap.dedent('''
        import torch, torch.nn as nn
        from torch.utils.data import DataLoader, Dataset
        import evallint.guard
        evallint.guard.install()
        encoder = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))

        class Encoded(Dataset):
            def __len__(self):
                return 8
            def __getitem__(self, index):
                with torch.no_grad():
                    return encoder(torch.randn(4))

        if __name__ == "__main__":
            loader = DataLoader(Encoded(), batch_size=2, num_workers=2,
                                multiprocessing_context="fork")
            print(sum(batch.shape[0] for batch in loader))
    '''))
    result = run_python(tmp_path, "train.py")
    assert result.returncode == 0, result.stderr
    assert "8" in result.stdout
    notes = [line for line in result.stderr.splitlines() if "forked process" in line]
    assert len(notes) == 2, result.stderr  # one per worker, each said once
    assert all("evallint guard: a model ran in the forked process" in n for n in notes)

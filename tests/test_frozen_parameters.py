"""Models whose parameters the code freezes, in a loop over them, wholly or but for a head.

A whole freeze makes a model no trained model (a teacher). A freeze that a condition narrows
(`if name not in head:`) leaves a trained head: an eval() the training function itself calls is
then the linear-evaluation protocol (the frozen layers keep their statistics), while an eval()
left over from a validation pass is still EVL102.
"""

from __future__ import annotations

import pytest

from .conftest import expected_findings, found

TRAIN_AND_VALIDATE = """
import torch
import torch.nn as nn
import torch.nn.functional as F


def train(loader, model, optimizer):
{set_mode}
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)  # {marker}
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def validate(loader, model):
    model.eval()
    with torch.no_grad():
        return [model(x).argmax(1) for x, _ in loader]


def main(train_loader, val_loader):
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Linear(16, 2))
{freeze}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    for _ in range(3):
        train(train_loader, model, optimizer)
        validate(val_loader, model)
"""

BUT_THE_HEAD = """    for name, param in model.named_parameters():
        if not name.startswith("2."):
            param.requires_grad = False"""
SKIPPING_THE_HEAD = """    for name, param in model.named_parameters():
        if name.startswith("2."):
            continue
        param.requires_grad_(False)"""


def _program(set_mode: str, freeze: str, marker: str) -> str:
    source = TRAIN_AND_VALIDATE.format(set_mode=set_mode, freeze=freeze or "    pass", marker=marker)
    return source.replace("  # \n", "\n").lstrip("\n")


@pytest.mark.parametrize("freeze", [BUT_THE_HEAD, SKIPPING_THE_HEAD], ids=["if-guard", "continue"])
def test_eval_called_by_the_training_function_of_a_partly_frozen_model_is_on_purpose(lint, freeze):
    source = _program("    model.eval()", freeze, "")
    assert found(lint(source)) == set()


@pytest.mark.parametrize("freeze", [BUT_THE_HEAD, SKIPPING_THE_HEAD], ids=["if-guard", "continue"])
def test_eval_left_by_validation_is_reported_on_a_partly_frozen_model(lint, freeze):
    source = _program("    pass", freeze, "EVL102")
    assert found(lint(source)) == expected_findings(source)


def test_eval_called_by_the_training_function_of_an_unfrozen_model_is_reported(lint):
    source = _program("    model.eval()", "", "EVL102")
    assert found(lint(source)) == expected_findings(source)


def test_a_model_frozen_in_a_loop_over_its_parameters_stays_frozen_after_the_loop(lint):
    # The optimizer comes from the caller, so only the freeze tells that the teacher trains nothing.
    source = """
    import torch.nn as nn
    import torch.nn.functional as F


    def freeze(model):
        for param in model.parameters():
            param.requires_grad = False
        model.eval()


    def train_step(student, teacher, x, optimizer):
        loss = F.mse_loss(student(x), teacher(x))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


    def main(loader, optimizer):
        student = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.5), nn.Linear(16, 2))
        teacher = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.5), nn.Linear(16, 2))
        freeze(teacher)
        for x, _ in loader:
            student.train()
            train_step(student, teacher, x, optimizer)
    """
    assert found(lint(source)) == set()

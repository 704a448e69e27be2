"""A training forward whose loss is backpropagated later: in the function that ran it, or
in a caller that the output reaches.

A forward whose output reaches a backward inside its own function, and is neither returned
nor stored, cannot be backpropagated once that function returns. Where that backward did not
run (`run_phase(..., train_flag=False)` evaluates), the forward was no training step, and a
later step elsewhere must not take it for one. A forward whose output is returned or stored on
an object is still the caller's to backpropagate.
"""

from __future__ import annotations

from .conftest import expected_findings, found

EVALUATING_PHASE = """\
import torch
import torch.nn as nn
import torch.nn.functional as F


def run_phase(model, batches, optimizer, train_flag):
    model.train(train_flag)
    with torch.set_grad_enabled(train_flag):
        for x, y in batches:
            loss = F.cross_entropy(model(x), y)
            if train_flag:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()


def fine_tune(model, optimizer, batches):
    model.train()
    for x, y in batches:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


def main():
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [(torch.randn(8, 4), torch.randint(0, 3, (8,)))]
    for epoch in range(3):
        run_phase(model, data, optimizer, True)
        run_phase(model, data, optimizer, False)
    fine_tune(model, optimizer, data)


if __name__ == "__main__":
    main()
"""

RETURNED_LOSS = """\
import torch
import torch.nn as nn
import torch.nn.functional as F


def compute_loss(model, x, y):
    return F.cross_entropy(model(x), y)  # EVL102


def main():
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [(torch.randn(8, 4), torch.randint(0, 3, (8,)))]
    for epoch in range(3):
        for x, y in data:
            loss = compute_loss(model, x, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            print(sum(model(x).argmax(1).eq(y).sum().item() for x, y in data))


if __name__ == "__main__":
    main()
"""

STORED_OUTPUT = """\
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model:
    def __init__(self):
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=0.1)

    def forward(self, x, y):
        self.logits = self.net(x)  # EVL102
        self.target = y
        F.cross_entropy(self.logits, y).backward(retain_graph=True)

    def optimize(self, x, y):
        self.optimizer.zero_grad()
        self.forward(x, y)
        F.mse_loss(self.logits, torch.zeros_like(self.logits)).backward()
        self.optimizer.step()


def main():
    model = Model()
    data = [(torch.randn(8, 4), torch.randint(0, 3, (8,)))]
    for epoch in range(3):
        for x, y in data:
            model.optimize(x, y)
        model.net.eval()
        with torch.no_grad():
            print(sum(model.net(x).argmax(1).eq(y).sum().item() for x, y in data))


if __name__ == "__main__":
    main()
"""


def test_an_evaluating_phase_leaves_no_training_forward_for_a_later_step(lint):
    assert found(lint(EVALUATING_PHASE)) == set()


def test_a_returned_loss_is_still_trained_by_the_caller_s_step(lint):
    assert found(lint(RETURNED_LOSS)) == expected_findings(RETURNED_LOSS) == {(7, "EVL102")}


def test_an_output_stored_on_the_object_is_still_trained_by_a_later_backward(lint):
    assert found(lint(STORED_OUTPUT)) == expected_findings(STORED_OUTPUT) == {(12, "EVL102")}

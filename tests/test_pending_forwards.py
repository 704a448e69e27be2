"""A training forward whose loss is backpropagated later: in the function that ran it, or
in a caller that the output reaches.

A forward whose output reaches a backward inside its own function, and is neither returned
nor stored, cannot be backpropagated once that function returns. Where that backward did not
run (`run_phase(..., train_flag=False)` evaluates), the forward was no training step, and a
later step elsewhere must not take it for one. A forward whose output is returned or stored on
an object is still the caller's to backpropagate. Outputs handed to a project function that
backpropagates what it is given (REINFORCE's `finish_episode(values)`) are training too.
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


EPISODES = """\
import torch
import torch.nn as nn
import torch.nn.functional as F


class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.out = nn.Linear(8, 5)

    def forward(self, x):
        x = self.out(F.relu(self.body(x)))
        return x[:, :4], x[:, 4]


def select_action(state):
    scores, value = policy(state)
    return F.softmax(scores, dim=1).multinomial(1), value


def run_episode(episode):
    values, rewards = [], []
    for t in range(5):
        action, value = select_action(torch.randn(1, 4))
        values.append(value)
        rewards.append(1.0)
    return values, rewards


def finish_episode(episode, values, rewards):
    loss = sum(F.mse_loss(v, torch.tensor([r])) for v, r in zip(values, rewards))
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
    optimizer.step()


def show_policy(episode):
    scores, _ = policy(torch.randn(1, 4))  # EVL201
    print(episode, scores.argmax().item())


policy = Policy()
optimizer = torch.optim.SGD(policy.parameters(), lr=0.1)
for episode in range(10):
    values, rewards = run_episode(episode)
    finish_episode(episode, values, rewards)
    show_policy(episode)
"""


def test_outputs_handed_to_the_function_that_backpropagates_them_are_training(lint):
    # The episode counter goes to the training call too; it is the values that are trained on.
    assert found(lint(EPISODES)) == expected_findings(EPISODES) == {(40, "EVL201")}

"""A research script named like a test (`copymem_test.py`): it trains a model and evaluates it
on the test split. It defines no tests; its evaluation is a real one, judged as any other."""
import torch
import torch.nn.functional as F
from torch import nn

model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
optimizer = torch.optim.Adam(model.parameters())


def train(batches):
    model.train()
    for x, y in batches:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


def evaluate(batches):
    model.eval()
    return sum(F.cross_entropy(model(x), y).item() for x, y in batches)  # EVL201


if __name__ == "__main__":
    data = [(torch.randn(4, 10), torch.randint(0, 10, (4,)))]
    for epoch in range(3):
        train(data)
        print(evaluate(data))

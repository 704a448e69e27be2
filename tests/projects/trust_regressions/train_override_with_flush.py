"""A module that flushes a buffer when it leaves train mode: its own `train(mode)` hands the switch
to `super().train(mode)`, and its forward branches on `self.training`. After `eval()` the
forward's train-only branch cannot run, and `train()` puts the module back in train mode."""

import torch
import torch.nn as nn


class BufferedMemory(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.cell = nn.GRUCell(size, size)
        self.drop = nn.Dropout(0.1)
        self.pending = []

    def flush(self):
        self.pending.clear()

    def train(self, mode=True):
        if self.training and not mode:
            self.flush()
        super().train(mode)

    def updated(self, x):
        self.pending.append(x.detach())
        return x

    def forward(self, x, h):
        if self.training:
            x = self.updated(x)
        else:
            x = x.clone()
        return self.cell(self.drop(x), h)


memory = BufferedMemory(8)
optimizer = torch.optim.Adam(memory.parameters())


def train_epoch():
    memory.train()
    for _ in range(10):
        optimizer.zero_grad()
        out = memory(torch.rand(4, 8), torch.zeros(4, 8))
        out.pow(2).mean().backward()
        optimizer.step()


@torch.no_grad()
def test():
    memory.eval()
    h = torch.zeros(4, 8)
    for _ in range(3):
        h = memory(torch.rand(4, 8), h)
    return h.mean().item()


for epoch in range(3):
    train_epoch()
    print(test())

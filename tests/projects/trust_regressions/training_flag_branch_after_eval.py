"""A module method with an `if self.training:` branch, called in the evaluation loop after
`memory.eval()`: the branch cannot run, so it leaves no train mode behind for the next forward.
The code before took the contradicted flag for train mode and reported the next pass (EVL101)."""
import torch
import torch.nn as nn


class Memory(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.GRUCell(4, 4)
        self.drop = nn.Dropout(0.5)
        self.state = torch.zeros(2, 4)

    def forward(self, x):
        if self.training:
            return self.drop(self.cell(x, self.state))
        return self.state

    def update_state(self, x):
        if self.training:
            self.state = self.cell(x, self.state).detach()


memory = Memory()
optimizer = torch.optim.SGD(memory.parameters(), lr=0.1)
batches = [torch.randn(2, 4) for _ in range(3)]


def train():
    memory.train()
    for x in batches:
        optimizer.zero_grad()
        memory(x).sum().backward()
        optimizer.step()
        memory.update_state(x)


@torch.no_grad()
def test():
    memory.eval()
    outputs = []
    for x in batches:
        outputs.append(memory(x))
        memory.update_state(x)
    return outputs


for epoch in range(2):
    train()
    test()

"""Train mode kept on purpose: Monte-Carlo dropout sampling right after training. A plain train()
before the sampling looks like the bug, so the choice is said with noqa (or with a flag)."""
import torch
import torch.nn as nn

net = nn.Sequential(nn.Linear(1, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 1))
opt = torch.optim.Adam(net.parameters())
x = torch.linspace(-1, 1, 50).view(-1, 1)
for _ in range(100):
    opt.zero_grad()
    ((net(x) - x ** 2) ** 2).mean().backward()
    opt.step()

net.train()
with torch.no_grad():
    samples = torch.stack([net(x) for _ in range(20)])  # noqa: EVL101 (Monte-Carlo dropout)
print(samples.std(0).mean())

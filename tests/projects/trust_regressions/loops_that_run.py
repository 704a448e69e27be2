"""`for epoch in range(10)` runs at least once, so the eval() at the end of its body is in force
after it; a loop over a variable count may not run, and then train mode remains."""
import torch
import torch.nn as nn


def accuracy(m, x):
    with torch.no_grad():
        return m(x).argmax(1)  # EVL101


model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(10):
    model.train()
    model(torch.randn(2, 4)).sum().backward()
    opt.step()
    model.eval()
print(accuracy(model, torch.randn(2, 4)))


def fit(model, epochs):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        model.train()
        model(torch.randn(2, 4)).sum().backward()
        opt.step()
        model.eval()
    return accuracy(model, torch.randn(2, 4))

"""An epoch count set once in the module (`NUM_EPOCHS = 10`) runs the loop, so the eval() at the
end of each epoch is in force after it. A model's own `@torch.no_grad()` inference method turns
autograd off. Attribution helpers in a file that never steps an optimizer take gradients on purpose."""
import torch
import torch.nn as nn

NUM_EPOCHS = 10


class GNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.lin(self.drop(x))

    @torch.no_grad()
    def inference(self, x):
        return self.lin(x)


def accuracy(net, batches):
    return sum((net(x).argmax(1) == y).sum() for x, y in batches)


def fit(batches):
    model = GNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(NUM_EPOCHS):
        model.train()
        for x, y in batches:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            accuracy(model, batches)
    with torch.no_grad():
        accuracy(model, batches)
    return model.inference(torch.randn(2, 4))

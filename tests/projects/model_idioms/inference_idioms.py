"""How people build, load and wrap models, and the losses that sit beside them.

Factories, chains (`.to(device)`), `torch.compile`, whole models from `torch.load` and weights from
`load_state_dict` all give a model worth evaluating; a loss module is never one, so its line gets no
finding of its own. `torch.no_grad().__enter__()` turns grad off; `volatile=True` has done nothing since PyTorch 0.4,
and an untrained model built in the same function is only being probed for shapes.
"""
import io
import torch
import torch.nn as nn


class VGG(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.features(x))


class FocalLoss(nn.Module):
    def __init__(self, gamma=2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, logits, y):
        return nn.functional.cross_entropy(logits, y)


def vgg19():
    return VGG()


def infer_loaded(buffer, x):
    model = torch.load(buffer, weights_only=False)
    with torch.no_grad():
        return model(x).argmax(1)  # EVL101


def infer_factory(x, path):
    model = vgg19()
    model.load_state_dict(torch.load(path))
    with torch.set_grad_enabled(False):
        out = model(x)  # EVL101
    return out.argmax(1)


def infer_compiled(x, path):
    model = torch.compile(VGG())
    model.load_state_dict(torch.load(path))
    preds = model(x)  # EVL101, EVL201
    print(preds)


def infer_to_device(x, path, device):
    model = VGG().to(device)
    model.load_state_dict(torch.load(path))
    model.eval()
    preds = model(x)  # EVL201
    print(preds)


def validate(model, batches):
    model.eval()
    focal = FocalLoss()
    ce = nn.CrossEntropyLoss()
    total = 0.0
    for x, y in batches:
        out = model(x)  # EVL201
        total += focal(out, y).item() + ce(out, y).item()
    return total


def old_style(model, x):
    model.eval()
    torch.no_grad().__enter__()
    print(model(x))


def old_volatile(model, x):
    model.eval()
    v = torch.autograd.Variable(x, volatile=True)
    print(model(v))  # EVL201


def probe():
    net = VGG()
    y = net(torch.randn(2, 4))
    print(y.size())


def test():
    net = VGG()
    y = net(torch.randn(2, 4))
    print(y.size())

"""A layer's own `forward_jit_test()` runs it for a scripting check; its `predict()` is inference
and must put the layer in eval mode itself. Only the second is an evaluation."""
from torch import nn


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.1)
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(self.drop(x))

    def forward_jit_test(self, x):
        return self(x)

    def predict(self, x):
        return self(x)  # EVL101, EVL201

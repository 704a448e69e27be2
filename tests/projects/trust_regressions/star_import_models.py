"""Models whose layers come through two star imports: `nn` and `DropoutBlock` are what the
common module binds, so the subclasses' builders make Dropout layers and the base class's
`predict()` evaluates a model."""

from star_import_common import *


class ScorerBase(nn.Module):
    def create_layers(self, size):
        self.block = self.init_block(size)

    def init_block(self, size):
        return nn.Identity()

    def predict(self, batch):
        with torch.no_grad():
            scores = self(batch)  # EVL101
        return torch.softmax(scores, dim=-1)


class Scorer(ScorerBase):
    def __init__(self, size):
        super().__init__()
        self.create_layers(size)

    def init_block(self, size):
        return DropoutBlock(size, 0.5)

    def forward(self, x):
        return self.block(x)

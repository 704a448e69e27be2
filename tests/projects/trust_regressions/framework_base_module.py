"""A training framework's own base module (Lightning's LightningModule, in Lightning's source):
its trainer puts the module in eval mode before it calls predict_step(), as it does for every
subclass. The base class's hook is no evaluation evallint should judge by its name."""
from torch import nn


class Hooks:
    def on_fit_start(self):
        pass


class LightningModule(Hooks, nn.Module):
    def __init__(self):
        super().__init__()
        self.was_training = self.training

    def predict_step(self, *args, **kwargs):
        batch = kwargs.get("batch", args[0])
        return self(batch)

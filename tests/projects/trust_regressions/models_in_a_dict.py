"""A trainer that keeps its models in a dict (self.models["gen"]) and calls them through the
subscript: each call is a forward of that entry. The evaluation step runs without no_grad; the
second trainer's evaluation step is under no_grad and stays quiet."""
import torch
from torch import nn


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.2), nn.Linear(8, 8))

    def forward(self, x):
        return self.body(x)


class DictTrainer:
    def __init__(self, models, optimizers, loaders):
        self.models = models
        self.optimizers = optimizers
        self.loaders = loaders
        self.eval_loss = 0.0

    def train_step(self, x, y):
        out = self.models["gen"](x)
        loss = nn.functional.mse_loss(out, y)
        self.optimizers["gen"].zero_grad()
        loss.backward()
        self.optimizers["gen"].step()

    def eval_step(self, x, y):
        out = self.models["gen"](x)  # EVL201
        self.eval_loss += nn.functional.mse_loss(out, y).item()

    def eval_epoch(self):
        for name in self.models.keys():
            self.models[name].eval()
        for x, y in self.loaders["dev"]:
            self.eval_step(x, y)
        for name in self.models.keys():
            self.models[name].train()

    def run(self, epochs):
        for _ in range(epochs):
            for x, y in self.loaders["train"]:
                self.train_step(x, y)
            self.eval_epoch()


class NoGradDictTrainer(DictTrainer):
    @torch.no_grad()
    def eval_step(self, x, y):
        out = self.models["gen"](x)
        self.eval_loss += nn.functional.mse_loss(out, y).item()


def main(train_loader, dev_loader):
    models = {"gen": Generator()}
    optimizers = {"gen": torch.optim.Adam(models["gen"].parameters())}
    loaders = {"train": train_loader, "dev": dev_loader}
    DictTrainer(models, optimizers, loaders).run(3)
    NoGradDictTrainer(models, optimizers, loaders).run(3)

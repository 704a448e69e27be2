import torch


class Trainer:
    def __init__(self, model, optimizer, train_loader, val_loader):
        self.model = model
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.val_loader = val_loader

    def validate(self):
        raise NotImplementedError

    def fit(self, epochs):
        for epoch in range(epochs):
            self.model.train()
            for x, y in self.train_loader:
                loss = (self.model(x) - y).pow(2).mean()
                loss.backward()
                self.optimizer.step()
            with torch.no_grad():
                self.validate()

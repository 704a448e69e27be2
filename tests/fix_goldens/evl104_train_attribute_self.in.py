import torch


class Trainer:
    def fit(self, loader):
        for x, y in loader:
            self.model.train
            loss = self.model(x).sum()
            loss.backward()
            self.optimizer.step()

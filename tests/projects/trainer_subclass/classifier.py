from base import Trainer


class ClassifierTrainer(Trainer):
    def validate(self):
        return [self.model(x) for x in self.val_loader]  # EVL101


class CarefulTrainer(Trainer):
    def validate(self):
        self.model.eval()
        return [self.model(x) for x in self.val_loader]

import lightning as L
from transformers import AutoModelForSequenceClassification


class FineTuner(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")

    def training_step(self, batch, batch_idx):
        return self.model(**batch).loss  # EVL102

    def validation_step(self, batch, batch_idx):
        return self.model(**batch).loss


class RestoringFineTuner(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")

    def on_train_start(self):
        self.model.train()

    def training_step(self, batch, batch_idx):
        return self.model(**batch).loss

    def validation_step(self, batch, batch_idx):
        return self.model(**batch).loss

"""`model = model.to(device)` is the same module: it keeps the eval mode from_pretrained gave it."""
import torch
from transformers import AutoModelForSequenceClassification


def predict_fold(test_dataloader, device):
    model = AutoModelForSequenceClassification.from_pretrained("bert-base-cased")
    model = model.to(device)
    predictions = []
    for batch in test_dataloader:
        with torch.no_grad():
            predictions.append(model(**batch).logits)
    return predictions

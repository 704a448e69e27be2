import torch
from accelerate import Accelerator
from transformers import AutoModelForSequenceClassification


def main(train_dataloader, eval_dataloader, optimizer):
    accelerator = Accelerator()
    model = AutoModelForSequenceClassification.from_pretrained("bert-base-cased")
    model, optimizer, train_dataloader = accelerator.prepare(model, optimizer, train_dataloader)
    model.train()
    for step, batch in enumerate(train_dataloader):
        outputs = model(**batch)  # EVL102
        accelerator.backward(outputs.loss)
        optimizer.step()
        if step % 100 == 0:
            model.eval()
            for eval_batch in eval_dataloader:
                with torch.no_grad():
                    model(**eval_batch)

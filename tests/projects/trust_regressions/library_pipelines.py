"""A diffusers pipeline runs its models with autograd off itself (its `__call__` is decorated
with `@torch.no_grad()`, and `from_pretrained` gives its models in eval mode). A model loaded
the same way and called directly builds a graph."""
import torch
from diffusers import StableDiffusionPipeline
from transformers import AutoModelForSequenceClassification

painter = StableDiffusionPipeline.from_pretrained("some/checkpoint", torch_dtype=torch.float16)
painter.to("cuda")
for prompt in ["a red fox", "a blue heron"]:
    image = painter(prompt).images[0]
    image.save(prompt + ".png")

model = AutoModelForSequenceClassification.from_pretrained("some/classifier")
logits = model(torch.ones(2, 8, dtype=torch.long)).logits  # EVL201
print(logits.argmax(-1))

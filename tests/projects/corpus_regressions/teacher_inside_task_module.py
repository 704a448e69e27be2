"""A distillation task: the teacher runs under no_grad inside the task's forward. Its mode is
set where the teacher is built, elsewhere; a no_grad block inside a function is no evidence
of evaluation."""
import torch
from torch import nn


class DistillationTask(nn.Module):
    def __init__(self, student, teacher):
        super().__init__()
        self.student = student
        self.teacher = teacher

    def forward(self, x):
        student_logits = self.student(x)
        with torch.no_grad():
            teacher_logits = self.teacher(x)
        return (student_logits - teacher_logits).pow(2).mean()


def distill_step(task, optimizer, x):
    loss = task(x)
    loss.backward()
    optimizer.step()

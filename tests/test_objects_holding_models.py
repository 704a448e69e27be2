"""Models held by the project's own objects.

`Predictor(net)` that stores `net` as `self.model` and calls `self.model.eval()` leaves the
caller's `net` in eval mode, and `p.predict(x)` runs that same `net`. A function whose output
its caller backpropagates (Grad-CAM's `forward_pass()`) is no evaluation on its own.
"""

from __future__ import annotations

import pytest

from .conftest import expected_findings, found

PREDICTOR = """
import torch
from torchvision import models


class Predictor:
    def __init__(self, model):
        self.model = model
{set_mode}

    @torch.no_grad()
    def predict(self, image):
        return self.model(image)  # {marker}


if __name__ == "__main__":
    net = models.resnet18(weights="IMAGENET1K_V1")
    predictor = Predictor(net)
    print(predictor.predict(torch.randn(1, 3, 224, 224)))
"""


@pytest.mark.parametrize("set_mode, marker", [("        self.model.eval()", ""), ("        pass", "EVL101")],
                         ids=["eval-in-init", "no-eval"])
def test_a_model_stored_by_a_constructor_keeps_the_mode_it_set(lint, set_mode, marker):
    source = PREDICTOR.format(set_mode=set_mode, marker=marker).replace("  # \n", "\n").lstrip("\n")
    assert found(lint(source)) == expected_findings(source)


def test_a_forward_whose_result_the_caller_backpropagates_is_no_evaluation(lint):
    source = """
    import torch
    from torchvision import models


    class Extractor:
        def __init__(self, model):
            self.model = model

        def forward_pass(self, x):
            features = self.model.features(x)
            return features, self.model.classifier(features.flatten(1))


    class GradCam:
        def __init__(self, model):
            self.model = model
            self.model.eval()
            self.extractor = Extractor(self.model)

        def generate_cam(self, image, target):
            features, output = self.extractor.forward_pass(image)
            output[0, target].backward()
            return features


    if __name__ == "__main__":
        GradCam(models.alexnet(weights="IMAGENET1K_V1")).generate_cam(torch.randn(1, 3, 224, 224), 3)
    """
    assert found(lint(source)) == set()


@pytest.mark.parametrize("set_mode, marker", [("        self.model.eval()", ""), ("        pass", "EVL101")],
                         ids=["eval-in-init", "no-eval"])
def test_a_wrapper_built_and_used_in_one_expression_sees_what_its_constructor_stored(lint, set_mode, marker):
    source = PREDICTOR.format(set_mode=set_mode, marker=marker).replace("  # \n", "\n").lstrip("\n")
    source = source.replace("    predictor = Predictor(net)\n    print(predictor.predict(", "    print(Predictor(net).predict(")
    assert "Predictor(net).predict(" in source
    assert found(lint(source)) == expected_findings(source)


def test_the_caller_s_eval_reaches_a_wrapper_built_in_the_call(lint):
    source = PREDICTOR.format(set_mode="        pass", marker="").replace("  # \n", "\n").lstrip("\n")
    source = source.replace("    predictor = Predictor(net)\n    print(predictor.predict(",
                            "    net.eval()\n    print(Predictor(net).predict(")
    assert "net.eval()\n    print(Predictor(net).predict(" in source
    assert found(lint(source)) == set()


def test_a_module_built_and_run_in_one_expression_is_no_evaluation(lint):
    # A fresh module's `inference()` runs untrained weights: a shape check, not an evaluation.
    source = """
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))

        def forward(self, x):
            return self.body(x)

        def inference(self, x):
            return self.body(x).shape


    if __name__ == "__main__":
        print(Net().inference(torch.randn(2, 4)))
    """
    assert found(lint(source)) == set()


def test_a_message_names_a_switch_in_another_function_as_that_line_writes_it(lint):
    # The forward runs `self.model`; the switch that left it in train mode is the caller's
    # `net.train()`, and the message quotes that line as written.
    source = """
    import torch
    import torch.nn as nn


    class Predictor:
        def __init__(self, model):
            self.model = model

        def predict(self, x):
            with torch.no_grad():
                return self.model(x)


    def main():
        net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 2))
        optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
        net.train()
        for _ in range(3):
            optimizer.zero_grad()
            net(torch.randn(8, 4)).sum().backward()
            optimizer.step()
        return Predictor(net).predict(torch.randn(2, 4))


    if __name__ == "__main__":
        main()
    """
    (finding,) = lint(source)
    assert (finding.location.row, finding.code) == (11, "EVL101")
    assert "main() at line 17 calls net.train() and nothing calls self.model.eval()" in finding.message

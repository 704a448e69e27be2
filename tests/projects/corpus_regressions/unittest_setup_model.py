"""A test case whose model is built in setUp: evallint did not see its mode being set, so it is unknown."""
import unittest

import torch


class GenerationTest(unittest.TestCase):
    def setUp(self):
        self.model = build_quantized_model()

    def check_inference_correctness(self, model):
        with torch.no_grad():
            return model(torch.zeros(1, 4))

    def test_generate_quality(self):
        self.check_inference_correctness(self.model)

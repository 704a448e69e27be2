"""A model passed through a library call and assigned back: whatever mode it has now is unknown."""
import torch


def check_inference_correctness(model, inputs):
    with torch.no_grad():
        return model(inputs)


def test_serialization_roundtrip(config, weights, inputs):
    model_from_saved = build_from_config(config)
    model_from_saved = load_and_quantize_model(model_from_saved, weights)
    return check_inference_correctness(model_from_saved, inputs)

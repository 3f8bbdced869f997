"""The example plugin passes facevox's conformance suite and is found through its entry point."""

from __future__ import annotations

import facevox
import torch


def test_registered_through_entry_point() -> None:
    assert "example.tiny_cnn" in facevox.list_models(task="expression-classification")
    assert facevox.model_info("example.tiny_cnn")["plugin"] == "example"


def test_conformance(facevox_conformance) -> None:  # type: ignore[no-untyped-def]
    facevox_conformance("example.tiny_cnn")


def test_probabilities_follow_the_logits() -> None:
    model = facevox.create_model("example.tiny_cnn", pretrained=False).eval()
    with torch.no_grad():
        nn_head = model.head
        nn_head.weight.zero_()
        nn_head.bias.copy_(torch.tensor([0.0, 0, 0, 5.0, 0, 0, 0]))
    probs = model.predict_proba(torch.randn(4, 1, 48, 48))
    assert torch.allclose(probs.sum(dim=1), torch.ones(4))
    assert model.labels[int(probs[0].argmax())] == "happy"

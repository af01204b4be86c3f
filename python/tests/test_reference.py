"""The PyTorch reference model of ../shared/reference, where that folder is present: it loads
from Python, and its known answers (computed by the reference study's PyTorch code, see
../shared/reference/README.md) come out."""

import numpy as np
import pytest
from conftest import REPO, skip

import bilens

SHARED = REPO.parent / "shared"
MODEL = SHARED / "reference" / "bilinear_mnist10k_e20.safetensors"


@pytest.fixture(scope="module")
def reference():
    if not MODEL.is_file():
        skip("reference", f"{MODEL} is not present")
    return bilens.load_model(MODEL)


def test_known_answers(reference):
    assert reference.config == {"n_inputs": 784, "n_embed": 96, "n_hidden": 256, "n_outputs": 10}
    assert reference.interaction().norm() == pytest.approx(13.47326, rel=1e-5)
    values, _ = reference.eigen(basis="embedding")
    largest = [0.3086, 0.3547, 0.2698, 0.2973, 0.3310, 0.3042, 0.3090, 0.2835, 0.2951, 0.2698]
    np.testing.assert_allclose(values[:, -1], largest, atol=0.5e-4 + 1e-6)


def test_test_accuracy(reference):
    # The known 0.9602 is on MNIST's 10,000 test digits. The embedded test split (training
    # digits 8,000–9,999) was part of this model's training data, so it has no known answer:
    # there the accuracy is checked against the logits instead.
    digits = bilens.mnist()
    from_logits = float(np.mean(reference.logits(digits.test_x).argmax(axis=1) == digits.test_y))
    assert reference.accuracy(digits) == pytest.approx(from_logits, abs=1e-12) and from_logits > 0.96
    if not (SHARED / "data" / "mnist").is_dir():
        skip("reference", f"{SHARED / 'data' / 'mnist'} (MNIST's test digits) is not present")
    assert reference.accuracy(bilens.load_data(SHARED / "data" / "mnist")) == pytest.approx(0.9602, abs=2e-4)

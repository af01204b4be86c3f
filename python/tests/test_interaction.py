"""Exact metrics against the dense interaction tensor built with numpy from the weights."""

import numpy as np
import pytest
from conftest import cosine, dense_cp, dense_interaction, random_model

import bilens


@pytest.mark.parametrize("embed", [5, None, 20])
def test_norm_inner_and_cosine_match_the_dense_tensor(embed):
    model = random_model(inputs=12, embed=embed, hidden=7, outputs=3)
    b = dense_interaction(model)
    inter = model.interaction()
    assert inter.space == ("embedding" if embed == 5 else "input")
    assert inter.norm() == pytest.approx(np.linalg.norm(b), rel=1e-6)
    np.testing.assert_allclose(inter.output_norms(), np.linalg.norm(b, axis=(1, 2)), rtol=1e-6)
    rng = np.random.default_rng(4)
    heads, u, w = rng.normal(size=(3, 6)), rng.normal(size=(12, 6)), rng.normal(size=(12, 6))
    t = dense_cp(heads, u, w)
    assert inter.inner(heads, u, w) == pytest.approx(np.sum(t * b), rel=1e-5)
    assert inter.cosine(heads, u, w) == pytest.approx(cosine(t, b), rel=1e-5)


def test_the_exact_cp_form_of_b_has_cosine_one():
    model = random_model(inputs=10, embed=4, hidden=6, outputs=3)
    # B_c = sym(Σ_h W_u[c, h] (W_l W_e)_h ⊗ (W_r W_e)_h): one CP triple per hidden unit.
    heads, u, w = model.w_u, (model.w_l @ model.w_e).T, (model.w_r @ model.w_e).T
    inter = model.interaction()
    assert inter.cosine(heads, u, w) == pytest.approx(1.0, abs=1e-6)
    assert inter.inner(heads, u, w) == pytest.approx(inter.norm() ** 2, rel=1e-5)
    assert inter.cosine(heads, u, -w) == pytest.approx(-1.0, abs=1e-6)


def test_pixel_eigenvectors_rebuild_every_output():
    model = random_model(inputs=9, embed=4, hidden=5, outputs=2)
    values, vectors = model.eigen()
    assert values.shape == (2, 4) and vectors.shape == (2, 9, 4)
    assert np.all(np.diff(values, axis=1) >= 0), "ascending, as numpy.linalg.eigh"
    b = dense_interaction(model)
    for c in range(2):
        v = vectors[c].astype(np.float64)
        np.testing.assert_allclose(v.T @ v, np.eye(4), atol=1e-5)
        np.testing.assert_allclose(v @ np.diag(values[c]) @ v.T, b[c], atol=1e-5)
        nonzero = np.linalg.eigvalsh(b[c])[np.abs(np.linalg.eigvalsh(b[c])) > 1e-9]
        np.testing.assert_allclose(np.sort(values[c]), np.sort(nonzero), atol=1e-6)
    one_values, one_vectors = model.eigen(outputs=[1], basis="embedding")
    assert one_values.shape == (1, 4) and one_vectors.shape == (1, 9, 4)


def test_bad_factors_and_arguments_raise():
    inter = random_model().interaction()
    with pytest.raises(bilens.BilensError, match=r"heads \[3, R\], u and w \[12, R\]"):
        inter.cosine(np.ones((3, 2)), np.ones((12, 2)), np.ones((11, 2)))
    with pytest.raises(bilens.BilensError, match="heads"):
        inter.inner(np.ones((2, 2)), np.ones((12, 2)), np.ones((12, 2)))
    with pytest.raises(bilens.BilensError, match="u must be"):
        inter.cosine(np.ones((3, 2)), "not an array", np.ones((12, 2)))
    with pytest.raises(bilens.BilensError, match="out of range"):
        random_model().eigen(outputs=[3])
    with pytest.raises(bilens.BilensError, match="threads = 0"):
        random_model().eigen(threads=0)

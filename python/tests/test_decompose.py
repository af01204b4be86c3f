"""Decompositions: tiny fits, their exact metrics recomputed with numpy, the TensorLy mapping,
the files they write, progress, the notebook view, and errors."""

import base64
import json
import re

import numpy as np
import pytest
from conftest import cosine, dense_cp, dense_interaction, random_model

import bilens

TINY = dict(rank=4, steps=10, progress=False)


@pytest.fixture(scope="module")
def layer():
    """A layer of 36 inputs (6 × 6 images): small enough for the dense tensor."""
    return random_model(inputs=36, embed=8, hidden=10, outputs=4, seed=7)


@pytest.fixture(scope="module")
def fitted(layer):
    with pytest.warns(UserWarning, match="weights alone"):
        return bilens.decompose(layer, "provided_sparse", seed=3, **TINY)


def test_metrics_are_the_dense_cosines_of_the_factors(layer, fitted):
    m, f = fitted.metrics, fitted.factors
    assert f["heads"].shape == (4, 4) and f["u"].shape == (36, 4) and f["w"].shape == (36, 4)
    b, t = dense_interaction(layer), dense_cp(f["heads"], f["u"], f["w"])
    assert m["tensor_cosine"] == pytest.approx(cosine(t, b), rel=1e-5)
    assert m["displayed_cosine"] == pytest.approx(m["tensor_cosine"]), "no residual bank"
    assert layer.interaction().cosine(**f) == pytest.approx(m["tensor_cosine"], rel=1e-6)
    assert m["test_accuracy"] is None and m["displayed_components"] == 4 == m["n_components"]
    assert fitted.recipe["rank"] == 4 and fitted.recipe["steps"] == 10 and fitted.seed == 3


def test_tensorly_cp_convention(layer, fitted):
    """``(weights, [A, B, C])`` means ``Σ_r weights_r a_r ∘ b_r ∘ c_r`` (tensorly.cp_to_tensor)."""

    def cp_to_tensor(cp):
        weights, (a, b, c) = cp
        return np.einsum("r,ir,jr,kr->ijk", weights, a, b, c)

    f = fitted.factors
    r = f["u"].shape[1]
    plain = cp_to_tensor((np.ones(r), [f["heads"], f["u"], f["w"]]))
    symmetric = cp_to_tensor((np.full(2 * r, 0.5), [np.hstack([f["heads"]] * 2), np.hstack([f["u"], f["w"]]), np.hstack([f["w"], f["u"]])]))
    np.testing.assert_allclose(symmetric, 0.5 * (plain + plain.transpose(0, 2, 1)), atol=1e-6)
    assert cosine(symmetric, dense_interaction(layer)) == pytest.approx(fitted.metrics["tensor_cosine"], rel=1e-5)


def test_components_and_banks(fitted):
    components = fitted.components()
    assert len(components) == 4
    strengths = [c["strength"] for c in components]
    assert strengths == sorted(strengths, reverse=True)
    for c in components:
        assert c["form"] == "cp" and c["role"] == "displayed"
        assert np.linalg.norm(c["plus"]) == pytest.approx(1.0, rel=1e-5)
        assert c["class"] == int(np.argmax(np.abs(c["head"]))) and c["sign"] in (-1, 1)
        # The plus and minus patterns are a + b and a − b, normalised.
        plus = c["a"] + c["b"]
        np.testing.assert_allclose(c["plus"], plus / np.linalg.norm(plus), atol=1e-5)
    (bank,) = fitted.banks
    assert bank["form"] == "cp" and bank["role"] == "displayed" and bank["a"].shape == (36, 4)


def test_same_seed_same_bits_other_seed_other_factors(layer, fitted):
    again = bilens.decompose(layer, "provided_sparse", data=False, seed=3, **TINY)
    other = bilens.decompose(layer, "provided_sparse", data=False, seed=4, **TINY)
    np.testing.assert_array_equal(again.factors["u"], fitted.factors["u"])
    assert again.metrics == fitted.metrics
    assert not np.array_equal(other.factors["u"], fitted.factors["u"])


def test_digits_give_data_metrics_and_the_notebook_view(small_digit_model):
    result = bilens.decompose(str(small_digit_model), seed=0, **TINY)
    m = result.metrics
    assert 0.0 < m["test_accuracy"] <= 1.0 and m["agreement"] is not None and m["locality_7x7_weighted"] is not None
    html = result._repr_html_()
    assert html.count('<img src="data:image/png;base64,') == 1
    for name in ("tensor_cosine", "test_accuracy", "agreement", "displayed_components"):
        assert f"<code>{name}</code>" in html
    png = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", html).group(1))
    assert png == result.figure() and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert result.figure(top_pixels=True) != png


def test_save_writes_the_run_folder(tmp_path, fitted):
    fitted.save(tmp_path / "run")
    names = {p.name for p in (tmp_path / "run").iterdir() if not p.name.startswith(".")}
    expected = {"metrics.json", "components.csv", "history.csv", "factors.safetensors", "components.png"}
    assert names == expected | {"components_top_pixels.png", "run.json"}
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == fitted.metrics
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["command"] == "decompose" and run["seed"] == 3 and run["config"]["rank"] == 4
    assert run["inputs"]["preset"] == "provided_sparse" and run["inputs"]["model"] is None
    assert run["wall_seconds"] == pytest.approx(fitted.seconds)
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert history[0].startswith("stage,step,lr,loss,tensor_cosine") and len(history) == 11


def test_progress_is_driven_by_the_fit(progress, layer):
    bilens.decompose(layer, data=False, rank=4, steps=10)
    seen = progress.events
    assert seen[-2][0] == 10 and seen[-2][1].startswith("loss ") and seen[-1] == "closed"
    assert [s[0] for s in seen[:-1]] == sorted(s[0] for s in seen[:-1])


def test_errors(layer, digits):
    with pytest.raises(bilens.BilensError, match="unknown recipe key 'rnak'"):
        bilens.decompose(layer, data=False, rnak=3)
    with pytest.raises(bilens.BilensError, match=r"rank = 0 is out of range: allowed 1\.\.=8192"):
        bilens.decompose(layer, data=False, rank=0, progress=False)
    with pytest.raises(bilens.BilensError, match="rank = 100000"):
        bilens.decompose(layer, data=False, rank=100_000, progress=False)
    with pytest.raises(bilens.BilensError, match="unknown preset 'nope'"):
        bilens.decompose(layer, "nope")
    with pytest.raises(bilens.BilensError, match="takes 36 inputs but the data has 784"):
        bilens.decompose(layer, data=digits, **TINY)
    with pytest.raises(bilens.BilensError, match="optimizer"):
        bilens.decompose(layer, data=False, optimizer="sgd-ish", **TINY)
    with pytest.raises(bilens.BilensError, match="unknown recipe key 'rank.a'"):
        bilens.decompose(layer, data=False, rank={"a": 1})
    with pytest.raises(bilens.BilensError, match="cannot be an override"):
        bilens.decompose(layer, data=False, rank=object())
    with pytest.raises(bilens.BilensError, match="model must be"):
        bilens.decompose(3.5)
    with pytest.raises(bilens.BilensError, match="threads = 0"):
        bilens.decompose(layer, data=False, threads=0, **TINY)


def test_presets():
    names = {p["name"]: p for p in bilens.presets()}
    assert {"provided_sparse", "combo_cp_top1_res8", "eigen_pairs_onehot"} <= names.keys()
    assert all(p["family"] and p["description"] for p in names.values())
    recipe = bilens.preset("provided_sparse")
    assert recipe["rank"] == 32 and recipe["optimizer"] == "muon"


def test_long_calls_show_a_progress_bar_unless_told_not_to(small_digit_model, capfd):
    bilens.decompose(small_digit_model, rank=4, steps=3)
    assert "provided_sparse" in capfd.readouterr().err, "tqdm's bar, on by default"
    bilens.decompose(small_digit_model, rank=4, steps=3, progress=False)
    assert capfd.readouterr().err == ""


def test_components_are_described_and_images_explained_in_words(small_digit_model, digits):
    result = bilens.decompose(small_digit_model, "symmetric_r32", steps=20, progress=False)
    described = [c["description"] for c in result.components()]
    assert all(d and ("evidence for" in d or "evidence against" in d) for d in described)
    reading = result.explain(digits.test_x[3])
    assert reading["text"].startswith(f"predicted {reading['predicted']} (logit")
    shares = [p["share"] for p in reading["evidence_for"]]
    assert shares == sorted(shares, reverse=True) and all(s > 0 for s in shares)
    # The part names its component's pattern, and its role towards the class explained (the
    # component's own description names its strongest class, which a dense head need not be).
    top = reading["evidence_for"][0]
    words = top["description"].split(", evidence")[0]
    assert words == described[top["rank"] - 1].split(", evidence")[0]
    assert top["description"] == f"{words}, evidence for {reading['predicted']}"
    with pytest.raises(bilens.BilensError, match="image holds 10 values; the model takes 784 values"):
        result.explain([0.0] * 10)
    grid = np.asarray(digits.test_x[3]).reshape(28, 28)
    assert result.explain(grid)["text"] == reading["text"]
    with pytest.raises(bilens.BilensError, match=r"image has shape \[56, 14\]"):
        result.explain(grid.reshape(56, 14))


def short_contrast(model, preset="concept_contrast", **overrides):
    """A contrast preset on a few steps: 3 one-signed, 2 of the pairs, 256 labelled digits."""
    return bilens.decompose(str(model), preset, steps=3, pair_steps=2, activation_images=256, **overrides)


def test_contrasts_take_their_own_priors_as_a_dict(small_digit_model):
    """``concept_contrast`` pairs its fitted patterns into split components and fits the pairs
    with ``pair_priors``, given as a dict; ``priors`` take one too."""
    result = short_contrast(small_digit_model, pair_priors={"decision": 0.5}, priors={"coherence": 0.02}, progress=False)
    r = result.recipe
    assert r["pair_priors"]["decision"] == 0.5 and r["priors"]["coherence"] == pytest.approx(0.02) and r["pair_steps"] == 2
    n = result.metrics["n_components"]
    assert 0 < n <= r["rank"], "at most one contrast per pattern"
    heads = result.factors["heads"]
    assert heads.shape[1] == 2 * n, "a contrast is two triples: +p pᵀ and −n nᵀ"
    assert np.all((heads != 0).sum(axis=0) == 1), "one class each"


def test_progress_counts_the_pairs_fit(progress, small_digit_model):
    """A contrast's bar runs over every fit: the one-signed fit's steps, the pairs', then the
    polish's (given its priors as a dict)."""
    result = short_contrast(small_digit_model, "concept_contrast_polished", polish_steps=4, polish_priors={"decision": 0.5})
    assert progress.totals == [9] and progress.done()[-1] == 9, (progress.totals, progress.done())
    r = result.recipe
    assert r["polish_priors"]["decision"] == 0.5 and r["polish_priors"]["minimality"] == pytest.approx(0.002)

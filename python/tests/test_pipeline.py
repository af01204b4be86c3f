"""The folder-writing commands from Python: a sweep, its report, a quick study."""

import json

import pytest

import bilens


def test_sweep_then_report(tmp_path, small_digit_model):
    file = tmp_path / "tiny.toml"
    file.write_text(
        f'model = "{small_digit_model}"\n'
        "[[grid]]\n"
        'presets = ["provided_sparse"]\n'
        "seeds = [0, 1]\n"
        "set = { rank = 4, steps = 5 }\n"
    )
    lines = []
    rows = bilens.sweep(file, tmp_path / "sweep", log=lines.append)
    assert [r["seed"] for r in rows] == [0, 1] and all(r["preset"] == "provided_sparse" for r in rows)
    assert rows[0]["tensor_cosine"] == json.loads((tmp_path / "sweep" / "runs" / rows[0]["run_id"] / "metrics.json").read_text())["tensor_cosine"]
    assert any("2 runs, 0 already finished" in line for line in lines)
    again = []
    assert bilens.sweep(file, tmp_path / "sweep", log=again.append) == rows
    assert any("2 runs, 2 already finished" in line for line in again), "resumed, nothing redone"
    page = bilens.report(tmp_path / "sweep")
    assert page == tmp_path / "sweep" / "report.html" or str(page) == str(tmp_path / "sweep" / "report.html")
    assert "provided_sparse" in (tmp_path / "sweep" / "report.html").read_text()


def test_folder_errors(tmp_path, small_digit_model):
    with pytest.raises(bilens.BilensError, match="no results.json"):
        bilens.report(tmp_path)
    with pytest.raises(bilens.BilensError, match="reading"):
        bilens.sweep(tmp_path / "missing.toml", tmp_path / "out")
    bilens.train(epochs=1, n_hidden=4, n_embed=4, progress=False, out=tmp_path / "trained")
    result = bilens.decompose(small_digit_model, rank=4, steps=2, progress=False)
    with pytest.raises(bilens.BilensError, match="holds the results of `bilens train`"):
        result.save(tmp_path / "trained")
    with pytest.raises(bilens.BilensError, match="unknown field"):
        bilens.train(epochs=1, hidden=4, progress=False)
    with pytest.raises(bilens.BilensError, match="epochs = 0 is out of range"):
        bilens.train(epochs=0, progress=False)
    with pytest.raises(bilens.BilensError, match="needs data"):
        bilens.train(data=False)


def test_quick_study(tmp_path, small_digit_model):
    report = bilens.study(tmp_path / "study", model=small_digit_model, quick=True, log=lambda line: None)
    assert str(report).endswith("report.html") and (tmp_path / "study" / "eigen" / "run.json").is_file()
    rows = json.loads((tmp_path / "study" / "results.json").read_text())
    assert len(rows) == 3


def test_compare_two_runs(tmp_path, small_digit_model):
    file = tmp_path / "pair.toml"
    file.write_text(f'model = "{small_digit_model}"\n[[grid]]\npresets = ["provided_sparse"]\nseeds = [0, 1]\nset = {{ rank = 8, steps = 5 }}\n')
    rows = bilens.sweep(file, tmp_path / "sweep", log=lambda line: None)
    a, b = (tmp_path / "sweep" / "runs" / r["run_id"] for r in rows)
    same = bilens.compare(a, a)
    assert same["similarity"] == pytest.approx(1.0) and same["eigen_rank_matched_similarity"] == pytest.approx(1.0)
    assert same["tensor_similarity"] == pytest.approx(1.0) and same["evidence_similarity"] == pytest.approx(1.0)
    assert same["span_similarity"] == pytest.approx(1.0)
    assert same["similarity_on_inputs"] == pytest.approx(1.0) and same["models_agreement"] == 1.0
    other = bilens.compare(a, b, top=2, out=tmp_path / "cmp")
    assert 0.0 <= other["similarity"] <= other["span_similarity"] <= 1.0 and other["top"] == 2
    assert all(g["sign"] in ("+", "−") for g in other["concepts"]["groups"])
    assert (tmp_path / "cmp" / "compare.png").is_file()
    with pytest.raises(bilens.BilensError, match="not a finished run folder"):
        bilens.compare(tmp_path, a)

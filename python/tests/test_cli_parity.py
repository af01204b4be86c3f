"""Round trips with the command line: the same run from Python and from `bilens` gives the same
bits (same seed, settings and thread count), and each reads what the other writes."""

import json

import numpy as np
import pytest
from conftest import random_model, run_cli

import bilens


def test_decompose_matches_the_cli_bit_for_bit(tmp_path, cli, small_digit_model):
    sets = ["rank=4", "steps=10", "optimizer=\"adamw\""]
    run_cli(cli, "--threads", "1", "decompose", "--model", small_digit_model, "--seed", "5", *sum([["--set", s] for s in sets], []),
            "--out", tmp_path / "cli")
    result = bilens.decompose(bilens.load_model(small_digit_model), seed=5, threads=1, progress=False, rank=4, steps=10, optimizer="adamw")
    result.save(tmp_path / "py")
    for name in ("metrics.json", "components.csv", "history.csv", "factors.safetensors"):
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    runs = [json.loads((tmp_path / d / "run.json").read_text()) for d in ("cli", "py")]
    assert runs[0]["fingerprint"] == runs[1]["fingerprint"], "the same model, data, recipe and seed"
    assert runs[0]["threads"] == runs[1]["threads"] == 1
    assert runs[0]["data"] == runs[1]["data"] and runs[0]["inputs"]["model_sha256"] == runs[1]["inputs"]["model_sha256"]


@pytest.mark.parametrize("recipe", ["study", "exercise"])
def test_train_matches_the_cli_bit_for_bit(tmp_path, cli, recipe):
    args = ["--recipe", recipe, "--epochs", "1", "--hidden", "16", "--embed", "8", "--seed", "2", "--out", tmp_path / "cli"]
    run_cli(cli, "--threads", "1", "train", *args)
    model = bilens.train(recipe=recipe, epochs=1, n_hidden=16, n_embed=8, seed=2, threads=1, progress=False, out=tmp_path / "py")
    assert (tmp_path / "py" / "model.safetensors").read_bytes() == (tmp_path / "cli" / "model.safetensors").read_bytes()
    assert model.path == str(tmp_path / "py" / "model.safetensors")
    assert bilens.load_model(tmp_path / "cli" / "model.safetensors").sha256 == model.sha256
    assert model.bias.any() == (recipe == "study"), "the exercise recipe trains without biases"
    cli_run = json.loads((tmp_path / "cli" / "run.json").read_text())
    py_run = json.loads((tmp_path / "py" / "run.json").read_text())
    assert cli_run["fingerprint"] == py_run["fingerprint"]
    assert cli_run["metrics"]["test_accuracy"] == pytest.approx(model.accuracy(bilens.mnist()), abs=0)


def test_each_reads_what_the_other_writes(tmp_path, cli):
    model = random_model(inputs=12, embed=5, bias=False)
    model.save(tmp_path / "exercise.safetensors", layout="exercise")
    run_cli(cli, "convert", tmp_path / "exercise.safetensors", "--to", "study", "--out", tmp_path / "study.safetensors")
    evaluated = json.loads(run_cli(cli, "eval", "--model", tmp_path / "exercise.safetensors", "--no-data"))
    assert evaluated["tensor_norm"] == pytest.approx(model.interaction().norm(), rel=1e-12)
    assert evaluated["model_config"] == model.config
    back = bilens.load_model(tmp_path / "study.safetensors")
    np.testing.assert_array_equal(back.w_r, model.w_r)
    assert back.sha256 == model.sha256, "the study layout of a model built in memory is what identifies it"

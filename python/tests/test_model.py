"""Models: every layout written and read back, logits, and errors raised as exceptions."""

import json
import struct

import numpy as np
import pytest
from conftest import random_model

import bilens


def tensor_names(path) -> dict[str, list[int]]:
    """The tensors of a safetensors file and their shapes, read from its JSON header."""
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    return {k: v["shape"] for k, v in header.items() if k != "__metadata__"}


def numpy_logits(model, x):
    h = x @ model.w_e.T if model.w_e is not None else x
    return ((h @ model.w_l.T) * (h @ model.w_r.T)) @ model.w_u.T + model.bias


@pytest.mark.parametrize(
    ("layout", "embed", "bias", "names"),
    [
        ("study", 5, True, {"w_e": [5, 12], "w_lr_param": [2, 7, 5], "w_u": [3, 7], "bias": [3]}),
        ("study", None, True, {"w_lr_param": [2, 7, 12], "w_u": [3, 7], "bias": [3]}),
        ("exercise", 5, False, {"embed.weight": [5, 12], "blocks.0.weight": [14, 5], "head.weight": [3, 7]}),
        ("mlp", None, False, {"w.weight": [14, 12], "p.weight": [3, 7]}),
    ],
)
def test_every_layout_round_trips(tmp_path, layout, embed, bias, names):
    model = random_model(embed=embed, bias=bias)
    path = tmp_path / f"{layout}.safetensors"
    model.save(path, layout=layout)
    assert tensor_names(path) == names
    back = bilens.load_model(path)
    assert back.config == {"n_inputs": 12, "n_embed": embed, "n_hidden": 7, "n_outputs": 3}
    for name in ("w_l", "w_r", "w_u", "bias"):
        np.testing.assert_array_equal(getattr(back, name), getattr(model, name))
    if embed is not None:
        np.testing.assert_array_equal(back.w_e, model.w_e)
    assert back.path == str(path) and model.path is None
    x = np.random.default_rng(1).normal(size=(4, 12)).astype(np.float32)
    np.testing.assert_allclose(back.logits(x), numpy_logits(model, x), rtol=1e-5, atol=1e-5)


def test_a_model_saved_in_the_study_layout_keeps_its_identity(tmp_path):
    model = random_model()
    model.save(tmp_path / "m.safetensors")
    assert bilens.load_model(tmp_path / "m.safetensors").sha256 == model.sha256
    assert random_model(seed=1).sha256 != model.sha256


def test_arrays_of_any_float_dtype_and_logit_shapes():
    rng = np.random.default_rng(2)
    w = dict(w_l=rng.normal(size=(4, 6)), w_r=rng.normal(size=(4, 6)), w_u=rng.normal(size=(2, 4)))
    m64 = bilens.Model.from_arrays(**w)
    m32 = bilens.Model.from_arrays(**{k: v.astype(np.float32) for k, v in w.items()})
    np.testing.assert_array_equal(m64.w_l, m32.w_l)
    assert m64.w_l.dtype == np.float32 and m64.w_e is None and not m64.bias.any()
    x = rng.normal(size=(3, 6))
    assert m64.logits(x).shape == (3, 2)
    np.testing.assert_allclose(m64.logits(x[0]), m64.logits(x)[0], rtol=1e-6)
    assert m64.logits(x.reshape(3, 2, 3)).shape == (3, 2), "images are flattened"


def test_errors_are_exceptions_with_bilens_messages(tmp_path):
    with pytest.raises(bilens.BilensError, match="nowhere.safetensors"):
        bilens.load_model(tmp_path / "nowhere.safetensors")
    rng = np.random.default_rng(3)
    with pytest.raises(bilens.BilensError, match="inconsistent shapes"):
        bilens.Model.from_arrays(w_l=rng.normal(size=(4, 6)), w_r=rng.normal(size=(4, 6)), w_u=rng.normal(size=(2, 5)))
    with pytest.raises(bilens.BilensError, match="w_l must be a 2-D array"):
        bilens.Model.from_arrays(w_l=np.ones(6), w_r=rng.normal(size=(4, 6)), w_u=rng.normal(size=(2, 4)))
    with pytest.raises(bilens.BilensError, match="bias must have 2 entries"):
        bilens.Model.from_arrays(w_l=np.ones((4, 6)), w_r=np.ones((4, 6)), w_u=np.ones((2, 4)), bias=np.ones(3))
    with pytest.raises(bilens.BilensError, match=r"w_u: entry 5 is not finite \(NaN\)"):
        bilens.Model.from_arrays(w_l=np.ones((4, 6)), w_r=np.ones((4, 6)), w_u=np.where(np.arange(8) == 5, np.nan, 1.0).reshape(2, 4))
    with pytest.raises(bilens.BilensError, match="bias: entry 0 is not finite"):
        bilens.Model.from_arrays(w_l=np.ones((4, 6)), w_r=np.ones((4, 6)), w_u=np.ones((2, 4)), bias=[np.inf, 0.0])
    with pytest.raises(bilens.BilensError, match="complex"):
        bilens.Model.from_arrays(w_l=np.ones((4, 6)) * 1j, w_r=np.ones((4, 6)), w_u=np.ones((2, 4)))
    model = random_model()
    with pytest.raises(bilens.BilensError, match="no output bias"):
        model.save(tmp_path / "e.safetensors", layout="exercise")
    with pytest.raises(bilens.BilensError, match="unknown layout"):
        model.save(tmp_path / "x.safetensors", layout="keras")
    with pytest.raises(bilens.BilensError, match="reads 12 inputs"):
        model.logits(np.ones((2, 11)))
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(bilens.BilensError, match="bad.safetensors"):
        bilens.load_model(tmp_path / "bad.safetensors")
    assert issubclass(bilens.BilensError, ValueError)


def write_safetensors(path, tensors: dict[str, np.ndarray]) -> None:
    """A safetensors file written by hand (little-endian f32), as PyTorch's `save_file` would."""
    header, offset, blobs = {}, 0, []
    for name, value in tensors.items():
        raw = np.ascontiguousarray(value, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(value.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def test_the_exercise_layout_from_pytorch_and_its_config(tmp_path):
    """The bilinear-MLP exercise's `state_dict`: `blocks.0.weight` stacks the left rows on the right ones."""
    rng = np.random.default_rng(6)
    embed, blocks, head = rng.normal(size=(5, 12)), rng.normal(size=(14, 5)), rng.normal(size=(3, 7))
    path = tmp_path / "model.safetensors"
    write_safetensors(path, {"embed.weight": embed, "blocks.0.weight": blocks, "head.weight": head})
    model = bilens.load_model(path)
    np.testing.assert_array_equal(model.w_l, blocks[:7].astype(np.float32))
    np.testing.assert_array_equal(model.w_r, blocks[7:].astype(np.float32))
    assert not model.bias.any()
    (tmp_path / "config.json").write_text(json.dumps({"n_layer": 1, "residual": False}))
    assert bilens.load_model(path).sha256 == model.sha256
    (tmp_path / "config.json").write_text(json.dumps({"n_layer": 2}))
    with pytest.raises(bilens.BilensError, match="config.json"):
        bilens.load_model(path)
    write_safetensors(tmp_path / "other.safetensors", {"fc1.weight": np.ones((3, 4)), "fc2.weight": np.ones((2, 3))})
    with pytest.raises(bilens.BilensError, match=r"no bilinear layer bilens knows: it has fc1.weight \[3, 4\], fc2.weight \[2, 3\]"):
        bilens.load_model(tmp_path / "other.safetensors")

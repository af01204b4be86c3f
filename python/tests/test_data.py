"""Data: the embedded digits, IDX folders written here byte by byte, arrays, and their errors."""

import gzip
import struct

import numpy as np
import pytest

import bilens


def test_embedded_digits(digits):
    assert digits.train_x.shape == (8000, 784) and digits.test_x.shape == (2000, 784)
    assert digits.train_x.dtype == np.float32 and digits.train_y.dtype == np.uint8
    assert digits.shape == (28, 28) and digits.n_classes == 10
    assert 0.0 <= digits.train_x.min() and digits.train_x.max() <= 1.0
    assert set(np.unique(digits.test_y)) == set(range(10))
    assert not digits.train_x.flags.writeable, "arrays are views of what runs read"
    assert digits.train_x is digits.train_x, "made once"


def write_idx(folder, images: np.ndarray, labels: np.ndarray, prefix: str, compress: bool):
    """One MNIST-format pair: magic 0x803 with big-endian sizes, then the bytes."""
    n, h, w = images.shape
    files = {
        f"{prefix}-images-idx3-ubyte": struct.pack(">IIII", 0x803, n, h, w) + images.astype(np.uint8).tobytes(),
        f"{prefix}-labels-idx1-ubyte": struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes(),
    }
    for name, raw in files.items():
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_folders(tmp_path, compress):
    rng = np.random.default_rng(5)
    train, test = rng.integers(0, 256, size=(6, 3, 4)), rng.integers(0, 256, size=(2, 3, 4))
    write_idx(tmp_path, train, np.arange(6) % 3, "train", compress)
    write_idx(tmp_path, test, np.array([2, 0]), "t10k", compress)
    data = bilens.load_data(tmp_path)
    assert data.shape == (3, 4) and data.n_classes == 3
    np.testing.assert_allclose(data.train_x, train.reshape(6, 12) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(data.test_y, [2, 0])


def test_array_files_and_arrays(tmp_path):
    x = np.arange(60, dtype=np.float32).reshape(10, 6) / 60
    np.save(tmp_path / "x.npy", x)
    data = bilens.load_data(tmp_path / "x.npy")
    assert data.train_x.shape == (8, 6) and data.test_x.shape == (2, 6)
    assert data.train_y is None and data.shape is None
    np.testing.assert_array_equal(data.test_x, x[8:])
    images = bilens.Data(np.zeros((5, 2, 3)), np.ones((2, 2, 3)), train_y=[0, 1, 2, 1, 0], test_y=np.array([4, 1]))
    assert images.shape == (2, 3) and images.n_inputs == 6 and images.n_classes == 5
    flat = bilens.Data(np.zeros((5, 6)), np.ones((2, 6)), shape=(2, 3))
    assert flat.shape == (2, 3) and flat.test_y is None
    assert flat.checksum != bilens.Data(np.zeros((5, 6)), np.zeros((2, 6))).checksum


def test_data_errors(tmp_path):
    with pytest.raises(bilens.BilensError, match="does not exist"):
        bilens.load_data(tmp_path / "missing")
    with pytest.raises(bilens.BilensError, match="cannot find train-images-idx3-ubyte"):
        bilens.load_data(tmp_path)
    with pytest.raises(bilens.BilensError, match="3 labels for 5 examples"):
        bilens.Data(np.zeros((5, 6)), np.zeros((2, 6)), train_y=[0, 1, 2])
    with pytest.raises(bilens.BilensError, match="alike"):
        bilens.Data(np.zeros((5, 6)), np.zeros((2, 7)))
    with pytest.raises(bilens.BilensError, match=r"shape = \(3, 2\) but the images are 2 × 3"):
        bilens.Data(np.zeros((5, 2, 3)), np.zeros((2, 2, 3)), shape=(3, 2))
    assert bilens.Data(np.zeros((5, 2, 3)), np.zeros((2, 2, 3)), shape=(2, 3)).shape == (2, 3)
    with pytest.raises(bilens.BilensError, match="outside 0..=255"):
        bilens.Data(np.zeros((2, 6)), np.zeros((2, 6)), train_y=[0, 300])
    with pytest.raises(bilens.BilensError, match="integer labels"):
        bilens.Data(np.zeros((2, 6)), np.zeros((2, 6)), train_y=[0.5, 1.0])
    with pytest.raises(bilens.BilensError, match="not finite"):
        bilens.Data(np.full((2, 6), np.nan), np.zeros((2, 6)))

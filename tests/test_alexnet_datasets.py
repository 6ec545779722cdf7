"""Tests for the AlexNet builder and the image datasets (small, CPU-only, a few seconds)."""

from __future__ import annotations

import os
import re
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from cnnprov_rdf.demo.alexnet import build_alexnet
from cnnprov_rdf.demo.datasets import ImageDataset, flowers17, load_dataset, synthetic_shapes


def _weighted_layers(model: keras.Model) -> list[keras.layers.Layer]:
    kinds = (layers.Conv2D, layers.Dense, layers.Dropout)
    return [layer for layer in model.layers if isinstance(layer, kinds)]


def test_alexnet_layer_sequence() -> None:
    model = build_alexnet(input_shape=(64, 64, 3), num_classes=5, width=0.125)
    assert model.name == "alexnet"
    kinds = [type(layer).__name__ for layer in _weighted_layers(model)]
    assert kinds == ["Conv2D"] * 5 + ["Dropout", "Dense", "Dropout", "Dense", "Dense"]
    # Dropout sits immediately before each of the first two Dense layers.
    names = [layer.__class__.__name__ for layer in model.layers]
    dense_at = [i for i, name in enumerate(names) if name == "Dense"]
    assert [names[i - 1] for i in dense_at[:2]] == ["Dropout", "Dropout"]
    assert names[dense_at[2] - 1] == "Dense"
    assert sum(isinstance(layer, layers.MaxPooling2D) for layer in model.layers) == 3
    convs = [layer for layer in model.layers if isinstance(layer, layers.Conv2D)]
    assert [c.filters for c in convs] == [12, 32, 48, 48, 32]
    assert [c.kernel_size for c in convs] == [(11, 11), (5, 5), (3, 3), (3, 3), (3, 3)]
    assert convs[0].strides == (4, 4)
    last = model.layers[-1]
    assert isinstance(last, layers.Dense)
    assert last.units == 5
    assert last.activation is keras.activations.softmax
    assert model.output_shape == (None, 5)


def test_alexnet_minimum_width_and_prediction() -> None:
    model = build_alexnet(num_classes=3, width=0.001)
    assert all(c.filters == 4 for c in model.layers if isinstance(c, layers.Conv2D))
    probs = model.predict(np.zeros((2, 64, 64, 3), dtype=np.float32), verbose=0)
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_synthetic_shapes_shapes_and_determinism() -> None:
    ds = synthetic_shapes(n_per_class=10, num_classes=4, size=32, split=0.8, seed=3)
    assert isinstance(ds, ImageDataset)
    assert (ds.name, ds.location, ds.num_classes, ds.train_fraction) == ("synthetic-shapes", None, 4, 0.8)
    assert ds.x_train.shape == (32, 32, 32, 3) and ds.x_test.shape == (8, 32, 32, 3)
    assert ds.x_train.dtype == np.float32
    assert ds.y_train.shape == (32,) and ds.y_test.shape == (8,)
    assert np.bincount(ds.y_train, minlength=4).tolist() == [8] * 4
    assert np.bincount(ds.y_test, minlength=4).tolist() == [2] * 4
    for x in (ds.x_train, ds.x_test):
        assert x.min() >= 0.0 and x.max() <= 1.0
    # The training order is shuffled, not grouped by class.
    assert not np.all(np.diff(ds.y_train) >= 0)

    again = synthetic_shapes(n_per_class=10, num_classes=4, size=32, split=0.8, seed=3)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(ds, name), getattr(again, name))
    other = synthetic_shapes(n_per_class=10, num_classes=4, size=32, split=0.8, seed=4)
    assert not np.array_equal(ds.x_train, other.x_train)


def test_synthetic_shapes_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        synthetic_shapes(num_classes=1)
    with pytest.raises(ValueError):
        synthetic_shapes(split=0.0)


def _write_jpgs(directory: Path, count: int) -> None:
    """Write ``count`` 8x8 JPEGs whose red channel encodes the class (0 or 255 per block of 80)."""
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        value = 255 if (i // 80) % 2 else 0
        image = np.full((8, 8, 3), [value, 128, 255 - value], dtype=np.uint8)
        tf.io.write_file(str(directory / f"image_{i + 1:04d}.jpg"), tf.io.encode_jpeg(image))


def test_flowers17_labels_follow_file_order(tmp_path: Path) -> None:
    _write_jpgs(tmp_path / "jpg", 160)
    (tmp_path / "jpg" / "files.txt").write_text("not an image\n")
    ds = flowers17(str(tmp_path / "jpg"), size=16, split=0.75, seed=1)
    assert (ds.name, ds.num_classes, ds.train_fraction) == ("oxford-flowers-17", 2, 0.75)
    assert ds.location == os.path.abspath(tmp_path / "jpg")
    assert ds.x_train.shape == (120, 16, 16, 3) and ds.x_test.shape == (40, 16, 16, 3)
    assert np.bincount(ds.y_train).tolist() == [60, 60] and np.bincount(ds.y_test).tolist() == [20, 20]
    # Images 1-80 were written with red 0 and 81-160 with red 255: labels must match the file order.
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert x.min() >= 0.0 and x.max() <= 1.0
        red = x[..., 0].mean(axis=(1, 2))
        np.testing.assert_array_equal(red > 0.5, y == 1)

    via_loader = load_dataset(str(tmp_path / "jpg"), size=16, split=0.75, seed=1)
    np.testing.assert_array_equal(via_loader.y_train, ds.y_train)


def test_flowers17_rejects_empty_or_partial_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(str(tmp_path))):
        flowers17(str(tmp_path))
    _write_jpgs(tmp_path, 81)
    with pytest.raises(ValueError, match="multiple of 80"):
        flowers17(str(tmp_path))


def test_load_dataset_without_directory_is_synthetic() -> None:
    ds = load_dataset(None, size=32, split=0.5, seed=0)
    assert ds.name == "synthetic-shapes" and ds.location is None
    assert ds.x_train.shape[1:] == (32, 32, 3)


def test_alexnet_learns_synthetic_shapes() -> None:
    keras.utils.set_random_seed(0)
    ds = synthetic_shapes(n_per_class=30, num_classes=4, size=64, seed=0)
    model = build_alexnet(input_shape=(64, 64, 3), num_classes=ds.num_classes, width=0.125)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(ds.x_train, ds.y_train, epochs=5, batch_size=8, verbose=0)
    _, train_accuracy = model.evaluate(ds.x_train, ds.y_train, verbose=0)
    assert train_accuracy > 1 / ds.num_classes + 0.15

"""Image datasets as numpy arrays: generated shapes, or Oxford Flowers 17 read from a local folder.

Nothing is downloaded.  Images are float32 in ``[0, 1]`` with shape ``(n, size, size, 3)``; labels are
int64 class indices.  Both loaders shuffle deterministically for a seed and split each class separately
(stratified), so the train and test sets keep the class balance.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Images per class in Oxford Flowers 17 (classes are runs of 80 consecutive file names).
FLOWERS17_PER_CLASS = 80


@dataclass(frozen=True)
class ImageDataset:
    """A train/test split of RGB images; ``location`` is the source folder, or None when generated."""

    name: str
    location: str | None
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    train_fraction: float


def _stratified_split(
    x: np.ndarray, y: np.ndarray, split: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle each class with ``seed`` and put ``round(split * n_class)`` of it in the train set."""
    if not 0.0 < split <= 1.0:
        raise ValueError(f"split must be in (0, 1], got {split}")
    rng = np.random.default_rng(seed)
    train_idx: list[np.ndarray] = []
    test_idx: list[np.ndarray] = []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_train = min(len(idx), max(1, round(split * len(idx))))
        train_idx.append(idx[:n_train])
        test_idx.append(idx[n_train:])
    train = rng.permutation(np.concatenate(train_idx))
    test = rng.permutation(np.concatenate(test_idx))
    return x[train], y[train], x[test], y[test]


# --- synthetic shapes -------------------------------------------------------------------------------------

_Mask = Callable[[np.ndarray, np.ndarray, np.random.Generator, int], np.ndarray]


def _stripes(xx: np.ndarray, yy: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    theta = rng.uniform(0.0, np.pi)
    period = rng.uniform(0.15, 0.3) * size
    phase = rng.uniform(0.0, 2 * np.pi)
    return np.sin(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / period + phase) > 0


def _centre(rng: np.random.Generator, size: int, extent: float) -> tuple[float, float]:
    """A random centre that keeps a shape of half-size ``extent`` inside the image."""
    return rng.uniform(extent, size - extent), rng.uniform(extent, size - extent)


def _disc(xx: np.ndarray, yy: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    r = rng.uniform(0.2, 0.35) * size
    cx, cy = _centre(rng, size, r)
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r**2


def _square_outline(xx: np.ndarray, yy: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    half = rng.uniform(0.22, 0.4) * size
    thick = rng.uniform(0.08, 0.12) * size
    cx, cy = _centre(rng, size, half)
    d = np.maximum(np.abs(xx - cx), np.abs(yy - cy))
    return (d <= half) & (d >= half - thick)


def _cross(xx: np.ndarray, yy: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    arm = rng.uniform(0.25, 0.4) * size
    thick = rng.uniform(0.06, 0.1) * size
    cx, cy = _centre(rng, size, arm)
    dx, dy = np.abs(xx - cx), np.abs(yy - cy)
    return ((dx <= thick) & (dy <= arm)) | ((dy <= thick) & (dx <= arm))


def _ring(xx: np.ndarray, yy: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    r = rng.uniform(0.2, 0.35) * size
    thick = rng.uniform(0.06, 0.1) * size
    cx, cy = _centre(rng, size, r)
    d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
    return (d <= r) & (d >= r - thick)


def _diagonal_cross(xx: np.ndarray, yy: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    arm = rng.uniform(0.2, 0.35) * size
    thick = rng.uniform(0.05, 0.08) * size
    cx, cy = _centre(rng, size, arm)
    u, v = (xx - cx + yy - cy) / np.sqrt(2), (xx - cx - yy + cy) / np.sqrt(2)
    inside = (np.abs(xx - cx) <= arm) & (np.abs(yy - cy) <= arm)
    return inside & ((np.abs(u) <= thick) | (np.abs(v) <= thick))


def _checkerboard(xx: np.ndarray, yy: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    cell = rng.uniform(0.1, 0.2) * size
    ox, oy = rng.uniform(0.0, cell, size=2)
    return ((np.floor((xx + ox) / cell) + np.floor((yy + oy) / cell)) % 2) == 0


def _triangle(xx: np.ndarray, yy: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    half = rng.uniform(0.2, 0.35) * size
    cx, cy = _centre(rng, size, half)
    top, bottom = cy - half, cy + half
    t = np.clip((yy - top) / (bottom - top), 0.0, 1.0)
    return (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= t * half)


#: Pattern of each class, in label order.
SHAPES: tuple[tuple[str, _Mask], ...] = (
    ("stripes", _stripes),
    ("disc", _disc),
    ("square-outline", _square_outline),
    ("cross", _cross),
    ("ring", _ring),
    ("diagonal-cross", _diagonal_cross),
    ("checkerboard", _checkerboard),
    ("triangle", _triangle),
)


def synthetic_shapes(
    n_per_class: int = 40, num_classes: int = 4, size: int = 64, split: float = 0.8, seed: int = 0
) -> ImageDataset:
    """Generate ``num_classes`` (2-8) classes of noisy patterns (see `SHAPES`), deterministic for ``seed``.

    Each image is a random dark background with one pattern drawn in a random bright colour at a random
    position, scale and orientation, plus Gaussian noise.
    """
    if not 2 <= num_classes <= len(SHAPES):
        raise ValueError(f"num_classes must be between 2 and {len(SHAPES)}, got {num_classes}")
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be positive, got {n_per_class}")
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    n = n_per_class * num_classes
    x = np.empty((n, size, size, 3), dtype=np.float32)
    y = np.repeat(np.arange(num_classes, dtype=np.int64), n_per_class)
    for i, label in enumerate(y):
        mask = SHAPES[label][1](xx, yy, rng, size)[..., None]
        background = rng.uniform(0.0, 0.35, size=3)
        foreground = rng.uniform(0.6, 1.0, size=3)
        image = np.where(mask, foreground, background) + rng.normal(0.0, 0.05, size=(size, size, 3))
        x[i] = np.clip(image, 0.0, 1.0)
    x_train, y_train, x_test, y_test = _stratified_split(x, y, split, seed)
    return ImageDataset("synthetic-shapes", None, x_train, y_train, x_test, y_test, num_classes, split)


# --- Oxford Flowers 17 -------------------------------------------------------------------------------------


def _load_jpeg(path: str, size: int) -> np.ndarray:
    """Decode a JPEG as RGB and resize it (bilinear, antialiased) to ``size`` x ``size``, in [0, 1]."""
    import tensorflow as tf  # local import: TensorFlow is only needed for real images

    image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
    image = tf.image.resize(tf.cast(image, tf.float32) / 255.0, (size, size), antialias=True)
    return np.clip(image.numpy(), 0.0, 1.0)


def flowers17(directory: str, size: int = 64, split: float = 0.8, seed: int = 0) -> ImageDataset:
    """Load Oxford Flowers 17 from a folder of ``image_0001.jpg`` ... ``image_1360.jpg``.

    Classes are runs of 80 consecutive files in name order (label = index // 80).  Raises ValueError
    when the folder holds no ``.jpg`` file or a count that is not a multiple of 80.
    """
    location = os.path.abspath(directory)
    if not os.path.isdir(location):
        raise ValueError(f"Flowers 17 directory {location!r} does not exist or is not a directory")
    names = sorted(f for f in os.listdir(location) if f.lower().endswith(".jpg"))
    if not names:
        raise ValueError(f"no .jpg files found in Flowers 17 directory {location!r}")
    if len(names) % FLOWERS17_PER_CLASS:
        raise ValueError(
            f"Flowers 17 directory {location!r} holds {len(names)} .jpg files, "
            f"not a multiple of {FLOWERS17_PER_CLASS} images per class"
        )
    x = np.stack([_load_jpeg(os.path.join(location, name), size) for name in names]).astype(np.float32)
    y = np.arange(len(names), dtype=np.int64) // FLOWERS17_PER_CLASS
    x_train, y_train, x_test, y_test = _stratified_split(x, y, split, seed)
    num_classes = len(names) // FLOWERS17_PER_CLASS
    return ImageDataset("oxford-flowers-17", location, x_train, y_train, x_test, y_test, num_classes, split)


def load_dataset(data_dir: str | None, size: int, split: float, seed: int = 0) -> ImageDataset:
    """Flowers 17 from ``data_dir`` when given, otherwise the generated `synthetic_shapes`."""
    if data_dir:
        return flowers17(data_dir, size=size, split=split, seed=seed)
    return synthetic_shapes(size=size, split=split, seed=seed)

"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012) as a Keras 3 model, scalable in width.

The layer sequence follows the paper: five ReLU convolutions (96 11x11 stride 4, 256 5x5, 384 3x3,
384 3x3, 256 3x3), 3x3 stride-2 max-pooling after convolutions 1, 2 and 5, then three fully connected
layers (4096, 4096, classes) with dropout before the first two.  Every layer uses ``padding="same"`` so
that small inputs such as 64x64 images still yield a non-empty feature map; ``width`` scales the number
of filters and hidden units so that the network trains in seconds on a CPU.  Inputs are expected in
``[0, 1]`` and are centred to ``[-1, 1]`` by a first `Rescaling` layer (the paper subtracts the mean image).
"""

from __future__ import annotations

import keras
from keras import layers

#: Filters of the five convolutions and units of the two hidden dense layers at ``width=1``.
CONV_FILTERS: tuple[int, ...] = (96, 256, 384, 384, 256)
CONV_KERNELS: tuple[int, ...] = (11, 5, 3, 3, 3)
DENSE_UNITS: tuple[int, ...] = (4096, 4096)
#: Convolutions (1-based) followed by a max-pooling layer.
POOL_AFTER: frozenset[int] = frozenset({1, 2, 5})
MIN_UNITS = 4
#: He initialisation suits ReLU layers and lets the narrow network start learning within a few epochs.
KERNEL_INIT = "he_normal"


def _scaled(units: int, width: float) -> int:
    """Scale a filter or unit count by ``width``, keeping at least `MIN_UNITS`."""
    return max(MIN_UNITS, round(units * width))


def build_alexnet(
    input_shape: tuple[int, int, int] = (64, 64, 3),
    num_classes: int = 17,
    width: float = 0.125,
    dropout: float = 0.5,
) -> keras.Model:
    """Build an uncompiled AlexNet named ``"alexnet"`` ending in a ``num_classes``-way softmax."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")

    inputs = keras.Input(shape=input_shape, name="image")
    # Centre pixels from [0, 1] to [-1, 1], standing in for the paper's mean-image subtraction.
    x = layers.Rescaling(2.0, offset=-1.0, name="centre")(inputs)
    for i, (filters, kernel) in enumerate(zip(CONV_FILTERS, CONV_KERNELS, strict=True), start=1):
        x = layers.Conv2D(
            _scaled(filters, width),
            kernel,
            strides=4 if i == 1 else 1,
            padding="same",
            activation="relu",
            kernel_initializer=KERNEL_INIT,
            name=f"conv{i}",
        )(x)
        if i in POOL_AFTER:
            x = layers.MaxPooling2D(pool_size=3, strides=2, padding="same", name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    for i, units in enumerate(DENSE_UNITS, start=6):
        x = layers.Dropout(dropout, name=f"dropout{i}")(x)
        x = layers.Dense(
            _scaled(units, width), activation="relu", kernel_initializer=KERNEL_INIT, name=f"fc{i}"
        )(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="fc8")(x)
    return keras.Model(inputs, outputs, name="alexnet")

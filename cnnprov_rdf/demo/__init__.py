"""The demo: a scaled AlexNet, its datasets and a training with capture (needs TensorFlow)."""

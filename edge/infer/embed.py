"""Face embedding with the shipped dlib ResNet (TFLite), L2-normalised for cosine matching."""

from __future__ import annotations

import numpy as np

from edge.infer.runtime import load


class Embedder:
    """128-d dlib ResNet descriptor; every template it makes carries `model_id`."""

    model_id = "dlib_resnet_v1"

    def __init__(self, threads: int = 1):
        self.model = load(self.model_id, threads)
        self.chip_size = self.model.input_shape[1]
        self.dim = int(self.model.outputs[0]["shape"][-1])

    def embed(self, chip_rgb: np.ndarray) -> np.ndarray:
        # The graph subtracts its mean and scales by itself: feed RGB 0..255.
        out = self.model.run(chip_rgb.astype(np.float32)[None])[0][0]
        return normalise(out)


def normalise(vectors: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norm, 1e-12)).astype(np.float32)

"""Face embedders from the shipped models (the manifest lists them: `runtime.embedder_ids()`). Every template
they make is L2-normalised for cosine matching and tagged with the embedder's model id."""

from __future__ import annotations

import numpy as np

from edge.infer.runtime import check_embedder, load, manifest

DEFAULT_EMBEDDER = "dlib_resnet_v1"
BGR_MEAN = np.array([103.939, 116.779, 123.68], dtype=np.float32)


class Embedder:
    def __init__(self, model_id: str = DEFAULT_EMBEDDER, threads: int = 1):
        self.model_id = check_embedder(model_id)
        self.entry = manifest()[model_id]
        self.model = load(model_id, threads)
        self.chip_size = self.model.input_shape[1]
        name = self.entry.get("output_name")
        self._output = next((i for i, o in enumerate(self.model.outputs) if o["name"] == name), 0) if name else 0
        self.dim = int(self.model.outputs[self._output]["shape"][-1])
        # Shipped open-set thresholds of this model (manifest; docs/accuracy.md says how they were chosen).
        self.default_accept = float(self.entry["default_accept"])
        self.default_unknown_below = float(self.entry["default_unknown_below"])

    def embed(self, chip_rgb: np.ndarray) -> np.ndarray:
        x = chip_rgb.astype(np.float32)
        if self.entry.get("preprocess") == "bgr_mean":
            x = x[..., ::-1] - BGR_MEAN
        # dlib and mobileface graphs normalise by themselves: RGB 0..255.
        out = self.model.run(np.ascontiguousarray(x)[None])[self._output][0]
        return normalise(out)


def normalise(vectors: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norm, 1e-12)).astype(np.float32)

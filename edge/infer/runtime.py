"""Load the shipped TFLite models: manifest lookup, checksum check, interpreter with a thread count."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


class ModelError(RuntimeError):
    """A model file is missing, corrupt or cannot be run."""


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:  # older boards (and Python 3.9-era images) only have tflite-runtime
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise ModelError("no TFLite runtime: pip install ai-edge-litert (or tflite-runtime)") from None
    return Interpreter


@lru_cache(maxsize=1)
def manifest(models_dir: Path = MODELS_DIR) -> dict[str, dict[str, Any]]:
    """The shipped models by id: file, sha256, source, licence, input/output shapes, thresholds."""
    return json.loads((models_dir / "manifest.json").read_text())["models"]


def embedder_ids(models_dir: Path = MODELS_DIR) -> list[str]:
    """The embedders the manifest ships (entries with "embedder": true): the one list of them."""
    return [name for name, entry in manifest(models_dir).items() if entry.get("embedder")]


def check_embedder(model_id: str) -> str:
    """`model_id` if the manifest ships it as an embedder; ValueError naming the known ones otherwise."""
    known = embedder_ids()
    if model_id not in known:
        raise ValueError(f"unknown embedder {model_id!r}; the shipped ones are {', '.join(known)}")
    return model_id


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_path(name: str, models_dir: Path = MODELS_DIR) -> Path:
    entries = manifest(models_dir)
    if name not in entries:
        raise ModelError(f"model {name!r} is not in {models_dir / 'manifest.json'} (known: {sorted(entries)})")
    entry = entries[name]
    path = models_dir / entry["file"]
    if not path.is_file():
        raise ModelError(f"model file {path} is missing; reinstall hadir[edge]")
    actual = sha256_file(path)
    if actual != entry["sha256"]:
        raise ModelError(f"model file {path} has sha256 {actual[:12]}..., manifest says "
                         f"{entry['sha256'][:12]}...: the file is corrupt or was replaced; refusing to load it")
    return path


@dataclass
class TfliteModel:
    """One interpreter with its input/output details resolved once."""

    name: str
    interpreter: Any

    def __post_init__(self) -> None:
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.outputs = self.interpreter.get_output_details()

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(x) for x in self.input["shape"])

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        self.interpreter.set_tensor(self.input["index"], tensor.astype(np.float32, copy=False))
        self.interpreter.invoke()
        return [self.interpreter.get_tensor(o["index"]) for o in self.outputs]


def load(name: str, threads: int = 1, models_dir: Path = MODELS_DIR) -> TfliteModel:
    path = model_path(name, models_dir)
    interpreter = _interpreter_class()(model_path=str(path), num_threads=max(1, threads))
    return TfliteModel(name=name, interpreter=interpreter)

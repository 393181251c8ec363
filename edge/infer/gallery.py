"""The enrolled gallery: several templates per employee, vectorised 1:N cosine search.

An identity is searched through the mean of its templates (normalised): averaging a person's enrolment
photos keeps what they share and drops what belongs to one photo (light, expression), as a track's
combined template does for its frames. On lfw-dev this names 3 points more of the enrolled visitors
than the best single template at the same share of strangers accepted (docs/accuracy.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


class GalleryError(ValueError):
    pass


@dataclass(frozen=True)
class Match:
    employee_id: str | None  # best identity (None when the gallery is empty)
    score: float  # cosine similarity of the best identity's best template
    second_id: str | None  # None with fewer than two identities enrolled
    second_score: float  # -1.0 when there is no second identity (the decision rule handles that case)


class Gallery:
    """Templates sorted by identity; one unit-length mean template per identity for the search."""

    def __init__(self, model_id: str, version: int, ids: list[str], templates: np.ndarray):
        if templates.ndim != 2 or len(ids) != len(templates):
            raise GalleryError(f"{len(ids)} ids for templates of shape {templates.shape}")
        order = np.argsort(np.asarray(ids, dtype=object).astype(str), kind="stable")
        self.model_id, self.version = model_id, version
        self.ids = [ids[i] for i in order]
        self.templates = np.ascontiguousarray(templates[order], dtype=np.float32)
        self.identities, self.starts = (np.unique(np.asarray(self.ids, dtype=str), return_index=True)
                                        if ids else (np.array([], dtype=str), np.array([], dtype=int)))
        if ids:
            sums = np.add.reduceat(self.templates, self.starts, axis=0)
            self.centroids = (sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)).astype(np.float32)
        else:
            self.centroids = np.zeros((0, self.templates.shape[1]), np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return self.templates.shape[1]

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of the query to every identity (in `identities` order)."""
        return self.centroids @ query.astype(np.float32)

    def search(self, query: np.ndarray, model_id: str) -> Match:
        if model_id != self.model_id:
            # Templates of different embedders live in different spaces: comparing them is meaningless.
            raise GalleryError(f"query from model {model_id!r}, gallery built with {self.model_id!r}")
        if not len(self):
            return Match(None, -1.0, None, -1.0)
        per_id = self.scores(query)
        if len(per_id) == 1:
            return Match(str(self.identities[0]), float(per_id[0]), None, -1.0)
        top2 = np.argpartition(-per_id, 1)[:2]
        a, b = sorted(top2, key=lambda i: -per_id[i])
        return Match(str(self.identities[a]), float(per_id[a]), str(self.identities[b]), float(per_id[b]))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, model_id=self.model_id, version=self.version, ids=np.asarray(self.ids, dtype=str),
                 templates=self.templates)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Gallery:
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(str(data["model_id"]), int(data["version"]), [str(x) for x in data["ids"]],
                           data["templates"])
        except (OSError, KeyError, ValueError) as exc:
            raise GalleryError(f"cannot read gallery {path}: {exc}") from None

"""Accuracy figures and data-driven thresholds from labelled embeddings (pure numpy, no I/O).

Used by `hadir-edge calibrate` (thresholds for a target false-accept rate, written to the config) and
by `bench/recognition.py` (verification and open-set identification figures).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Verification:
    genuine: np.ndarray  # similarities of same-person pairs
    impostor: np.ndarray  # similarities of different-person pairs

    @classmethod
    def from_embeddings(cls, labels: list[str], embeddings: np.ndarray) -> Verification:
        sims = embeddings @ embeddings.T
        lab = np.asarray(labels)
        iu = np.triu_indices(len(labels), k=1)
        same = lab[iu[0]] == lab[iu[1]]
        values = sims[iu]
        return cls(values[same].astype(np.float64), values[~same].astype(np.float64))

    def auc(self) -> float:
        """Probability that a genuine pair scores above an impostor pair (ties count half)."""
        if not len(self.genuine) or not len(self.impostor):
            return float("nan")
        allv = np.concatenate([self.genuine, self.impostor])
        order = allv.argsort(kind="mergesort")
        ranks = np.empty(len(allv))
        ranks[order] = np.arange(1, len(allv) + 1)
        # average ranks for ties
        _, inv, counts = np.unique(allv, return_inverse=True, return_counts=True)
        sums = np.bincount(inv, weights=ranks)
        ranks = (sums / counts)[inv]
        g = len(self.genuine)
        return float((ranks[:g].sum() - g * (g + 1) / 2) / (g * len(self.impostor)))

    def threshold_at_far(self, far: float) -> float:
        """Smallest threshold whose false-accept rate (impostor >= t) is at most `far`."""
        imp = np.sort(self.impostor)
        if not len(imp):
            return float("nan")
        allowed = int(np.floor(far * len(imp)))  # impostor pairs that may pass
        if allowed == 0:
            return float(np.nextafter(imp[-1], np.inf))
        return float(np.nextafter(imp[-allowed - 1], np.inf))

    def tar_at(self, threshold: float) -> float:
        return float(np.mean(self.genuine >= threshold)) if len(self.genuine) else float("nan")

    def far_at(self, threshold: float) -> float:
        return float(np.mean(self.impostor >= threshold)) if len(self.impostor) else float("nan")

    def eer(self) -> tuple[float, float]:
        """(equal error rate, its threshold)."""
        if not len(self.genuine) or not len(self.impostor):
            return float("nan"), float("nan")
        candidates = np.unique(np.concatenate([self.genuine, self.impostor]))
        far = np.array([self.far_at(t) for t in candidates])
        frr = np.array([1 - self.tar_at(t) for t in candidates])
        i = int(np.argmin(np.abs(far - frr)))
        return float((far[i] + frr[i]) / 2), float(candidates[i])


@dataclass(frozen=True)
class OpenSet:
    mated_best: np.ndarray  # per mated probe: best similarity
    mated_correct: np.ndarray  # per mated probe: is the best identity the right one
    nonmated_best: np.ndarray  # per non-mated probe: best similarity to anyone enrolled

    def rank1(self) -> float:
        return float(np.mean(self.mated_correct)) if len(self.mated_correct) else float("nan")

    def threshold_at_fpir(self, fpir: float) -> float:
        return Verification(np.array([]), self.nonmated_best).threshold_at_far(fpir)

    def fnir_at(self, threshold: float) -> float:
        if not len(self.mated_best):
            return float("nan")
        return float(np.mean(~(self.mated_correct & (self.mated_best >= threshold))))

    def fpir_at(self, threshold: float) -> float:
        return float(np.mean(self.nonmated_best >= threshold)) if len(self.nonmated_best) else float("nan")


def open_set(gallery_ids: list[str], gallery: np.ndarray, probe_ids: list[str], probes: np.ndarray) -> OpenSet:
    """Search every probe in the gallery; probes whose id is not in the gallery are non-mated."""
    ids = np.asarray(gallery_ids)
    enrolled = set(gallery_ids)
    identities = sorted(enrolled)
    sims = probes @ gallery.T
    per_id = np.stack([sims[:, ids == name].max(axis=1) for name in identities], axis=1) if identities else \
        np.zeros((len(probes), 0))
    best_idx = per_id.argmax(axis=1) if identities else np.zeros(len(probes), int)
    best = per_id.max(axis=1) if identities else np.full(len(probes), -1.0)
    mated = np.array([p in enrolled for p in probe_ids], dtype=bool)
    correct = np.array([identities[b] == p if identities else False for b, p in zip(best_idx, probe_ids, strict=True)])
    return OpenSet(best[mated], correct[mated], best[~mated])

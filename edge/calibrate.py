"""Accuracy figures and data-driven thresholds from labelled embeddings (pure numpy, no I/O).

Used by `hadir-edge calibrate` (thresholds for a target false-accept rate, written to the config) and
by `bench/recognition.py` (verification and open-set identification figures).
"""

from __future__ import annotations

import math
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
    """Search every probe in the gallery as the terminal does (each identity's mean template); probes whose
    id is not in the gallery are non-mated."""
    from edge.infer.gallery import Gallery

    enrolled = set(gallery_ids)
    mated = np.array([p in enrolled for p in probe_ids], dtype=bool)
    if not enrolled:
        return OpenSet(np.zeros(0), np.zeros(0, bool), np.full(int((~mated).sum()), -1.0))
    g = Gallery("calibration", 0, list(gallery_ids), gallery)
    per_id = np.stack([g.scores(p) for p in probes]) if len(probes) else np.zeros((0, len(g.identities)))
    best_idx = per_id.argmax(axis=1) if len(probes) else np.zeros(0, int)
    best = per_id.max(axis=1) if len(probes) else np.zeros(0)
    correct = np.array([str(g.identities[b]) == p for b, p in zip(best_idx, probe_ids, strict=True)], dtype=bool)
    return OpenSet(best[mated], correct[mated], best[~mated])


# ---------------------------------------------------------------------------------------------------------
# Open-set (1:N) thresholds for the walk-past decision, from an enrolled gallery and a stranger set.
#
# What matters at a terminal is the share of strangers' visits accepted as *anyone* (FPIR), which grows
# with the number of people enrolled; a pair-wise false-accept rate hides that. These functions score
# visits exactly as the terminal's decision rule does (edge.decide.visits) and pick the lowest accept
# threshold whose FPIR at this gallery's size meets the target. They need templates only, so the hub can
# run them on its stored templates as well as `hadir-edge calibrate` on photos.


@dataclass(frozen=True)
class VisitEvidence:
    truth: str | None  # who it really is; a stranger when not enrolled in the gallery searched
    best_id: str | None
    best: float  # combined-template score of the best identity
    second: float  # score of the second identity (-1 without one)
    agree: bool  # enough of the visit's frames, each on its own, point at best_id
    per_identity: np.ndarray  # combined-template score against every identity (size extrapolation)


def visit_evidence(gallery_ids: list[str], gallery: np.ndarray, truth: str | None, frames: np.ndarray,
                   min_frames: int = 2, min_agreement: float = 0.5) -> VisitEvidence:
    """Evidence of one visit (frames = its L2-normalised templates), searched and combined as the
    terminal does (edge.infer.gallery, edge.decide.visits).

    A visit with fewer frames than `min_frames` (a single enrolment photo used as a probe) counts as
    agreeing: at a terminal the same face gives many similar frames."""
    from edge.infer.gallery import Gallery

    if not len(gallery_ids):
        return VisitEvidence(truth, None, -1.0, -1.0, False, np.zeros(0))
    g = Gallery("calibration", 0, list(gallery_ids), gallery)
    combined = frames.mean(axis=0)
    combined = combined / max(float(np.linalg.norm(combined)), 1e-12)
    per_id = g.scores(combined)
    order = np.argsort(-per_id)
    best_id = str(g.identities[order[0]])
    second = float(per_id[order[1]]) if len(order) > 1 else -1.0
    votes = [str(g.identities[int(np.argmax(g.scores(f)))]) for f in frames]
    agreeing = sum(v == best_id for v in votes)
    agree = agreeing >= min(min_frames, len(votes)) and agreeing >= min_agreement * len(votes)
    return VisitEvidence(truth, best_id, float(per_id[order[0]]), second, bool(agree), per_id)


def _accepted(ev: VisitEvidence, accept: float, unknown_below: float, min_margin: float) -> bool:
    return (ev.best_id is not None and ev.agree and ev.best >= accept
            and ev.best - max(ev.second, unknown_below) >= min_margin)


@dataclass(frozen=True)
class OpenSetThresholds:
    accept: float
    unknown_below: float
    min_margin: float
    target_fpir: float
    gallery_size: int
    mated_visits: int
    stranger_visits: int
    expected_fpir: float  # measured on the stranger visits at the chosen thresholds
    expected_fnir: float  # share of mated visits not accepted as the right person
    expected_wrong: float  # share of mated visits accepted as someone else
    fpir_if_gallery_grows: dict[int, float]  # gallery size -> estimated FPIR (independent-identity model)
    resolved: bool  # enough strangers to measure the target (rule of three); else the floor was kept
    note: str

    def as_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def choose_thresholds(mated: list[VisitEvidence], strangers: list[VisitEvidence], target_fpir: float,
                      gallery_size: int, min_margin: float = 0.01, floor: float | None = None,
                      unknown_quantile: float = 0.02) -> OpenSetThresholds:
    """The lowest accept threshold whose FPIR on `strangers` is at most `target_fpir`.

    unknown_below: the score under which at most `unknown_quantile` of the mated visits fall (an
    employee should rarely be called a stranger), capped at accept - min_margin. `floor` (the shipped
    default) is kept when there are too few stranger visits to show the target: with n visits and none
    accepted, only FPIR <= 3/n is shown at 95 % confidence."""
    mated_scores = np.array([m.best for m in mated if m.best_id == m.truth]) if mated else np.array([])
    u0 = float(np.quantile(mated_scores, unknown_quantile)) if len(mated_scores) else 1.0
    candidates = sorted({round(float(s.best), 4) + 1e-4 for s in strangers} | ({floor} if floor else set()))
    candidates = [c for c in candidates if c > 0] or [floor or 1.0]
    accept = candidates[-1]
    for c in candidates:  # lowest threshold meeting the target
        unknown = min(u0, c - min_margin)
        if np.mean([_accepted(s, c, unknown, min_margin) for s in strangers] or [0.0]) <= target_fpir:
            accept = c
            break
    resolved = len(strangers) >= 3 / max(target_fpir, 1e-9)
    note = ""
    if floor is not None and not resolved:
        note = (f"{len(strangers)} stranger visits cannot show FPIR {target_fpir} (need "
                f"{math.ceil(3 / target_fpir)}): kept the shipped accept {floor} as a floor")
        accept = max(accept, floor)
    accept = math.ceil(accept * 1e4) / 1e4
    unknown = math.floor(min(u0, accept - min_margin) * 1e4) / 1e4
    fpir = float(np.mean([_accepted(s, accept, unknown, min_margin) for s in strangers])) if strangers else float("nan")
    fnir = float(np.mean([not (_accepted(m, accept, unknown, min_margin) and m.best_id == m.truth)
                          for m in mated])) if mated else float("nan")
    wrong = float(np.mean([_accepted(m, accept, unknown, min_margin) and m.best_id != m.truth
                           for m in mated])) if mated else float("nan")
    # Per-identity false-match probability at `accept`, then 1 - (1 - p)^N for larger galleries.
    pairs = np.concatenate([s.per_identity for s in strangers]) if strangers else np.array([])
    p = float(np.mean(pairs >= accept)) if len(pairs) else float("nan")
    sizes = (gallery_size, 2 * gallery_size, 5 * gallery_size) if gallery_size else ()
    grows = {n: float(1 - (1 - p) ** n) for n in sizes}
    return OpenSetThresholds(accept, unknown, min_margin, target_fpir, gallery_size, len(mated), len(strangers),
                             fpir, fnir, wrong, grows, resolved, note)


def evidence_from_templates(by_person: dict[str, np.ndarray], strangers: dict[str, np.ndarray] | None = None,
                            visit_size: int = 3, min_frames: int = 2, min_agreement: float = 0.5
                            ) -> tuple[list[VisitEvidence], list[VisitEvidence], int]:
    """Mated and stranger visits from templates alone (what the hub stores).

    Mated: each template of a person with two or more is a probe against the gallery without that
    template. Strangers: each enrolled person in turn is removed from the gallery and their templates
    are visits of up to `visit_size` (leave one person out), plus every person of `strangers` against
    the full gallery."""
    ids = [p for p, t in by_person.items() for _ in range(len(t))]
    matrix = np.concatenate([t for t in by_person.values()]) if by_person else np.zeros((0, 1))
    mated, stranger = [], []
    for person, templates in by_person.items():
        rows = [i for i, p in enumerate(ids) if p == person]
        if len(rows) >= 2:
            for r in rows:
                keep = [i for i in range(len(ids)) if i != r]
                mated.append(visit_evidence([ids[i] for i in keep], matrix[keep], person, matrix[r:r + 1],
                                            min_frames, min_agreement))
        others = [i for i, p in enumerate(ids) if p != person]
        if others:
            for chunk in _chunks(templates, visit_size):
                stranger.append(visit_evidence([ids[i] for i in others], matrix[others], None, chunk,
                                               min_frames, min_agreement))
    for templates in (strangers or {}).values():
        for chunk in _chunks(templates, visit_size):
            stranger.append(visit_evidence(ids, matrix, None, chunk, min_frames, min_agreement))
    return mated, stranger, len(by_person)


def _chunks(templates: np.ndarray, size: int) -> list[np.ndarray]:
    n = max(1, math.ceil(len(templates) / size))
    return [c for c in np.array_split(templates, n) if len(c)]


def thresholds_for_gallery(ids: list[str], templates: np.ndarray, target_fpir: float,
                           strangers: dict[str, np.ndarray] | None = None, min_margin: float = 0.01,
                           floor: float | None = None, min_frames: int = 2,
                           min_agreement: float = 0.5) -> OpenSetThresholds:
    """Open-set thresholds for an enrolled gallery (one row of `templates` per entry of `ids`), for the
    hub or a device: leave-one-out mated probes, leave-one-person-out strangers plus `strangers`."""
    by_person = {p: templates[[i for i, x in enumerate(ids) if x == p]] for p in dict.fromkeys(ids)}
    mated, stranger_visits, size = evidence_from_templates(by_person, strangers, min_frames=min_frames,
                                                           min_agreement=min_agreement)
    return choose_thresholds(mated, stranger_visits, target_fpir, size, min_margin, floor=floor)

"""Liveness cues on numbers measured from real footage (tests/data/liveness, no images): blinks are found
in real eyelid motion and not in prints held still, nodded, flicked or moved; the challenges pass a real
blink or turn, fail a replay by its texture, and time out on a turned photo; the walk-past judge gives
three outcomes. Figures for the whole footage: bench/liveness.py, bench/active_liveness.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.infer.active import ActiveChallenge, ChallengeKind, ChallengeState
from edge.infer.cues import FrameCue, blinks, nonrigid, yaw
from edge.infer.liveness import PassivePolicy, judge_track

DATA = np.load(Path(__file__).resolve().parents[1] / "data" / "liveness" / "cues.npz")
POINTS = (1, 13, 14, 33, 234, 263, 454)
SADTALKER_BLINKS = [(9, 12), (34, 37), (55, 59), (80, 82), (110, 112), (128, 131), (150, 152), (177, 179)]


def cues(prefix: str, fps: float = 25.0, texture: float | None = None) -> list[FrameCue | None]:
    """Rebuild FrameCues from the stored openings and mesh points (other mesh points are unused here)."""
    out: list[FrameCue | None] = []
    for i, (opening, points, tex) in enumerate(zip(DATA[f"{prefix}_openings"], DATA[f"{prefix}_points"],
                                                   DATA[f"{prefix}_texture"], strict=True)):
        if np.isnan(opening[0]):
            out.append(None)
            continue
        mesh = np.zeros((468, 2), np.float32)
        mesh[list(POINTS)] = points
        out.append(FrameCue(i / fps, mesh, float(tex if texture is None else texture),
                            (float(opening[0]), float(opening[1]))))
    return out


def mesh_cues(prefix: str, fps: float) -> list[FrameCue]:
    return [FrameCue(i / fps, m.astype(np.float32), float(t), None)
            for i, (m, t) in enumerate(zip(DATA[f"{prefix}_mesh"], DATA[f"{prefix}_texture"], strict=True))]


def test_the_labelled_real_blinks_are_found_and_nothing_else():
    found = blinks(cues("sadtalker"))
    hits = [any(b.start <= last + 1 and b.end >= first - 1 for b in found) for first, last in SADTALKER_BLINKS]
    assert sum(hits) == len(SADTALKER_BLINKS)
    uncertain = [(25, 28), (96, 98)]  # labelled "partial or confounded"; anything else would be a false fire
    assert all(any(b.start <= hi + 1 and b.end >= lo - 1 for lo, hi in SADTALKER_BLINKS + uncertain) for b in found)
    d0 = blinks(cues("d0"))  # a blink while the gaze moves: the eye does not come back to where it was
    assert len(d0) == 1 and d0[0].start <= 68 and d0[0].end >= 64


@pytest.mark.parametrize("prefix", ["print_still", "print_nod", "print_flick", "print_moved"])
def test_no_blink_in_a_print_however_it_is_moved(prefix):
    assert blinks(cues(prefix)) == []


def feed(challenge: ActiveChallenge, sequence: list[FrameCue | None], fps: float) -> ChallengeState:
    state = ChallengeState.PENDING
    for i, cue in enumerate(sequence):
        state = challenge.feed_cue(cue, i / fps)
        if state is not ChallengeState.PENDING:
            break
    return state


def test_blink_challenge_passes_a_real_blink_and_fails_its_replay():
    window = cues("sadtalker")[60:100]  # around the blink at frames 80-82
    challenge = ActiveChallenge.new("blink")
    assert feed(challenge, window, 25) is ChallengeState.PASSED
    live = challenge.liveness()
    assert live.result == "live" and live.passed and live.scores["blinks"] == 1
    replayed = ActiveChallenge.new(ChallengeKind.BLINK)  # the same eyelids on a screen: texture near 0
    assert feed(replayed, cues("sadtalker", texture=0.02)[60:100], 25) is ChallengeState.FAILED
    assert replayed.liveness().result == "spoof" and not replayed.liveness().passed


def test_blink_challenge_times_out_on_a_flicked_print():
    challenge = ActiveChallenge.new("blink", policy=None)
    challenge.policy = type(challenge.policy)(timeout_s=2.5)
    assert feed(challenge, cues("print_flick", texture=0.9), 25) is ChallengeState.TIMEOUT
    assert challenge.liveness().result == "inconclusive"


def test_turn_challenge_needs_the_asked_direction_and_a_head_not_a_photo():
    real = mesh_cues("turn_real", 15)
    assert yaw(real[-1].mesh) - yaw(real[0].mesh) > 0.5  # he turns to his own left
    assert feed(ActiveChallenge.new("turn_left"), real, 15) is ChallengeState.PASSED
    wrong = ActiveChallenge.new("turn_right")
    feed(wrong, real, 15)
    assert wrong.state is ChallengeState.PENDING and wrong.turn_measure()[0] < 0.1
    photo = mesh_cues("turn_print", 12.5)
    for kind in ("turn_left", "turn_right"):
        challenge = ActiveChallenge.new(kind)
        assert feed(challenge, photo, 12.5) is not ChallengeState.PASSED
        assert challenge.turn_measure()[1] < challenge.policy.parallax_min  # a flat picture fits a homography


def test_random_challenges_cover_every_kind():
    import random

    rng = random.Random(3)
    kinds = {ActiveChallenge.new(rng=rng).kind for _ in range(30)}
    assert kinds == set(ChallengeKind)
    assert ActiveChallenge.new("turn_left").prompt.startswith("Tolehkan kepala ke kiri")


def test_walk_past_judge_has_three_outcomes():
    real = mesh_cues("turn_real", 15)
    live = judge_track(real)
    assert live.result == "live" and live.scores["nonrigid"] >= PassivePolicy().nonrigid_min
    screen = judge_track([FrameCue(c.at, c.mesh, 0.02, None) for c in real])
    assert screen.result == "spoof" and not screen.passed
    # A photo that fools the texture cue but moves as a flat picture: one face's mesh carried by a plane
    # that tilts and turns (homographies), with half a pixel of landmark noise.
    rng = np.random.default_rng(0)
    base = real[0].mesh.astype(np.float64)
    centre = base.mean(axis=0)
    photo = []
    for i in range(30):
        a = np.radians(25 * np.sin(i / 6))
        h = np.array([[np.cos(a), -0.05 * np.sin(a), 0], [0.05 * np.sin(a), 1, 0], [4e-4 * np.sin(a), 2e-4, 1]])
        p = np.c_[base - centre, np.ones(len(base))] @ h.T
        moved = p[:, :2] / p[:, 2:] + centre + rng.normal(0, 0.5, base.shape)
        photo.append(FrameCue(i / 15, moved.astype(np.float32), 0.9, None))
    flat = judge_track(photo)
    assert flat.result == "inconclusive" and nonrigid(photo) < PassivePolicy().nonrigid_min
    short = judge_track(real[:3])
    assert short.result == "inconclusive" and short.scores["frames"] == 3

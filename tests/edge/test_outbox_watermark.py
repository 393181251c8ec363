"""The outbox's watermark: what the device recorded survives the outbox, so a lost or damaged outbox is
noticed and reported (the fault suite runs the same against a real broker and hub)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import event

from edge.outbox.store import Outbox
from edge.outbox.watermark import Mark, Watermark
from hadir.contract import seq_epoch, seq_number
from hadir.signing import new_key, sign_event

DEV = "pi-wm-01"
KEY = new_key()


def _record(box: Outbox, n: int) -> None:
    for _ in range(n):
        box.append(lambda seq, prev: sign_event(event(DEV, seq, prev, None), KEY))


def _open(path: Path) -> Outbox:
    return Outbox(path, min_free_mb=1, alarm_free_mb=2)


def _gone(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def test_a_restart_changes_nothing_and_a_first_outbox_is_announced(tmp_path):
    box = _open(tmp_path / "outbox.sqlite")
    [first] = box.pending_reports()
    assert first["reason"] == "new_outbox" and "lost_from" not in first and box.recovered is None
    _record(box, 3)
    epoch = box.epoch()
    box.close()
    box = _open(tmp_path / "outbox.sqlite")
    assert box.recovered is None and box.epoch() == epoch and len(box.pending_reports()) == 1
    assert box.watermark.mark.issued == box.last_seq() and seq_number(box.last_seq()) == 3


def test_headerless_file_is_damage_with_its_range(tmp_path):
    path = tmp_path / "outbox.sqlite"
    box = _open(path)
    _record(box, 4)
    box.acknowledge([(f"{DEV}:{box.last_seq() - 3}", box.digest(f"{DEV}:{box.last_seq() - 3}"))])
    _record(box, 1)  # the watermark now says: the oldest unacknowledged is number 2
    epoch = box.epoch()
    box.close()
    _gone(path)
    path.write_bytes(b"not a database at all" * 100)
    box = _open(path)
    reports = box.pending_reports()
    assert "no SQLite header" in box.recovered and box.epoch() != epoch
    assert reports[-1]["reason"] == "outbox_damaged" and reports[-1]["lost_epoch"] == epoch
    assert (seq_number(reports[-1]["lost_from"]), seq_number(reports[-1]["lost_to"])) == (2, 5)


def test_nothing_recorded_nothing_reported_as_lost(tmp_path):
    path = tmp_path / "outbox.sqlite"
    _open(path).close()
    _gone(path)
    box = _open(path)
    [report] = box.pending_reports()
    assert report["reason"] == "outbox_missing" and "lost_from" not in report


def test_a_kill_between_the_new_epoch_and_the_watermark_reports_once(tmp_path, monkeypatch):
    path = tmp_path / "outbox.sqlite"
    box = _open(path)
    _record(box, 2)
    box.close()
    _gone(path)

    def killed(self, mark):  # noqa: ANN001
        raise KeyboardInterrupt("killed")

    with monkeypatch.context() as m:
        m.setattr(Watermark, "write", killed)
        with pytest.raises(KeyboardInterrupt):
            _open(path)
    box = _open(path)
    assert [r["reason"] for r in box.pending_reports()] == ["outbox_missing"]
    assert seq_epoch(box.watermark.mark.issued) == box.epoch()


def test_a_torn_watermark_write_leaves_the_previous_mark(tmp_path):
    mark_path = tmp_path / "outbox.sqlite.hwm"
    wm = Watermark(mark_path)
    wm.write(Mark(10, 3))
    wm.write(Mark(11, 3))
    wm.close()
    raw = bytearray(mark_path.read_bytes())
    half = len(raw) // 2
    newest = 0 if raw[4] == 2 else half  # the slot with counter 2 (little-endian, after the magic)
    raw[newest + 10] ^= 0xFF  # a power cut in the middle of that write
    mark_path.write_bytes(bytes(raw))
    assert Watermark(mark_path).mark == Mark(10, 3)
    mark_path.write_bytes(b"\0" * len(raw))
    assert Watermark(mark_path).state == "damaged"


def test_an_outbox_from_an_agent_without_watermarks_is_adopted(tmp_path):
    path = tmp_path / "outbox.sqlite"
    box = _open(path)
    _record(box, 3)
    box.close()
    Path(str(path) + ".hwm").unlink()
    box = _open(path)
    assert box.recovered is None and box.watermark.mark.issued == box.last_seq()

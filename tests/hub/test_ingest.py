"""Hub ingest on the embedded store: what happens to each bad message, and that nothing valid is lost."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from helpers import T0, chain, event

from hadir.contract import GENESIS_HASH, Channel, ClockSource, GpsFix, topic
from hadir.signing import new_key, public_key_b64
from hub.ingest.quarantine import Quarantine
from hub.ingest.verify import VerifyPolicy
from hub.ingest.worker import Inbound, Ingest
from hub.registry import DeviceRegistry
from hub.store.sqlite_store import SqliteEventStore

DEV = "pi-ingest-01"
KEY = new_key()
RECEIVED = T0 + timedelta(seconds=30)


@pytest.fixture
def ingest(tmp_path):
    registry = DeviceRegistry.in_dir(tmp_path)
    registry.register(DEV, public_key_b64(KEY))
    ing = Ingest(SqliteEventStore(tmp_path / "events.sqlite"), registry, Quarantine(tmp_path / "q.sqlite"),
                 policy=VerifyPolicy(clock_tolerance_s=300))
    yield ing
    ing.store.close()


def msg(ev, device=DEV, payload=None):
    return Inbound(topic(device, Channel.EVENT), payload if payload is not None else ev.to_bytes(), RECEIVED)


def test_valid_events_are_stored_once_and_acknowledged(ingest):
    events = chain(DEV, KEY, 5)
    acks = ingest.process([msg(e) for e in events])
    assert [a.keys for a in acks] == [[e.key for e in events]]
    assert ingest.store.count() == 5
    # The same batch again (a device resending after a lost ack): acknowledged again, not stored twice.
    acks = ingest.process([msg(e) for e in reversed(events)])
    assert sorted(acks[0].keys) == sorted(e.key for e in events)
    assert ingest.store.count() == 5
    assert ingest.metrics.duplicates._value.get() == 5


def test_each_bad_message_is_refused_counted_and_quarantined_without_losing_the_good_ones(ingest):
    good = chain(DEV, KEY, 3)
    other_key = new_key()
    forged = event(DEV, 10, key=other_key)  # signed by someone else
    stranger = event("pi-unknown-09", 1, key=other_key)  # device never registered
    batch = [
        msg(good[0]),
        Inbound(topic(DEV, Channel.EVENT), b"{garbage", RECEIVED),
        msg(None, payload=json.dumps({"schema_version": 1, "seq": 1}).encode()),
        msg(None, payload=b"x" * 20000),
        msg(good[1]),
        Inbound(topic("pi-other-02", Channel.EVENT), good[2].to_bytes(), RECEIVED),  # wrong topic
        Inbound("absensi/v1/pi-ingest-01/down/ack", good[2].to_bytes(), RECEIVED),  # downlink topic
        msg(forged),
        msg(stranger, device="pi-unknown-09"),
        msg(good[2]),
    ]
    acks = {a.device_id: a for a in ingest.process(batch)}
    assert acks[DEV].keys == [e.key for e in good]
    assert acks[DEV].rejected == {forged.key: "bad_signature"}
    assert "pi-unknown-09" not in acks  # not final: the device keeps it until it is registered
    assert ingest.store.count() == 3
    assert ingest.metrics.rejected_counts() == {
        "malformed_json": 1, "invalid": 1, "oversize": 1, "device_mismatch": 1, "bad_topic": 1,
        "bad_signature": 1, "unknown_device": 1}
    reasons = [r for _, r, _, _ in ingest.quarantine.entries()]
    assert len(reasons) == 7  # every refused message is kept, raw, with its reason


def test_fork_same_key_different_content_is_refused(ingest):
    first = event(DEV, 1, key=KEY)
    ingest.process([msg(first)])
    fork = event(DEV, 1, key=KEY, employee="1999001")
    acks = ingest.process([msg(fork)])
    assert acks[0].rejected == {fork.key: "fork"}
    assert ingest.store.get(first.key).event == first


def test_out_of_order_events_are_all_stored_and_a_bad_link_is_flagged(ingest):
    events = chain(DEV, KEY, 4)
    ingest.process([msg(events[3]), msg(events[1])])
    ingest.process([msg(events[0]), msg(events[2])])
    assert ingest.store.count() == 4
    assert all(not ingest.store.get(e.key).flags for e in events)
    broken = event(DEV, 5, prev_hash="f" * 64, key=KEY)
    ingest.process([msg(broken)])
    assert "chain_break" in ingest.store.get(broken.key).flags


@pytest.mark.parametrize(("kw", "flag"), [
    ({"clock": ClockSource.NONE}, "clock_unset"),
    ({"clock": ClockSource.REPLAY}, "clock_replay"),
    ({"at": RECEIVED + timedelta(hours=2)}, "clock_ahead"),
    ({"gps": GpsFix(lat=-3.69, lon=128.18, mode=3, sats_used=0)}, "gps_no_satellites"),
    ({"gps": GpsFix(lat=-3.69, lon=128.18, mode=3, sats_used=7, gps_time=T0 - timedelta(hours=1))},
     "clock_disagrees_gps"),
])
def test_suspicious_clocks_and_fixes_are_stored_with_a_flag(ingest, kw, flag):
    ev = event(DEV, 1, GENESIS_HASH, KEY, **kw)
    ingest.process([msg(ev)])
    assert flag in ingest.store.get(ev.key).flags


def test_a_late_backlog_is_not_a_clock_problem(ingest):
    ev = event(DEV, 1, key=KEY, at=RECEIVED - timedelta(days=2))
    ingest.process([msg(ev)])
    assert ingest.store.get(ev.key).flags == ()


def test_an_outbox_report_is_verified_recorded_and_acknowledged_with_its_digest(ingest):
    from hadir.contract import OutboxReport, make_seq
    from hadir.signing import sign_message

    events = chain(DEV, KEY, 5)
    ingest.process([msg(e) for e in events[:3]])  # 4 and 5 never arrive: lost with the outbox
    report = OutboxReport(key=f"{DEV}:epoch:9", device_id=DEV, epoch=9, reason="outbox_missing", at=RECEIVED,
                          lost_epoch=0, lost_from=make_seq(0, 2), lost_to=make_seq(0, 5))
    forged = sign_message(report, new_key())
    acks = ingest.process([Inbound(topic(DEV, Channel.REPORT), forged.to_bytes(), RECEIVED)])
    assert acks == [] and ingest.metrics.rejected_counts() == {"bad_signature": 1}
    assert ingest.registry.epochs.get(DEV, 9) is None
    signed = sign_message(report, KEY)
    (ack,) = ingest.process([Inbound(topic(DEV, Channel.REPORT), signed.to_bytes(), RECEIVED)])
    assert (ack.keys, ack.digests) == ([report.key], [report.digest()])
    record = ingest.registry.epochs.get(DEV, 9)
    assert record.lost_missing == 2 and "2 of them not at the hub" in record.problem()
    assert ingest.metrics.device_lost.labels(DEV)._value.get() == 2


def test_a_second_report_for_an_epoch_neither_erases_nor_recounts_a_loss(ingest):
    # Found by a fresh attacker: a "new_outbox" report after a loss report for the same epoch erased the loss
    # from the review list, and every resend of a loss report counted (and alerted) again.
    from hadir.contract import OutboxReport, make_seq
    from hadir.signing import sign_message

    ingest.process([msg(e) for e in chain(DEV, KEY, 2)])
    loss = OutboxReport(key=f"{DEV}:epoch:3", device_id=DEV, epoch=3, reason="outbox_missing", at=RECEIVED,
                        lost_epoch=0, lost_from=make_seq(0, 2), lost_to=make_seq(0, 9))
    quiet = OutboxReport(key=f"{DEV}:epoch:3", device_id=DEV, epoch=3, reason="new_outbox", at=RECEIVED)
    for report in (loss, loss, quiet):
        (ack,) = ingest.process([Inbound(topic(DEV, Channel.REPORT), sign_message(report, KEY).to_bytes(), RECEIVED)])
        assert ack.keys == [report.key]  # every copy is acknowledged, so the device stops resending
    record = ingest.registry.epochs.get(DEV, 3)
    assert record.reason == "outbox_missing" and record.lost_missing == 7 and record.problem()
    assert ingest.metrics.loss_reports.labels("outbox_missing")._value.get() == 1

"""Hub ingest throughput: verify + de-duplicate + store + ack, with 1 and 2 workers, beside the raw broker.

    python bench/ingest.py --events 20000 [--store sqlite|influx] [--rounds 3]

Starts its own Mosquitto (and InfluxDB with --store influx) on 127.0.0.1. Signed, chained events for
several devices are made first; then, in the same run:
  - raw broker: one publisher -> one bare subscriber that only counts (the ceiling);
  - hub with 1 worker, then 2 workers (MQTT 5 shared subscription): publisher -> hub -> ack back.
The raw broker and the 1-worker hub are measured in alternating rounds (--rounds): on a machine other work
shares, each round's ratio compares two phases seconds apart, and the median round is reported.
Latency is device publish -> ack received, measured at a normal rate (--rate) and, for reference, under
the burst. Lost = events never stored or never acknowledged; duplicated = stored twice.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hadir.contract import (  # noqa: E402
    GENESIS_HASH,
    Ack,
    AttendanceEvent,
    Channel,
    ClockSource,
    EventKind,
    Liveness,
    topic,
    utcnow,
)
from hadir.mqtt import MqttSettings, connect, make_client  # noqa: E402
from hadir.signing import new_key, public_key_b64, sign_event  # noqa: E402
from hub.config import HubSettings, Influx  # noqa: E402
from hub.service import Hub  # noqa: E402
from testkit import localservices  # noqa: E402


def make_events(devices: int, total: int) -> tuple[dict[str, str], list[tuple[str, str, bytes]]]:
    keys, out, now = {}, [], utcnow()
    per = total // devices
    for d in range(devices):
        device = f"pi-bench-{d:02d}"
        key = new_key()
        keys[device] = public_key_b64(key)
        prev = GENESIS_HASH
        for seq in range(1, per + 1):
            ev = sign_event(AttendanceEvent(
                key=f"{device}:{seq}", device_id=device, seq=seq, kind=EventKind.WALK_PAST,
                employee_id=f"19870{seq % 500:04d}", score=0.95, margin=0.05, frames=4, quality=0.8,
                liveness=Liveness(method="none", passed=True, score=0.0), captured_at=now, clock_source=ClockSource.NTP,
                model_id="dlib_resnet_v1", gallery_version=1, prev_hash=prev), key)
            prev = ev.event_hash()
            out.append((ev.key, topic(device, Channel.EVENT), ev.to_bytes()))
    # Interleave devices, as several terminals publishing at once would.
    out.sort(key=lambda x: (int(x[0].rpartition(":")[2]), x[0]))
    return keys, out


def client(port: int, name: str) -> mqtt.Client:
    settings = MqttSettings(port=port, protocol=5)
    c = make_client(settings, name, clean=True)
    c.max_inflight_messages_set(1000)
    return c


def raw_broker(port: int, events: list[tuple[str, str, bytes]], timeout: float) -> float:
    got, done = [0], threading.Event()

    def on_message(c, u, m):  # noqa: ANN001
        got[0] += 1
        if got[0] >= len(events):
            done.set()

    sub = client(port, "bench-raw-sub")
    sub.on_message = on_message
    connect(sub, MqttSettings(port=port, protocol=5), clean=True)
    sub.subscribe("bench/raw/#", qos=1)
    time.sleep(0.3)
    pub = client(port, "bench-raw-pub")
    connect(pub, MqttSettings(port=port, protocol=5), clean=True)
    started = time.perf_counter()
    for key, _, payload in events:
        pub.publish("bench/raw/" + key.partition(":")[0], payload, qos=1)
    done.wait(timeout)
    took = time.perf_counter() - started
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    return got[0] / took


def hub_path(port: int, events, device_keys, workers: int, store: str, influx_url: str | None, timeout: float,
             rate: float | None = None, processes: int = 1):
    """Publish `events` (as fast as possible, or at `rate` per second) and wait for every ack.
    With processes > 1, extra `hadir-hub run` processes join the same shared subscription and store."""
    data = Path(tempfile.mkdtemp(prefix="hadir-bench-"))
    settings = HubSettings(data_dir=data, embedded_broker=False, workers=workers, store=store,
                           mqtt=MqttSettings(port=port, protocol=5),
                           influx=Influx(url=influx_url or "http://127.0.0.1:8086", database=f"b{time.time_ns()}"))
    hub = Hub(settings)
    for device, pub in device_keys.items():
        hub.registry.register(device, pub)
    hub.start()
    extra = []
    for n in range(2, processes + 1):
        env = {**os.environ, "HADIR_HUB_DATA_DIR": str(data), "HADIR_HUB_EMBEDDED_BROKER": "false",
               "HADIR_HUB_MQTT__PORT": str(port), "HADIR_HUB_MQTT__PROTOCOL": "5", "HADIR_HUB_STORE": store,
               "HADIR_HUB_INFLUX__URL": settings.influx.url, "HADIR_HUB_INFLUX__DATABASE": settings.influx.database,
               "HADIR_HUB_INSTANCE": str(n)}
        extra.append(subprocess.Popen([sys.executable, "-m", "hub.cli", "run", "--no-api"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    if extra:
        time.sleep(3)  # let the extra processes subscribe
    sent_at: dict[str, float] = {}
    acked_at: dict[str, float] = {}
    ack_count = [0]
    done = threading.Event()

    def on_message(c, u, m):  # noqa: ANN001
        now = time.perf_counter()
        ack = Ack.model_validate_json(m.payload)
        for k in ack.keys:
            ack_count[0] += 1
            acked_at.setdefault(k, now)
        if len(acked_at) >= len(events):
            done.set()

    dev = client(port, f"bench-devices-{workers}")
    dev.on_message = on_message
    connect(dev, MqttSettings(port=port, protocol=5), clean=True)
    dev.subscribe("absensi/v1/+/down/ack", qos=1)
    time.sleep(0.3)
    started = time.perf_counter()
    for i, (key, name, payload) in enumerate(events):
        if rate:
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        sent_at[key] = time.perf_counter()
        dev.publish(name, payload, qos=1)
    done.wait(timeout)
    took = time.perf_counter() - started
    dev.disconnect()
    dev.loop_stop()
    stored = hub.store.count()
    for proc in extra:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    hub.stop()
    lat = sorted((acked_at[k] - sent_at[k]) * 1000 for k in acked_at)
    def p(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")

    return {"eps": len(acked_at) / took, "stored": stored, "acked": len(acked_at), "p50": p(0.5), "p99": p(0.99),
            "seconds": took}


def main() -> None:
    ap = argparse.ArgumentParser(description="Hub ingest throughput vs the raw broker.")
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--devices", type=int, default=8)
    ap.add_argument("--store", choices=["sqlite", "influx"], default="sqlite")
    ap.add_argument("--timeout", type=float, default=300.0, help="upper bound per phase, seconds")
    ap.add_argument("--rate", type=float, default=300.0, help="events/s for the latency phase (normal load)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating raw / 1-worker rounds; the median is kept")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hadir-bench-svc-"))
    broker = localservices.start_mosquitto(work / "mosquitto")
    influx = localservices.start_influxdb(work / "influx") if args.store == "influx" else None
    try:
        print(f"making {args.events} signed events for {args.devices} devices ...", flush=True)
        device_keys, events = make_events(args.devices, args.events)
        n = len(events)
        url = influx.extra["url"] if influx else None
        rounds = []
        for i in range(max(1, args.rounds)):
            raw_i = raw_broker(broker.port, events, args.timeout)
            one_i = hub_path(broker.port, events, device_keys, 1, args.store, url, args.timeout)
            rounds.append((one_i["eps"] / raw_i, raw_i, one_i))
            print(f"round {i + 1}: raw broker (publish -> bare subscriber) {raw_i:,.0f} msg/s; hub, 1 worker, store "
                  f"{args.store}: {one_i['eps']:,.0f} events/s; stored {one_i['stored']}/{n}; latency publish->ack "
                  f"p50 {one_i['p50']:.0f} ms, p99 {one_i['p99']:.0f} ms; ratio {one_i['eps'] / raw_i:.2f}", flush=True)
        ratio_one, raw, median_one = sorted(rounds, key=lambda r: r[0])[len(rounds) // 2]
        print(f"median round: ratio_1_worker {ratio_one:.2f} (rounds: "
              f"{', '.join(f'{r[0]:.2f}' for r in rounds)})", flush=True)
        results = {"1 worker": median_one}
        for label, workers, processes in (("2 workers, 1 process", 2, 1), ("2 processes", 1, 2)):
            r = hub_path(broker.port, events, device_keys, workers, args.store, url, args.timeout,
                         processes=processes)
            results[label] = r
            print(f"hub, {label}, store {args.store}: {r['eps']:,.0f} events/s; stored {r['stored']}/{n}; "
                  f"latency publish->ack p50 {r['p50']:.0f} ms, p99 {r['p99']:.0f} ms; ratio to the median "
                  f"round's raw {r['eps'] / raw:.2f}", flush=True)
        paced_events = events[: min(n, int(args.rate * 10))]
        paced = hub_path(broker.port, paced_events, device_keys, 1, args.store,
                         influx.extra["url"] if influx else None, args.timeout, rate=args.rate)
        print(f"latency at {args.rate:.0f} events/s (normal load), 1 worker: p50 {paced['p50']:.1f} ms, "
              f"p99 {paced['p99']:.1f} ms; stored {paced['stored']}/{len(paced_events)}", flush=True)
    finally:
        broker.stop()
        if influx:
            influx.stop()
    runs = [(n, r) for r in results.values() if r is not median_one] + [(n, r[2]) for r in rounds] + [
        (len(paced_events), paced)]
    lost = sum(max(0, m - r["stored"]) + max(0, m - r["acked"]) for m, r in runs)
    duplicated = sum(max(0, r["stored"] - m) for m, r in runs)
    one, two = results["1 worker"], results["2 processes"]
    print(json.dumps({"events": n, "store": args.store, "eps_1_worker": one["eps"],
                      "eps_2_workers": two["eps"], "eps_2_workers_one_process": results["2 workers, 1 process"]["eps"],
                      "eps_raw_broker": raw, "ratio_1_worker": ratio_one,
                      "ratio_1_worker_rounds": [r[0] for r in rounds], "ratio_2_workers": two["eps"] / raw,
                      "lost": lost, "duplicated": duplicated, "latency_ms_p50": paced["p50"],
                      "latency_ms_p99": paced["p99"], "latency_rate_eps": args.rate,
                      "burst_latency_ms_p50_1_worker": one["p50"], "burst_latency_ms_p99_1_worker": one["p99"]}))


if __name__ == "__main__":
    main()

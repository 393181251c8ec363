"""What Hadir costs a city to run, measured: bytes on the wire, hub CPU, storage, device outbox, terminal CPU.

    python bench/footprint.py [--employees 6000 --offices 60 --field-teams 17 --sample-events 2000]

A month is simulated by sampling, not replayed: a few thousand events go through the real path
(the edge's outbox and MQTT session, Mosquitto with the city's mTLS certificates made by
hadir_ops/provision.py, `hadir-hub run` as its own process, the SQLite store and InfluxDB), and the figures
per event, per message and per day are extrapolated linearly to the city's month and year. The city's
shape (employees, offices, field teams, events per person, how often galleries change) is a set of stated
assumptions, each a flag; docs/cost.md turns the JSON into money.

Measured here, each on this machine:
- bytes per event, telemetry message, keepalive, (re)connection and gallery push, with and without TLS,
  counted by a proxy between the device and the broker (MQTT acks and the hub's Ack included), plus an
  estimate of IP/TCP headers from the kernel's segment counts;
- CPU seconds of the hub process, Mosquitto and InfluxDB per 1,000 events (/proc), events sent one at a
  time as they trickle in, the hub's idle CPU subtracted and reported apart;
- bytes on disk per event (SQLite store, InfluxDB after compaction), per quarantined message, per GPS fix,
  master data for N employees and per change, and the device outbox per event while offline;
- the terminal pipeline's milliseconds per camera frame (bench/edge_pipeline.py's method).
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import footprint_measure as m  # noqa: E402

from testkit import localservices  # noqa: E402

MB = 1e6


@dataclass(frozen=True)
class City:
    """The stated assumptions a city can change (docs/cost.md lists where each comes from)."""

    employees: int = 6000
    offices: int = 60  # one terminal per OPD office
    field_teams: int = 17  # one hand-held device per kelurahan/kecamatan field team
    field_share: float = 0.10  # employees who check in on a field device instead of a terminal
    workdays_per_month: int = 22
    events_per_person_day: float = 2.0  # arrival and departure
    unknown_share: float = 0.05  # unknown-face events (visitors) on top of employees' events
    templates_per_employee: int = 3
    gallery_pushes_per_month: int = 4  # enrolment batches, leavers, re-enrolments
    terminal_hours_per_day: float = 24.0
    field_hours_per_day: float = 10.0
    telemetry_every_s: float = 60.0  # edge default (edge/config.py)
    keepalive_s: float = 30.0  # hadir/mqtt.py default
    reconnects_per_day_terminal: float = 1.0
    reconnects_per_day_field: float = 12.0  # a mobile link drops and comes back
    quarantine_share: float = 0.001  # refused messages per event
    changes_per_employee_year: float = 6.0  # leave, duty orders, corrections, edits: each audited
    events_days: int = 730  # retention (hub/config.py Retention defaults)
    quarantine_days: int = 90
    gps_history_days: int = 90

    @property
    def events_per_day(self) -> float:
        return self.employees * self.events_per_person_day * (1 + self.unknown_share)

    @property
    def events_per_month(self) -> float:
        return self.events_per_day * self.workdays_per_month

    @property
    def events_per_year(self) -> float:
        return self.events_per_month * 12

    def device_events_per_day(self, role: str) -> float:
        if role == "field":
            return self.events_per_day * self.field_share / max(self.field_teams, 1)
        return self.events_per_day * (1 - self.field_share) / max(self.offices, 1)


def device_month(city: City, w: dict, role: str, prefix: str = "") -> dict:
    """One device's bytes in a month from the per-item figures `w` ("" = MQTT/TLS bytes, "wire_" = with
    IP/TCP headers): events on workdays, telemetry and keepalives while on, reconnections, gallery pushes."""
    hours = city.field_hours_per_day if role == "field" else city.terminal_hours_per_day
    days_on = city.workdays_per_month if role == "field" else 30
    telemetry = hours * 3600 / city.telemetry_every_s
    # paho pings only when nothing else went out within the keepalive: about one per telemetry gap.
    pings = max(0.0, hours * 3600 / city.keepalive_s - telemetry)
    reconnects = city.reconnects_per_day_field if role == "field" else city.reconnects_per_day_terminal
    parts = {
        "events": city.device_events_per_day(role) * w[f"{prefix}bytes_per_event"] * city.workdays_per_month,
        "telemetry": telemetry * w[f"{prefix}bytes_per_telemetry"] * days_on,
        "keepalive": pings * w[f"{prefix}bytes_per_ping"] * days_on,
        "reconnects": reconnects * (w[f"{prefix}bytes_per_connect"] + w[f"{prefix}bytes_per_disconnect"]) * days_on,
        "gallery_pushes": city.gallery_pushes_per_month * w[f"{prefix}bytes_per_gallery_push"],
    }
    total = sum(parts.values())
    return {"mb_per_month": total / MB, "bytes_per_workday": total / city.workdays_per_month,
            "parts_mb": {k: v / MB for k, v in parts.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description="What Hadir costs to run: measured and extrapolated to a city.")
    for name, value in asdict(City()).items():
        ap.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    ap.add_argument("--sample-events", type=int, default=2000, help="events through `hadir-hub run`, per store")
    ap.add_argument("--load-devices", type=int, default=8, help="devices publishing those events")
    ap.add_argument("--wire-events", type=int, default=100, help="events per device for the byte counts")
    ap.add_argument("--wire-telemetry", type=int, default=50)
    ap.add_argument("--keepalive-probe-s", type=float, default=4.0)
    ap.add_argument("--idle-s", type=float, default=10.0, help="seconds of idle hub CPU measured")
    ap.add_argument("--outbox-events", type=int, default=300)
    ap.add_argument("--master-changes", type=int, default=1000)
    ap.add_argument("--camera-fps", type=float, default=15.0)
    ap.add_argument("--frames-per-visit", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2, help="TFLite threads on the terminal (edge default 2)")
    ap.add_argument("--faces", type=Path, default=m.ROOT / "hadir_ops" / "demo_faces")
    args = ap.parse_args()
    city = City(**{k: getattr(args, k) for k in asdict(City())})
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="hadir-footprint-"))
    pki = m.Pki.make(work / "pki")
    plain, tls = m.start_brokers(work, pki)
    influx = localservices.start_influxdb(work / "influx", data_config=m.INFLUX_SNAPSHOT)
    gallery_employees = max(1, round(city.employees / city.offices))
    try:
        print(f"bytes on the wire: {args.wire_events} events per device, plain MQTT then mTLS ...", flush=True)
        wire = {label: m.wire(work / label, pki, broker, label == "tls", args.wire_events, args.wire_telemetry,
                              gallery_employees, city.templates_per_employee, args.keepalive_probe_s)
                for label, broker in (("plain", plain), ("tls", tls))}
        load = {}
        for store in ("sqlite", "influx"):
            print(f"hub load: {args.sample_events} events through `hadir-hub run`, store {store} ...", flush=True)
            load[store] = m.hub_load(work, pki, tls, store, args.sample_events, args.load_devices,
                                     influx if store == "influx" else None, args.idle_s)
    finally:
        for svc in (plain, tls, influx):
            svc.stop()
    print(f"master data for {city.employees} employees ...", flush=True)
    master = m.master_size(work, city.employees, city.offices, city.templates_per_employee, 128, args.master_changes)
    outbox = m.outbox_size(work, args.outbox_events)
    print("terminal pipeline ...", flush=True)
    term = m.terminal(args.faces, args.camera_fps, args.frames_per_visit, args.threads)

    t, p = wire["tls"], wire["plain"]
    months = {role: device_month(city, t[role], role, "wire_") for role in ("office", "field")}
    years = city.events_per_year
    quarantine_year = city.quarantine_share * years * load["sqlite"]["quarantine_bytes_per_message"]
    gps_year = years * city.field_share * load["sqlite"]["gps_bytes_per_field_event"]
    storage = {
        "events_sqlite": years * load["sqlite"]["store_bytes_per_event"] / MB,
        "events_influx": years * load["influx"]["store_bytes_per_event"] / MB,
        "master_data_static": master["bytes"] / MB,
        "master_data_growth": city.employees * city.changes_per_employee_year * master["bytes_per_change"] / MB,
        "quarantine": quarantine_year / MB,
        "gps_fixes": gps_year / MB,
    }
    kept = {  # what the disk holds at steady state, once retention deletes what is past its period
        "events_sqlite": storage["events_sqlite"] * city.events_days / 365,
        "events_influx": storage["events_influx"] * city.events_days / 365,
        "quarantine": storage["quarantine"] * city.quarantine_days / 365,
        "gps_fixes": storage["gps_fixes"] * city.gps_history_days / 365,
    }
    month_events = city.events_per_month
    result = {
        "method": f"sampled: {args.sample_events} events per store through `hadir-hub run` and {args.wire_events} "
                  "per device for byte counts; a month and a year extrapolated linearly from those samples",
        "assumptions": asdict(city),
        "events_per_month": month_events,
        "devices": {"office_terminals": city.offices, "field_devices": city.field_teams},
        "bytes_per_event": {"plain": p["office"]["bytes_per_event"], "tls": t["office"]["bytes_per_event"],
                            "tls_overhead": t["office"]["bytes_per_event"] - p["office"]["bytes_per_event"],
                            "tls_wire_estimate": t["office"]["wire_bytes_per_event"],
                            "tls_up": t["office"]["bytes_per_event_up"],
                            "tls_down": t["office"]["bytes_per_event_down"],
                            "field_tls": t["field"]["bytes_per_event"],
                            "field_tls_wire_estimate": t["field"]["wire_bytes_per_event"]},
        "bytes_per_message_tls": {k: t["office"][f"bytes_per_{k}"] for k in
                                  ("telemetry", "ping", "connect", "disconnect", "gallery_push")},
        "bytes_per_message_plain": {k: p["office"][f"bytes_per_{k}"] for k in
                                    ("telemetry", "ping", "connect", "disconnect", "gallery_push")},
        "gallery_templates_per_push": t["gallery_templates"],
        "device_bytes_per_workday_tls_wire": {r: months[r]["bytes_per_workday"] for r in months},
        "device_mb_per_month_tls_wire": {r: months[r]["mb_per_month"] for r in months},
        "device_mb_per_month_parts": {r: months[r]["parts_mb"] for r in months},
        "hub_cpu_s_per_1000_events": {s: load[s]["hub_cpu_s_per_1000"] for s in load},
        "broker_cpu_s_per_1000_events": {s: load[s]["broker_cpu_s_per_1000"] for s in load},
        "influx_cpu_s_per_1000_events": load["influx"]["influx_cpu_s_per_1000"],
        "hub_idle_cpu_s_per_day": {s: load[s]["hub_idle_cpu_s_per_day"] for s in load},
        # /proc counts CPU in clock ticks: one tick over the idle window is this many seconds a day.
        "hub_idle_cpu_resolution_s_per_day": 86400 / m.CLK_TCK / args.idle_s,
        "hub_cpu_hours_per_month": {s: (month_events / 1000 * (load[s]["hub_cpu_s_per_1000"]
                                                               + load[s]["broker_cpu_s_per_1000"]
                                                               + load[s].get("influx_cpu_s_per_1000", 0))
                                        + load[s]["hub_idle_cpu_s_per_day"] * 30) / 3600 for s in load},
        "store_bytes_per_event": {s: load[s]["store_bytes_per_event"] for s in load},
        "influx_other_bytes": load["influx"]["influx_other_bytes"],
        "quarantine_bytes_per_message": load["sqlite"]["quarantine_bytes_per_message"],
        "gps_bytes_per_field_event": load["sqlite"]["gps_bytes_per_field_event"],
        "master_bytes_per_employee": master["bytes_per_employee"],
        "master_bytes_per_change": master["bytes_per_change"],
        "storage_mb_per_year": storage,
        "storage_mb_kept_at_retention": kept,
        "outbox_bytes_per_event": outbox,
        "outbox_mb_per_day_offline": {r: city.device_events_per_day(r) * outbox[r] / MB for r in outbox},
        "terminal": term,
        "sample_events_per_s": {s: load[s]["events_per_s"] for s in load},
        "seconds": time.perf_counter() - started,
    }
    report(result)
    print(json.dumps(result))


def report(r: dict) -> None:
    b, msg = r["bytes_per_event"], r["bytes_per_message_tls"]
    print(f"per event (office terminal, MQTT + acks): {b['plain']:.0f} B plain, {b['tls']:.0f} B with mTLS "
          f"(+{b['tls_overhead']:.0f} B), about {b['tls_wire_estimate']:.0f} B with IP/TCP headers; field event "
          f"{b['field_tls']:.0f} B")
    print(f"per message with mTLS: telemetry {msg['telemetry']:.0f} B, keepalive {msg['ping']:.0f} B, connection "
          f"{msg['connect']:.0f} B + {msg['disconnect']:.0f} B, gallery push ({r['gallery_templates_per_push']} "
          f"templates) {msg['gallery_push'] / 1e3:.0f} kB")
    for role, mb in r["device_mb_per_month_tls_wire"].items():
        parts = ", ".join(f"{k} {v:.1f}" for k, v in r["device_mb_per_month_parts"][role].items())
        print(f"{role} device: {mb:.1f} MB a month ({parts})")
    for store, s in r["hub_cpu_s_per_1000_events"].items():
        print(f"hub CPU, store {store}: {s:.2f} s per 1,000 events (+ broker "
              f"{r['broker_cpu_s_per_1000_events'][store]:.2f} s), idle {r['hub_idle_cpu_s_per_day'][store]:.0f} s a "
              f"day (resolution {r['hub_idle_cpu_resolution_s_per_day']:.0f} s); "
              f"{r['hub_cpu_hours_per_month'][store]:.2f} CPU hours a month; "
              f"{r['store_bytes_per_event'][store]:.0f} B stored per event")
    print("storage per year (MB): " + ", ".join(f"{k} {v:.1f}" for k, v in r["storage_mb_per_year"].items()))
    print("outbox per day offline (MB): " + ", ".join(f"{k} {v:.2f}" for k, v in
                                                      r["outbox_mb_per_day_offline"].items()))
    t = r["terminal"]
    print(f"terminal: {t['ms_per_frame']:.1f} ms per 640x480 frame ({t['threads']} threads) = "
          f"{t['share_of_frame_budget'] * 100:.0f} % of the {t['frame_budget_ms']:.0f} ms budget at "
          f"{t['camera_fps']:.0f} fps on this machine")
    print(r["method"])


if __name__ == "__main__":
    main()

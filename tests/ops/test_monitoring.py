"""The shipped alert rules and Grafana dashboard use metrics the hub really exports and the InfluxDB schema
the store really writes; the hub logs what an operator needs at info level."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import yaml
from prometheus_client import generate_latest

from hadir.contract import Channel, Telemetry, topic
from hub.ingest.metrics import IngestMetrics
from hub.store.influx_store import MEASUREMENT

MONITORING = Path(__file__).resolve().parents[2] / "firmware_config" / "monitoring"
PROMQL_WORDS = {"up", "time", "rate", "increase", "sum", "by", "le", "histogram_quantile", "and", "or"}


def exported_names() -> set[str]:
    metrics = IngestMetrics()
    metrics.device_seen.labels("pi-x-01").set(1)
    metrics.device_outbox.labels("pi-x-01").set(1)
    metrics.device_free_mb.labels("pi-x-01").set(1)
    metrics.flagged.labels("chain_break").inc()
    metrics.rejected.labels("bad_signature").inc()
    metrics.loss_reports.labels("outbox_damaged").inc()
    metrics.device_lost.labels("pi-x-01").set(1)
    metrics.lag.observe(1)
    text = generate_latest(metrics.registry).decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"|\bby\s*\([^)]*\)", "", expr)
    return {w for w in re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", expr) if w not in PROMQL_WORDS}


def test_every_alert_names_a_metric_the_hub_exports():
    rules = yaml.safe_load((MONITORING / "hadir-alerts.yml").read_text())["groups"][0]["rules"]
    names = exported_names()
    assert len(rules) >= 6
    for rule in rules:
        used = metric_names(rule["expr"]) - {"up"}
        assert used <= names, (rule["alert"], used - names)
        assert used or rule["expr"].startswith("up{"), rule["alert"]  # only the scrape check uses no metric
        assert rule["annotations"]["summary"] and rule["labels"]["severity"] in {"warning", "critical"}


def test_dashboard_panels_query_exported_metrics_and_the_influx_schema():
    dash = json.loads((MONITORING / "grafana-hadir.json").read_text())
    names = exported_names()
    for panel in dash["panels"]:
        for target in panel["targets"]:
            if "expr" in target:
                assert metric_names(target["expr"]) <= names, panel["title"]
            else:
                assert f'"{MEASUREMENT}"' in target["query"]


def test_telemetry_sets_the_per_device_gauges_the_alerts_use(tmp_path):
    from hub.ingest.quarantine import Quarantine
    from hub.ingest.worker import Inbound, Ingest
    from hub.registry import DeviceRegistry
    from hub.store.sqlite_store import SqliteEventStore

    metrics = IngestMetrics()
    ingest = Ingest(SqliteEventStore(tmp_path / "e.sqlite"), DeviceRegistry.in_dir(tmp_path),
                    Quarantine(tmp_path / "q.sqlite"), metrics)
    now = datetime.now(timezone.utc)
    t = Telemetry(device_id="pi-x-01", at=now, inference_ms=4, fps=10, outbox_depth=42, outbox_free_mb=150.5)
    ingest.process([Inbound(topic("pi-x-01", Channel.TELEMETRY), t.model_dump_json().encode(), now)])
    text = generate_latest(metrics.registry).decode()
    assert 'hadir_device_outbox_depth{device="pi-x-01"} 42.0' in text
    assert 'hadir_device_outbox_free_mb{device="pi-x-01"} 150.5' in text

"""Prometheus counters for everything ingest counts (one registry per hub instance)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter("hadir_ingest_received", "MQTT messages received", ["channel"], registry=r)
        self.stored = Counter("hadir_ingest_stored", "events stored for the first time", registry=r)
        self.duplicates = Counter("hadir_ingest_duplicates", "events already stored (re-acknowledged)",
                                  registry=r)
        self.rejected = Counter("hadir_ingest_rejected", "messages refused, by reason", ["reason"], registry=r)
        self.flagged = Counter("hadir_ingest_flagged", "stored events carrying a flag", ["flag"], registry=r)
        self.acks = Counter("hadir_ingest_acks", "acknowledgement messages sent", registry=r)
        self.lag = Histogram("hadir_ingest_lag_seconds", "hub receive time minus device capture time",
                             buckets=(0.05, 0.1, 0.5, 1, 5, 30, 300, 3600, 86400), registry=r)
        self.resend_requests = Counter("hadir_ingest_resend_requests", "devices asked to resend events the "
                                       "store lost (e.g. restored from an older backup)", registry=r)
        self.loss_reports = Counter("hadir_device_outbox_loss_reports", "devices reporting events lost on the "
                                    "device (outbox damaged, deleted, rolled back, restored), by reason", ["reason"],
                                    registry=r)
        self.device_lost = Gauge("hadir_device_events_lost", "events a device reported lost that the hub does not "
                                 "hold (at the report; -1: range unknown)", ["device"], registry=r)
        self.unannounced_epochs = Gauge("hadir_device_epochs_unannounced", "outbox epochs seen in events that their "
                                        "device never announced (events may be lost unreported)", registry=r)
        self.broker_refused = Gauge("hadir_broker_refused_connections", "connections the embedded broker refused "
                                    "since the hub started (no or bad credentials, no CONNECT in time)", registry=r)
        self.online = Gauge("hadir_devices_online", "devices whose last state is online", registry=r)
        # Per device (a city has a few hundred): what the fleet alerts need.
        self.device_seen = Gauge("hadir_device_last_telemetry_timestamp_seconds",
                                 "when the hub last received the device's telemetry (Unix time)", ["device"],
                                 registry=r)
        self.device_outbox = Gauge("hadir_device_outbox_depth", "events waiting in the device's outbox", ["device"],
                                   registry=r)
        self.device_free_mb = Gauge("hadir_device_outbox_free_mb", "free space for the device's outbox", ["device"],
                                    registry=r)

    def rejected_counts(self) -> dict[str, int]:
        out = {}
        for metric in self.rejected.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    out[sample.labels["reason"]] = int(sample.value)
        return out

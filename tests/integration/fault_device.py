"""A device process for the fault suite: records events into its outbox and publishes them.

    python fault_device.py OUTBOX KEY DEVICE_ID PORT TOTAL HUB_PUB [INTERVAL_S]

Appends signed, chained events until the outbox's sequence reaches TOTAL (so a restart after SIGKILL
continues where it stopped), then waits until the hub has acknowledged everything and exits 0.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/helpers.py

from helpers import event  # noqa: E402

from edge.outbox.store import Outbox  # noqa: E402
from edge.publish.link import DeviceLink  # noqa: E402
from hadir.contract import seq_number  # noqa: E402
from hadir.mqtt import MqttSettings  # noqa: E402
from hadir.signing import load_private_key, load_public_key, sign_event  # noqa: E402


def main() -> int:
    outbox_path, key_path, device_id, port, total = sys.argv[1:6]
    hub_key = load_public_key(Path(sys.argv[6]))
    interval = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0
    key = load_private_key(Path(key_path))
    outbox = Outbox(Path(outbox_path), min_free_mb=1, alarm_free_mb=2)
    link = DeviceLink(MqttSettings(port=int(port), protocol=5), device_id, outbox, hub_key=hub_key,
                      signer=key, resend_after_s=2.0).start()
    while seq_number(outbox.last_seq()) < int(total):
        outbox.append(lambda seq, prev: sign_event(event(device_id, seq, prev, None), key))
        link.notify()
        if interval:
            time.sleep(interval)
    ok = link.wait_drained(120)
    link.stop()
    print(f"device done: last_seq={outbox.last_seq()} depth={outbox.depth()}", flush=True)
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())

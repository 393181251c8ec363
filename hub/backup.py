"""Backup and restore of everything the hub keeps, with a manifest of checksums.

What goes in a backup folder:
- `events.jsonl`: every stored event with its flags and reception time, read through the store interface,
  so a backup of the SQLite store restores into InfluxDB and the other way round; chains stay verifiable
  because the signed events are kept byte for byte (canonical JSON).
- `sqlite/<file>`: an online copy (SQLite backup API, consistent while the hub runs) of every other
  SQLite file in the data folder: device registry, quarantine, GPS history, master data when on SQLite.
- `keys/`: the hub's own identity beside its data: its signing key and public half (`hub_signing.key`,
  `hub.pub`: every field device verifies its assignments with the hub.pub in its bundle) and Prometheus'
  scrape credential (`metrics.token`). A restored hub that made new ones would be refused by every field
  device and by Prometheus. Not the API's token secret: after a restore users simply log in again.
- `ca/` (with `--ca-dir`): the city's CA (its private key: keep the backup as safe as the CA).
- `mosquitto/` (with `--mosquitto-db`): the broker's persistence file (queued messages, sessions).
- `manifest.json`: what is in it, with sha256 of each file, checked before any restore.

Never in a backup: the template key (`template_key_path`, outside the data folder by default). Back it up
apart, kept by someone else: a stolen backup then holds encrypted templates it cannot open. The backup
folder itself is readable by its owner only (personal data, the hub's key, optionally the CA's).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from hub.config import HubSettings
from hub.registry import DeviceRegistry
from hub.service import HUB_KEY_FILE, HUB_PUBLIC_FILE
from hub.store.base import EventStore, StoredEvent

FORMAT = 1
EVENTS_FILE = "events.jsonl"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_END = datetime(2200, 1, 1, tzinfo=timezone.utc)
_BATCH = 1000
IDENTITY_FILES = (HUB_KEY_FILE, HUB_PUBLIC_FILE, "metrics.token")  # restored as they were: see the docstring


class BackupError(RuntimeError):
    """A backup cannot be made or restored; the message says what to do."""


@dataclass(frozen=True)
class BackupReport:
    folder: Path
    events: int
    files: dict[str, str]  # relative path -> sha256


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_sqlite(src: Path, dst: Path) -> None:
    """A consistent copy of a live SQLite file (WAL included), without stopping its writers."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(str(src)) as source, sqlite3.connect(str(dst)) as target:
        source.backup(target)


def backup(settings: HubSettings, store: EventStore, out: Path, *, ca_dir: Path | None = None,
           mosquitto_db: Path | None = None, progress: Callable[[int], None] | None = None) -> BackupReport:
    """Write a backup of the hub into the empty or new folder `out`; BackupError if `out` holds files."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty: give a new folder for each backup")
    # A backup without the hub's identity or master data would restore nothing: refuse rather than report an
    # empty backup as a success (e.g. the wrong data folder).
    missing = [name for name in (HUB_KEY_FILE, DeviceRegistry.FILE) if not (settings.data_dir / name).is_file()]
    if settings.master_db.startswith("sqlite:///") and not Path(settings.master_db.removeprefix("sqlite:///")).is_file():
        missing.append(Path(settings.master_db.removeprefix("sqlite:///")).name)
    if missing:
        raise BackupError(f"{settings.data_dir} has no {', '.join(missing)}: not an initialised hub's data folder, "
                          "nothing to back up (check data_dir in --config)")
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    n = 0
    with (out / EVENTS_FILE).open("w") as fh:
        for item in store.between(_EPOCH, _END):
            fh.write(item.to_json() + "\n")
            n += 1
            if progress and n % _BATCH == 0:
                progress(n)
    skipped_events_file = "events.sqlite"  # the event store travels as events.jsonl
    for path in sorted(settings.data_dir.glob("*.sqlite")):
        if path.name != skipped_events_file:
            _copy_sqlite(path, out / "sqlite" / path.name)
    for name in IDENTITY_FILES:
        if (settings.data_dir / name).is_file():
            (out / "keys").mkdir(mode=0o700, exist_ok=True)
            shutil.copy2(settings.data_dir / name, out / "keys" / name)  # keeps the key's 0600
    if ca_dir is not None:
        if not (Path(ca_dir) / "ca.crt").is_file():
            raise BackupError(f"{ca_dir} has no ca.crt: give the folder 'hadir ca init' made")
        shutil.copytree(ca_dir, out / "ca")
    if mosquitto_db is not None:
        if not Path(mosquitto_db).is_file():
            raise BackupError(f"{mosquitto_db} not found (Mosquitto's persistence_location/mosquitto.db)")
        (out / "mosquitto").mkdir()
        shutil.copy2(mosquitto_db, out / "mosquitto" / Path(mosquitto_db).name)
    files = {str(p.relative_to(out)): _sha256(p) for p in sorted(out.rglob("*")) if p.is_file()}
    manifest = {"format": FORMAT, "made_at": datetime.now(timezone.utc).isoformat(), "store": settings.store,
                "events": n, "files": files,
                "not_included": "the template key: back it up apart (see docs/operations.md)"}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return BackupReport(out, n, files)


def check(folder: Path) -> dict:
    """The backup's manifest after checking every file's sha256; BackupError naming the first bad file."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{folder} has no readable manifest.json: not a Hadir backup ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')} is not {FORMAT}")
    for name, digest in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise BackupError(f"backup file {name} is missing")
        if _sha256(path) != digest:
            raise BackupError(f"backup file {name} does not match its checksum: damaged or altered")
    return manifest


def restore(settings: HubSettings, store: EventStore, folder: Path, *, ca_dir: Path | None = None,
            progress: Callable[[int], None] | None = None) -> int:
    """Restore a checked backup into an empty data folder and an empty event store; returns events restored.

    Refuses (BackupError) when the store already holds events or a data file exists, so a restore never
    mixes two histories.
    """
    folder = Path(folder)
    manifest = check(folder)
    if store.count():
        raise BackupError(f"the event store already holds {store.count()} events: restore into a fresh one")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sqlite_files, keys = sorted((folder / "sqlite").glob("*.sqlite")), sorted((folder / "keys").glob("*"))
    for src in (*sqlite_files, *keys):
        if (settings.data_dir / src.name).exists():
            raise BackupError(f"{settings.data_dir / src.name} exists: restore into an empty data folder")
    for src in keys:
        shutil.copy2(src, settings.data_dir / src.name)
    for src in sqlite_files:
        _copy_sqlite(src, settings.data_dir / src.name)
    n, batch = 0, []
    with (folder / EVENTS_FILE).open() as fh:
        for line in fh:
            batch.append(StoredEvent.from_json(line))
            if len(batch) >= _BATCH:
                store.put(batch)
                n += len(batch)
                batch = []
                if progress:
                    progress(n)
        if batch:
            store.put(batch)
            n += len(batch)
    if n != manifest["events"]:
        raise BackupError(f"restored {n} events, the manifest says {manifest['events']}")
    if ca_dir is not None and (folder / "ca").is_dir():
        if Path(ca_dir).exists() and any(Path(ca_dir).iterdir()):
            raise BackupError(f"{ca_dir} is not empty: restore the CA into an empty folder")
        shutil.copytree(folder / "ca", ca_dir, dirs_exist_ok=True)
    return n

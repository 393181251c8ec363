"""`hadir-hub`: run the hub (broker, ingest, store) and inspect what it stored."""

from __future__ import annotations

import contextlib
import signal
import threading
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="Hadir hub: ingest events from devices, store them, serve attendance and TPP.",
                  no_args_is_help=True)
console = Console()


@app.command()
def run(config: Path = typer.Option(None, help="Hub config file (TOML); HADIR_HUB_* variables override it."),
        api: bool = typer.Option(True, help="Also serve the HTTP API (api_host:api_port).")) -> None:
    """Start the broker (embedded unless configured otherwise), the ingest workers and the API until Ctrl-C."""
    from hadir.settings import load_settings
    from hub.config import HubSettings
    from hub.service import Hub

    try:
        settings = load_settings(HubSettings, config)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]Bad hub configuration:[/red] {exc}")
        raise typer.Exit(2) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with Hub(settings) as hub:
            console.print(f"Hub running: broker {hub.mqtt.host}:{hub.mqtt.port}, store {settings.store}, "
                          f"data in {settings.data_dir}. Ctrl-C to stop.")
            if api:
                import uvicorn

                console.print(f"API on http://{settings.api_host}:{settings.api_port} (OpenAPI at /docs).")
                uvicorn.run(hub.api(), host=settings.api_host, port=settings.api_port, log_level="warning")
            else:
                with contextlib.suppress(KeyboardInterrupt):
                    stop.wait()
    except (ConnectionError, OSError, RuntimeError) as exc:
        console.print(f"[red]Hub failed:[/red] {exc}")
        raise typer.Exit(1) from None


@app.command()
def add_user(
    username: str,
    role: str = typer.Option(..., help="admin, opd, payroll, auditor or employee."),
    opd: str = typer.Option(None, help="The OPD code (role opd)."),
    nip: str = typer.Option(None, help="The employee's NIP (role employee)."),
    config: Path = typer.Option(None, help="Hub config file (TOML)."),
) -> None:
    """Create an API user (asks for the password); the first admin is made this way."""
    from pydantic import ValidationError
    from sqlalchemy.exc import IntegrityError

    from hadir.settings import load_settings
    from hub.api.schemas import UserIn
    from hub.config import HubSettings
    from hub.master import MasterData, User, hash_password

    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        body = UserIn(username=username, password=password, role=role, opd_code=opd, nip=nip)
    except ValidationError as exc:
        console.print(f"[red]Not created:[/red] {exc.errors()[0]['msg']}")
        raise typer.Exit(2) from None
    settings = load_settings(HubSettings, config)
    data = body.model_dump()
    data["password_hash"] = hash_password(data.pop("password"))
    try:
        MasterData(settings.master_db).add("cli", User(**data))
    except IntegrityError as exc:
        console.print(f"[red]Not created:[/red] {exc.orig}")
        raise typer.Exit(2) from None
    console.print(f"User {username} ({role}) created.")


@app.command()
def register_device(
    device_id: str, public_key: str = typer.Argument(..., help="Device's Ed25519 public key, base64."),
    data_dir: Path = typer.Option(Path("/var/lib/hadir-hub"), help="The hub's data folder."),
    box_key: str = typer.Option(None, help="Device's X25519 gallery key, base64 (from its bundle)."),
    opd: str = typer.Option(None), site: str = typer.Option(None),
) -> None:
    """Register (or re-register) a device's signing key so the hub accepts its events (the running hub
    picks it up at the device's next event, no restart)."""
    from hub.registry import DeviceRegistry

    try:
        DeviceRegistry(data_dir / "devices.sqlite").register(device_id, public_key, box_key_b64=box_key, opd=opd,
                                                             site=site)
    except ValueError as exc:
        console.print(f"[red]Not registered:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"Device {device_id} registered.")


@app.command()
def migrate(config: Path = typer.Option(None, help="Hub config file (TOML).")) -> None:
    """Bring the master-data database schema up to date (Alembic; safe to run on every upgrade)."""
    from hadir.settings import load_settings
    from hub.config import HubSettings
    from hub.migrate import upgrade

    settings = load_settings(HubSettings, config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.master_db)
    console.print(f"Master data schema is at the latest revision ({settings.master_db}).")


@app.command()
def enroll(
    photos: Path = typer.Argument(..., exists=True, help="A folder of <NIP>/<photos>, or a ZIP of photos with "
                                                         "nip.csv (columns: file,nip)."),
    config: Path = typer.Option(None, help="Hub config file (TOML)."),
) -> None:
    """Bulk enrolment: make encrypted templates with the devices' model; report why each refused photo was refused."""
    from rich.progress import Progress
    from rich.table import Table

    from edge.infer.pipeline import FacePipeline
    from hadir.settings import load_settings
    from hub.config import HubSettings
    from hub.enrolment import Enrolment, enrol_many, photos_from_folder, photos_from_zip, template_key
    from hub.master import MasterData

    settings = load_settings(HubSettings, config)
    try:
        items = photos_from_zip(photos.read_bytes()) if photos.is_file() else photos_from_folder(photos)
    except (ValueError, OSError) as exc:
        console.print(f"[red]Cannot read {photos}:[/red] {exc}")
        raise typer.Exit(2) from None
    enrolment = Enrolment(MasterData(settings.master_db), template_key(settings.data_dir / "templates.key"),
                          FacePipeline(threads=2))
    with Progress(console=console) as progress:
        task = progress.add_task("Enrolling", total=len(items))
        reports = enrol_many(enrolment, "cli", items, lambda: progress.advance(task))
    table = Table(title="Laporan kualitas foto")
    for col in ("NIP", "foto", "hasil"):
        table.add_column(col)
    for r in reports:
        table.add_row(r.employee_id, r.path, r.reason if r.accepted else f"[red]ditolak: {r.reason}")
    console.print(table)
    accepted = sum(r.accepted for r in reports)
    version = enrolment.bump_version() if accepted else enrolment.version()
    console.print(f"{accepted} of {len(reports)} photos enrolled; gallery version {version}. The running hub sends "
                  "it to devices on POST /devices/galleries/push (or the next enrolment through the API).")


@app.command()
def verify_chain(
    device_id: str,
    start: datetime = typer.Option(None, "--from", help="First capture time (ISO, with zone)."),
    end: datetime = typer.Option(None, "--to", help="End of the range (exclusive)."),
    config: Path = typer.Option(None, help="Hub config file (TOML)."),
) -> None:
    """For auditors: is this device's event chain intact over the range, or where does it first break?"""
    from hadir.settings import load_settings
    from hub.audit import verify_chain as verify
    from hub.config import HubSettings
    from hub.registry import DeviceRegistry
    from hub.service import open_store

    settings = load_settings(HubSettings, config)
    store = open_store(settings)
    report = verify(store, DeviceRegistry(settings.data_dir / "devices.sqlite"), device_id, start, end)
    store.close()
    console.print(report.summary())
    if not report.intact:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()

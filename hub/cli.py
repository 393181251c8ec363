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
    import logging

    from hub.service import Hub

    # One line per fact an operator needs: connections, batches, refusals with reasons, galleries, devices.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every InfluxDB request at info (two per board refresh, with the query): noise, not facts.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = _settings(config, create=True)
    stop = threading.Event()
    # uvicorn re-raises the signal it caught after its clean shutdown: this handler makes that a clean exit.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if api:
        # uvicorn imports the API and runs the hub for the app's lifetime; this module never imports the API.
        import os

        import uvicorn

        if config is not None:
            os.environ["HADIR_HUB_CONFIG"] = str(config.resolve())
        console.print(f"Hub running: broker {settings.mqtt.host}:{settings.mqtt.port}, store {settings.store}, "
                      f"data in {settings.data_dir}; API on http://{settings.api_host}:{settings.api_port} "
                      "(OpenAPI at /docs). Ctrl-C to stop.")
        try:
            uvicorn.run("hub.api.app:running_hub_app", factory=True, host=settings.api_host, port=settings.api_port,
                        log_level="warning")
        except (ConnectionError, OSError, RuntimeError) as exc:
            console.print(f"[red]Hub failed:[/red] {exc}")
            raise typer.Exit(1) from None
        return
    try:
        with Hub(settings) as hub:
            console.print(f"Hub running: broker {hub.mqtt.host}:{hub.mqtt.port}, store {settings.store}, "
                          f"data in {settings.data_dir}. Ctrl-C to stop.")
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
    except (ConnectionError, OSError, RuntimeError) as exc:
        console.print(f"[red]Hub failed:[/red] {exc}")
        raise typer.Exit(1) from None


def _settings(config: Path | None, *, create: bool = False):  # noqa: ANN202 - HubSettings, imported lazily
    """The hub's settings for a command, from --config or HADIR_HUB_CONFIG (HADIR_HUB_* variables override
    it). Never a silent default: without either (or HADIR_HUB_DATA_DIR) the command stops and says what to
    pass, and unless `create` (run, migrate, restore) the data folder must be an initialised hub's."""
    import os

    from hadir.settings import load_settings
    from hub.config import HubSettings
    from hub.service import HUB_KEY_FILE

    if config is None and os.environ.get("HADIR_HUB_CONFIG"):
        config = Path(os.environ["HADIR_HUB_CONFIG"])
    if config is None and not os.environ.get("HADIR_HUB_DATA_DIR"):
        console.print("[red]No hub configuration given:[/red] pass --config /etc/hadir/hub.toml (or set "
                      "HADIR_HUB_CONFIG to that file). Without it this command would use the built-in default "
                      "data folder, which is probably not your hub's.", highlight=False)
        raise typer.Exit(2)
    try:
        settings = load_settings(HubSettings, config)
    except FileNotFoundError:
        console.print(f"[red]Hub config file {config} not found:[/red] pass the hub's TOML file with --config "
                      "(or HADIR_HUB_CONFIG).", highlight=False)
        raise typer.Exit(2) from None
    except ValueError as exc:
        # markup off for the pydantic message (it may hold brackets); the colour is given as a style instead
        console.print(f"Bad hub configuration in {config}: {exc}", style="red", highlight=False, markup=False)
        raise typer.Exit(2) from None
    markers = (HUB_KEY_FILE, "master.sqlite")  # made by the hub's first start / by 'migrate'
    if not create and not any((settings.data_dir / name).is_file() for name in markers):
        console.print(f"[red]{settings.data_dir} is not an initialised hub data folder[/red] "
                      f"(no {' or '.join(markers)}): check data_dir in the config you passed, or initialise it "
                      "with 'hadir-hub migrate "
                      "--config FILE' (or start the hub once).", highlight=False)
        raise typer.Exit(2)
    return settings


def _master(config: Path | None):
    from hub.master import MasterData

    return MasterData(_settings(config).master_db)


def _user_change(action, *args) -> None:  # noqa: ANN001 - a hub.users function and its arguments
    """Run a hub.users change as actor "cli"; a refusal is printed and exits with status 2."""
    from hub.users import UserError

    try:
        return action(*args)
    except UserError as exc:
        console.print(f"[red]Refused:[/red] {exc}")
        raise typer.Exit(2) from None


CONFIG = typer.Option(None, help="Hub config file (TOML).")


@app.command()
def add_user(
    username: str,
    role: str = typer.Option(..., help="admin, opd, payroll, auditor or employee."),
    opd: str = typer.Option(None, help="The OPD code (role opd)."),
    nip: str = typer.Option(None, help="The employee's NIP (role employee); the employee must exist."),
    config: Path = CONFIG,
) -> None:
    """Create an API user (asks for the password: 10+ characters, not a common one); the first admin is made so."""
    from hub.users import create_user

    if role not in ("admin", "opd", "payroll", "auditor", "employee"):
        console.print(f"[red]Not created:[/red] unknown role {role!r}; use admin, opd, payroll, auditor or employee")
        raise typer.Exit(2)
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    _user_change(create_user, _master(config), "cli", username, password, role, opd, nip)
    console.print(f"User {username} ({role}) created.")


@app.command()
def list_users(config: Path = CONFIG) -> None:
    """Show every API user: role, scope, disabled or locked."""
    from rich.table import Table

    from hub.users import list_users as users

    table = Table(title="API users")
    for col in ("username", "role", "OPD", "NIP", "state"):
        table.add_column(col)
    for u in users(_master(config)):
        state = "disabled" if u.disabled else (f"locked until {u.locked_until}" if u.locked_until else "active")
        table.add_row(u.username, u.role, u.opd_code or "", u.nip or "", state)
    console.print(table)


@app.command()
def disable_user(username: str, config: Path = CONFIG) -> None:
    """Disable a user: their tokens and live streams end at once (audited)."""
    from hub.users import set_disabled

    _user_change(set_disabled, _master(config), "cli", username, True)
    console.print(f"User {username} disabled.")


@app.command()
def enable_user(username: str, config: Path = CONFIG) -> None:
    """Enable a user again (also lifts a lockout after failed logins)."""
    from hub.users import set_disabled

    _user_change(set_disabled, _master(config), "cli", username, False)
    console.print(f"User {username} enabled.")


@app.command()
def reset_password(username: str, config: Path = CONFIG) -> None:
    """Set a new password for a user (asks for it); their tokens end and a lockout is lifted."""
    from hub.users import reset_password as reset

    password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    _user_change(reset, _master(config), "cli", username, password)
    console.print(f"Password of {username} changed; they must log in again.")


@app.command()
def set_role(
    username: str,
    role: str = typer.Option(..., help="admin, opd, payroll, auditor or employee."),
    opd: str = typer.Option(None, help="The OPD code (role opd)."),
    nip: str = typer.Option(None, help="The employee's NIP (role employee)."),
    config: Path = CONFIG,
) -> None:
    """Change a user's role and scope; tokens issued with the old role end."""
    from hub.users import set_role as change

    _user_change(change, _master(config), "cli", username, role, opd, nip)
    console.print(f"User {username} is now {role}.")


@app.command()
def delete_user(username: str, config: Path = CONFIG) -> None:
    """Remove a user; their tokens end (audited). The last enabled admin cannot be removed."""
    from hub.users import delete_user as remove

    _user_change(remove, _master(config), "cli", username)
    console.print(f"User {username} removed.")


@app.command()
def add_opd(
    code: str = typer.Argument(..., help="Short code used in device and user settings, e.g. DINKES."),
    name: str = typer.Argument(..., help="Full name as SIASN's Unit Kerja spells it, e.g. 'Dinas Kesehatan'."),
    config: Path = CONFIG,
) -> None:
    """Create an OPD, or rename it (audited): employees are imported into OPDs that exist."""
    import re

    from hub.master import Opd

    # The same rule as the API's POST /opd: the code goes into device and user settings.
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,32}", code) or not name.strip() or len(name) > 200:
        console.print("[red]Not created:[/red] the code is 1-32 letters, digits, '.', '_' or '-', and the name "
                      "1-200 characters")
        raise typer.Exit(2)
    master = _master(config)
    current = next((o for o in master.list(Opd) if o.code == code), None)
    if current is not None and current.name == name:
        console.print(f"OPD {code} ({name}) already exists, unchanged.", highlight=False)
        return
    if master.update("cli", Opd, code, {"name": name}) is not None:
        console.print(f"OPD {code} renamed to {name!r}.")
        return
    master.add("cli", Opd(code=code, name=name))
    console.print(f"OPD {code} ({name}) created.")


@app.command()
def register_device(
    device_id: str, public_key: str = typer.Argument(..., help="Device's Ed25519 public key, base64."),
    data_dir: Path = typer.Option(None, help="The hub's data folder (default: data_dir of --config)."),
    box_key: str = typer.Option(None, help="Device's X25519 gallery key, base64 (from its bundle)."),
    opd: str = typer.Option(None, help="The device's OPD code (must exist: hadir-hub add-opd)."),
    site: str = typer.Option(None),
    replace: bool = typer.Option(False, "--replace", help="The id is registered with another key: replace it."),
    config: Path = CONFIG,
) -> None:
    """Register a device's signing key so the hub accepts its events (the running hub picks it up at the
    device's next event, no restart). Another key for a registered device is refused unless --replace."""
    from hub.config import HubSettings
    from hub.master import MasterData
    from hub.registry import DeviceRegistry

    settings = _settings(config) if data_dir is None else HubSettings(data_dir=data_dir)
    if not (settings.data_dir / "hub_signing.key").is_file():
        console.print(f"[red]{settings.data_dir} is not an initialised hub data folder[/red]: give the hub's data "
                      "folder or --config.", highlight=False)
        raise typer.Exit(2)
    master = MasterData(settings.master_db)
    if opd and (problem := master.opd_problem(opd)):
        console.print(f"Not registered: {problem}", style="red", highlight=False, markup=False)
        raise typer.Exit(2)
    registry = DeviceRegistry.in_dir(settings.data_dir)
    known = registry.get(device_id)
    replacing = known is not None and not known.revoked and known.public_key != public_key
    if replacing and not replace:
        console.print(f"Not registered: {device_id} is registered with another key. Registering this one replaces "
                      "the device (the old key's events are refused from now on): run again with --replace.",
                      style="red", highlight=False, markup=False)
        raise typer.Exit(2)
    try:
        registry.register(device_id, public_key, box_key_b64=box_key, opd=opd, site=site)
    except ValueError as exc:
        console.print(f"Not registered: {exc}", style="red", highlight=False, markup=False)
        raise typer.Exit(2) from None
    if replacing:
        master.log("cli", "replace", "device", device_id, {"old_public_key": known.public_key,
                                                            "new_public_key": public_key})
        console.print(f"Device {device_id} replaced: the old key is no longer accepted (recorded in the audit log).")
    else:
        console.print(f"Device {device_id} registered.")


@app.command()
def assign_device(
    device_id: str,
    opd: str = typer.Option(None, help="The OPD whose gallery the device should carry (none: every OPD)."),
    site: str = typer.Option(None, help="The device's fixed site, if it changes too."),
    config: Path = typer.Option(None, help="Hub config file (TOML)."),
) -> None:
    """Move a registered device to another OPD (its key stays); the running hub sends it the new gallery
    at its next connection or gallery push."""
    from hub.master import MasterData
    from hub.registry import DeviceRegistry

    settings = _settings(config)
    if opd and (problem := MasterData(settings.master_db).opd_problem(opd)):
        console.print(f"Not assigned: {problem}", style="red", highlight=False, markup=False)
        raise typer.Exit(2)
    if not DeviceRegistry.in_dir(settings.data_dir).assign(device_id, opd=opd, site=site):
        console.print(f"[red]{device_id} is not registered[/red]: register it first (hadir-hub register-device).")
        raise typer.Exit(2)
    console.print(f"{device_id} now belongs to {opd or 'every OPD'}.")


@app.command()
def migrate(config: Path = typer.Option(None, help="Hub config file (TOML).")) -> None:
    """Bring the master-data database schema up to date (Alembic; safe to run on every upgrade)."""
    from hub.migrate import upgrade
    from hub.registry import DeviceRegistry
    from hub.service import hub_public_key_path

    settings = _settings(config, create=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.master_db)
    hub_public_key_path(settings.data_dir)  # the hub's identity: the data folder is now an initialised hub's
    DeviceRegistry.in_dir(settings.data_dir)
    console.print(f"Master data schema is at the latest revision ({settings.master_db}).")


@app.command()
def enrol(
    photos: Path = typer.Argument(..., exists=True, help="A folder of <NIP>/<photos>, or a ZIP of photos with "
                                                         "nip.csv (columns: file,nip)."),
    config: Path = typer.Option(None, help="Hub config file (TOML)."),
) -> None:
    """Bulk enrolment: make encrypted templates with the devices' model; report why each refused photo was refused."""
    from rich.progress import Progress
    from rich.table import Table

    from edge.infer.pipeline import FacePipeline
    from hub.enrolment import Enrolment, enrol_many, photos_from_folder, photos_from_zip, template_key
    from hub.master import MasterData

    settings = _settings(config)
    try:
        items = photos_from_zip(photos) if photos.is_file() else photos_from_folder(photos)
    except (ValueError, OSError) as exc:
        console.print(f"[red]Cannot read {photos}:[/red] {exc}")
        raise typer.Exit(2) from None
    enrolment = Enrolment(MasterData(settings.master_db), template_key(settings.template_key_path),
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


@app.command("import-employees")
def import_employees(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="SIASN-style export: .xlsx or .csv with "
                                                                        "NIP, Nama, Unit Kerja/OPD, Jabatan, "
                                                                        "Golongan, Status, TPP, TMT Pensiun."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would change; write nothing."),
    config: Path = typer.Option(None, help="Hub config file (TOML)."),
) -> None:
    """Create and update employees from a staff list: new, changed, transferred between OPDs, retired."""
    from datetime import date

    from rich.progress import Progress
    from rich.table import Table

    from hub.employee_import import ImportError_, apply_plan, import_file
    from hub.master import MasterData

    master = MasterData(_settings(config).master_db)
    try:
        plan = import_file(master, file, date.today())
    except ImportError_ as exc:
        console.print(f"[red]Cannot import:[/red] {exc}")
        raise typer.Exit(2) from None
    table = Table(title=f"{'Rencana' if dry_run else 'Perubahan'} impor pegawai: {file.name}")
    for col in ("baris", "NIP", "aksi", "perubahan"):
        table.add_column(col)
    for c in plan.changes:
        changes = "; ".join(f"{k}: {'-' if old is None else old} -> {new}" for k, (old, new) in c.fields.items())
        table.add_row(str(c.line), c.nip, c.action, changes)
    for e in plan.errors:
        table.add_row(str(e.line), e.nip, "[red]ditolak", f"[red]{e.message}")
    console.print(table)
    console.print(plan.summary())
    if dry_run:
        console.print("Dry run: nothing was written.")
    elif plan.changes:
        with Progress(console=console) as progress:
            task = progress.add_task("Writing", total=len(plan.changes))
            n = apply_plan(master, "cli:import", plan, lambda: progress.advance(task))
        console.print(f"{n} employees written (each change is in the audit log).")
    if plan.errors:
        console.print(f"[red]{len(plan.errors)} row(s) refused[/red]: fix them in the file and import again "
                      "(rows already written are updated, not duplicated).")
        raise typer.Exit(1)


@app.command()
def backup(
    out: Path = typer.Argument(..., help="A new, empty folder for this backup."),
    ca_dir: Path = typer.Option(None, help="Also back up the city's CA (the folder of 'hadir ca init')."),
    mosquitto_db: Path = typer.Option(None, help="Also back up Mosquitto's persistence file (mosquitto.db)."),
    config: Path = typer.Option(None, help="Hub config file (TOML)."),
) -> None:
    """Back up events (any store), every SQLite file, master data and optionally the CA and broker store.

    The template key is never included: back it up apart (docs/operations.md).
    """
    from hub.backup import BackupError
    from hub.backup import backup as make_backup
    from hub.service import open_store

    settings = _settings(config)
    store = open_store(settings)
    try:
        with console.status("Backing up events...") as status:
            report = make_backup(settings, store, out, ca_dir=ca_dir, mosquitto_db=mosquitto_db,
                                 progress=lambda n: status.update(f"Backing up events... {n}"))
    except BackupError as exc:
        console.print(f"[red]Backup failed:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        store.close()
    if settings.master_url and not settings.master_url.startswith("sqlite"):
        console.print("[yellow]Master data is in PostgreSQL: back it up with pg_dump as well.[/yellow]")
    console.print(f"Backup in {report.folder}: {report.events} events, {len(report.files)} files, checksums in "
                  f"manifest.json. Not included: the template key {settings.template_key_path} (keep a copy apart).")


@app.command()
def restore(
    folder: Path = typer.Argument(..., exists=True, file_okay=False, help="A folder made by 'hadir-hub backup'."),
    ca_dir: Path = typer.Option(None, help="Restore the CA into this (empty) folder too."),
    config: Path = typer.Option(None, help="Hub config file (TOML) of the fresh hub to restore into."),
) -> None:
    """Restore a checked backup into a fresh data folder and event store, then verify every device's chain."""
    from hub.audit import verify_chain as verify
    from hub.backup import BackupError
    from hub.backup import restore as do_restore
    from hub.registry import DeviceRegistry
    from hub.service import open_store

    settings = _settings(config, create=True)
    store = open_store(settings)
    try:
        with console.status("Restoring events...") as status:
            n = do_restore(settings, store, folder, ca_dir=ca_dir,
                           progress=lambda k: status.update(f"Restoring events... {k}"))
        broken = 0
        registry = DeviceRegistry.in_dir(settings.data_dir)
        for device in registry.all():
            report = verify(store, registry, device.device_id)
            broken += not report.intact
            console.print(report.summary())
    except BackupError as exc:
        console.print(f"[red]Restore failed:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        store.close()
    console.print(f"Restored {n} events into {settings.store} and the data folder {settings.data_dir}.")
    if not settings.template_key_path.exists():
        console.print(f"[yellow]Put the template key back at {settings.template_key_path} before enrolling or "
                      "pushing galleries (it is never in a backup).[/yellow]")
    if broken:
        raise typer.Exit(1)


@app.command()
def retention(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what is past its period; delete nothing."),
    config: Path = typer.Option(None, help="Hub config file (TOML)."),
) -> None:
    """Delete what is past its retention period (events, quarantine, GPS fixes, audit log, templates of
    people who left); every run is audited. The running hub does this daily at retention.run_at (WIT)."""
    from rich.table import Table

    from hadir.wit import WIT
    from hub.service import Hub

    settings = _settings(config)
    hub = Hub(settings)
    try:
        report = hub.run_retention(dry_run=dry_run)
    finally:
        hub.store.close()
    p, c = settings.retention, report.cutoffs

    def wit(t: datetime) -> str:
        return t.astimezone(WIT).strftime("%Y-%m-%d %H:%M WIT")

    verb = "To delete" if dry_run else "Deleted"
    table = Table(title=f"Retention {'(dry run: nothing deleted)' if dry_run else ''}".strip())
    for col in ("What", "Period", "Past its period", verb):
        table.add_column(col)
    table.add_row("attendance events", f"{p.events_days} days", f"before {wit(c.events)}",
                  f"{report.events} ({len(report.devices)} devices)")
    table.add_row("quarantined messages", f"{p.quarantine_days} days", f"before {wit(c.quarantine)}",
                  str(report.quarantine))
    table.add_row("GPS fixes", f"{p.gps_history_days} days", f"before {wit(c.gps)}", str(report.gps_fixes))
    table.add_row("audit-log rows", f"{p.logs_days} days", f"before {wit(c.logs)}", str(report.logs))
    table.add_row("templates of people who left", f"{p.templates_after_leaving_days} days after the end date",
                  f"end date before {c.left_before}",
                  f"{sum(report.templates.values())} ({len(report.templates)} people)")
    console.print(table)
    if report.devices:
        chains = Table(title="Chain cuts (verification starts after these)")
        for col in ("Device", "Events", "Through seq", "Last deleted hash", "Kept for the chain"):
            chains.add_column(col)
        for d in report.devices:
            chains.add_row(d.device_id, str(d.events), str(d.through_seq), d.last_hash[:16] + "…",
                           str(d.kept_for_chain))
        console.print(chains)
    for device, n in report.kept_for_chain.items():
        console.print(f"{device}: {n} events past the period kept, because an earlier event of the same chain is "
                      "still within it (the device clock went back); they go when it does.")
    if not dry_run:
        console.print("Audited in the master-data audit log (entity retention_run).")
    if report.gallery_version:
        console.print(f"Gallery version {report.gallery_version}: a running hub sends it to devices on "
                      "POST /devices/galleries/push (its own daily run pushes at once).")


@app.command()
def device_epochs(
    device_id: str = typer.Argument(None, help="One device (default: every device with a problem)."),
    reviewed: int = typer.Option(None, help="Mark this epoch of DEVICE_ID as checked (the alert stops counting "
                                            "it; audits and the review list still show it)."),
    config: Path = CONFIG,
) -> None:
    """Outbox epochs the devices reported or were seen with: events lost on a device, unannounced epochs."""
    from datetime import timezone

    from hub.registry import DeviceRegistry

    settings = _settings(config)
    epochs = DeviceRegistry.in_dir(settings.data_dir).epochs
    if reviewed is not None:
        if not device_id or not epochs.mark_reviewed(device_id, reviewed, "cli", datetime.now(timezone.utc)):
            console.print(f"[red]No epoch {reviewed} known for {device_id!r}[/red] (see 'hadir-hub device-epochs').")
            raise typer.Exit(2)
        console.print(f"Epoch {reviewed} of {device_id} marked as checked.")
        return
    records = epochs.records(device_id) if device_id else epochs.problems()
    if not records:
        console.print("No outbox epochs " + (f"known for {device_id}." if device_id else "with a problem."))
    for r in records:
        seen = f"first seen {r.first_seen_at[:19]}" if r.first_seen_at else "not seen in events yet"
        said = f"reported {r.reported_at[:19]} ({r.reason})" if r.reported_at else "never announced"
        checked = f"; checked {r.reviewed_at[:19]} by {r.reviewed_by}" if r.reviewed_at else ""
        console.print(f"{r.device_id} epoch {r.epoch}: {seen}, {said}; {r.problem() or 'no problem'}{checked}",
                      highlight=False, markup=False)


@app.command()
def verify_chain(
    device_id: str,
    start: datetime = typer.Option(None, "--from", help="First capture time (ISO, with zone)."),
    end: datetime = typer.Option(None, "--to", help="End of the range (exclusive)."),
    config: Path = typer.Option(None, help="Hub config file (TOML)."),
) -> None:
    """For auditors: is this device's event chain intact over the range, or where does it first break?"""
    from hub.audit import verify_chain as verify
    from hub.registry import DeviceRegistry
    from hub.service import open_store

    settings = _settings(config)
    store = open_store(settings)
    report = verify(store, DeviceRegistry.in_dir(settings.data_dir), device_id, start, end)
    store.close()
    console.print(report.summary())
    if not report.intact:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()

"""The deployment drill (issue #15): README's "Deploying for real" and docs/operations.md, step by step, on
loopback.

The hub runs from a fresh venv with the hub extra only, every hub step through the command the docs name
(`hadir`, `hadir-hub` of that venv); Mosquitto starts from what `hadir broker setup` writes, inside Debian's
own main config; InfluxDB with authentication on. One terminal is provisioned as firmware_config/device/
README.md says and runs `hadir-edge run` (this checkout's venv: the device is another machine) on a
walk-past video of shipped demo faces. Employees come from a SIASN-like XLSX, their photos are enrolled,
and the recognition shows on the board. Then `hadir-hub backup`, `hadir-hub restore` into a fresh data
folder and a fresh InfluxDB, and the chain and the event are checked on the restored hub.

Only what the docs say differs from production: paths under a temporary folder instead of /etc and
/var/lib, ports picked free, and the broker's host name 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import ROOT, wait_for

from testkit import localservices as services
from testkit.walkpast import Scene, Visit, render

pytestmark = pytest.mark.timeout(1500)  # a cold pip cache alone can take minutes (see tests/test_installs.py)

DEVICE, OPD_CODE, OPD_NAME = "pi-dinkes-01", "DINKES", "Dinas Kesehatan"
PASSWORD = "drill-Rahasia-2026"
# (demo faces folder, NIP, name): who is in the SIASN sheet and enrolled; the first walks past the terminal.
STAFF = [("person01", "198703122010011001", "Ani Latuconsina"),
         ("person05", "199002052015032002", "Budi Pattimura"),
         ("person08", "199305172019031004", "Citra Wattimena")]
WALKER = STAFF[0]
EDGE_BIN = Path(sys.executable).parent  # this checkout's venv: the device's own install


def _run(args: list, *, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    # A new session has no terminal: a password prompt then reads stdin, as when an operator pipes it.
    out = subprocess.run([str(a) for a in args], input=stdin, capture_output=True, text=True, timeout=timeout,
                         start_new_session=True, env=_env())
    return out


def _env() -> dict[str, str]:
    # Nothing of the test runner's own settings leaks in: each command reads its config file, as in production.
    return {k: v for k, v in os.environ.items() if not k.startswith("HADIR_")} | {"COLUMNS": "200"}


def _ok(out: subprocess.CompletedProcess) -> str:
    text = out.stdout + out.stderr
    assert out.returncode == 0, f"{out.args} exited {out.returncode}:\n{text[-4000:]}"
    return " ".join(text.split())  # rich wraps long lines: compare on words


def _start(args: list, log: Path) -> subprocess.Popen:
    with open(log, "ab") as fh:
        return subprocess.Popen([str(a) for a in args], stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=_env())


def _stop(proc: subprocess.Popen) -> int | None:
    """SIGTERM, as systemd stops a unit; KILL after 30 s. The exit status."""
    return services.terminate(proc, 30)


def _configure(template: str, replacements: dict[str, str]) -> str:
    """The operator's edit of a shipped config: each value must be where the docs say it is."""
    for old, new in replacements.items():
        assert old in template, f"{old!r} is not in the shipped config any more"
        template = template.replace(old, new)
    return template


class Api:
    """The hub's HTTP API as an admin created with `hadir-hub add-user` uses it."""

    def __init__(self, port: int, proc: subprocess.Popen, log: Path):
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        up = wait_for(lambda: proc.poll() is not None or self._healthy(), 90)
        assert up and proc.poll() is None, f"the hub did not come up:\n{log.read_text()[-4000:]}"
        token = self.http.post("/auth/token", json={"username": "admin", "password": PASSWORD})
        assert token.status_code == 200, token.text
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def _healthy(self) -> bool:
        try:
            return self.http.get("/health").status_code == 200
        except httpx.HTTPError:
            return False

    def get(self, path: str, **kw) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, **kw) -> httpx.Response:
        return self.http.post(path, **kw)

    def board(self) -> dict[str, dict]:
        resp = self.get("/board/today")
        assert resp.status_code == 200, resp.text
        return {row["nip"]: row for row in resp.json()}


@pytest.fixture
def world() -> Iterator[Path]:
    # Not pytest's tmp_path: Mosquitto drops to its own user and must traverse the folders it reads.
    root = Path(tempfile.mkdtemp(prefix="hadir-drill-"))
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _siasn_sheet(path: Path) -> None:
    """A staff list laid out like a SIASN export, TPP base added by the payroll office; NIPs as text."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Data Pegawai"
    ws.append(["NIP", "Nama", "Unit Kerja", "Jabatan", "Golongan", "Status Pegawai", "Basis TPP", "TMT Pensiun"])
    for n, (_, nip, name) in enumerate(STAFF):
        ws.append([nip, name, OPD_NAME, "Analis Kesehatan", "III/b", "PNS", f"Rp {4_000_000 + n * 250_000:,}"
                   .replace(",", "."), None])
    for row in ws.iter_rows(min_row=2, max_col=1):
        row[0].number_format = "@"
    wb.save(path)


def test_documented_deployment_then_backup_and_restore_into_fresh_stores(world, hub_venv, pipeline, faces):
    if not (services.binary("mosquitto") and services.binary("influxd")):
        pytest.skip("SERVICE MISSING, test not run: the drill needs mosquitto and influxd")
    hadir, hub = hub_venv / "bin" / "hadir", hub_venv / "bin" / "hadir-hub"
    etc, var = world / "etc-hadir", world / "var-lib"
    etc.mkdir()
    influx = services.start_influxdb(world / "influxdb")
    procs: list[subprocess.Popen] = []
    servers = [influx]
    try:
        # --- README "Deploying for real", on the hub server -------------------------------------------------
        mqtt_port, hub_port, api_port = services.free_port(), services.free_port(), services.free_port()
        config = etc / "hub.toml"
        config.write_text(_configure((ROOT / "firmware_config" / "hub.example.toml").read_text(), {
            '"/var/lib/hadir-hub-keys/': f'"{var}/hadir-hub-keys/', '"/var/lib/hadir-hub"': f'"{var}/hadir-hub"',
            '"/etc/hadir/': f'"{etc}/', "api_port = 8080": f"api_port = {api_port}",
            "port = 8884": f"port = {hub_port}",
            'url = "http://127.0.0.1:8086"': f'url = "{influx.extra["url"]}"',
            'password = "change-me"': 'password = "influx-Rahasia-2026"'}))
        ca = etc / "ca"
        _ok(_run([hadir, "ca", "init", "--ca-dir", ca]))
        mosquitto_dir = world / "etc-mosquitto"
        _ok(_run([hadir, "broker", "setup", "--host", "127.0.0.1", "--ca-dir", ca, "--mosquitto-dir", mosquitto_dir,
                  "--hub-dir", etc, "--port", mqtt_port, "--hub-port", hub_port]))
        broker = services.start_debian_mosquitto(mosquitto_dir, mqtt_port, world)  # systemctl restart mosquitto
        servers.append(broker)
        _ok(_run([hub, "migrate", "--config", config]))
        _ok(_run([hub, "add-user", "admin", "--role", "admin", "--config", config], stdin=f"{PASSWORD}\n" * 2))
        _ok(_run([hub, "add-opd", OPD_CODE, OPD_NAME, "--config", config]))
        sheet = world / "pegawai.xlsx"
        _siasn_sheet(sheet)
        dry = _ok(_run([hub, "import-employees", sheet, "--dry-run", "--config", config]))
        assert "Dry run: nothing was written" in dry and dry.count(" create ") == len(STAFF), dry
        done = _ok(_run([hub, "import-employees", sheet, "--config", config]))
        assert f"{len(STAFF)} employees written" in done, done
        hub_log = world / "hub.log"
        procs.append(_start([hub, "run", "--config", config], hub_log))  # the hadir-hub.service ExecStart
        api = Api(api_port, procs[-1], hub_log)
        assert "influx-Rahasia-2026" not in hub_log.read_text()  # the InfluxDB password stays out of the log
        employees = {e["nip"]: e for e in api.get("/employees").json()["items"]}
        assert {nip: (e["name"], e["opd_code"], e["tpp_base"]) for nip, e in employees.items()} == {
            nip: (name, OPD_CODE, 4_000_000 + n * 250_000) for n, (_, nip, name) in enumerate(STAFF)}

        # --- Enrolment: a folder of <NIP>/<photos> (`hadir-hub enrol`), then the push it asks for ----------------
        photos = world / "foto"
        for folder, nip, _ in STAFF:
            (photos / nip).mkdir(parents=True)
            for photo in sorted((faces / folder).glob("*.jpg"))[:2]:
                shutil.copyfile(photo, photos / nip / photo.name)
        enrolled = _ok(_run([hub, "enrol", photos, "--config", config]))
        assert f"{2 * len(STAFF)} of {2 * len(STAFF)} photos enrolled" in enrolled, enrolled
        assert api.post("/devices/galleries/push").status_code == 200

        # --- The terminal: firmware_config/device/README.md step 3, registration as the bundle's hint says ------
        video = render(Scene(visits=[Visit(sorted((faces / WALKER[0]).glob("*.jpg"))[2:])]), world / "pintu.avi",
                       pipeline.detectors[0])
        bundle = world / "bundle"
        provisioned = _ok(_run([hadir, "device", "provision", DEVICE, "--opd", OPD_CODE, "--out", bundle,
                                "--ca-dir", ca, "--broker", f"127.0.0.1:{mqtt_port}",
                                "--hub-key", var / "hadir-hub" / "hub.pub", "--source", f"loop:{video}"]))
        hint = re.search(r"Register it at the hub: (hadir-hub register-device \S+ \S+ --box-key \S+ --opd \S+ "
                         r"--config \S+)",
                         provisioned)
        assert hint, provisioned
        _ok(_run([hub, *hint.group(1).replace("/etc/hadir/hub.toml", str(config)).split()[1:]]))
        # "copy bundle/* to /etc/hadir/": here the bundle stays where it is and edge.toml points at it.
        edge_config = bundle / "edge.toml"
        edge_config.write_text(_configure(edge_config.read_text(), {
            '"/etc/hadir/': f'"{bundle}/', '"/var/lib/hadir-edge"': f'"{world / "var-lib-hadir-edge"}"'}))
        edge_log = world / "edge.log"
        procs.append(_start([EDGE_BIN / "hadir-edge", "run", "--config", edge_config], edge_log))
        edge = procs[-1]

        # --- The recognition on the board -----------------------------------------------------------------
        nip = WALKER[1]
        seen = wait_for(lambda: edge.poll() is not None or api.board()[nip]["event_terakhir"] is not None, 180)
        assert seen and edge.poll() is None, (f"{nip} never on the board.\nedge:\n{edge_log.read_text()[-3000:]}"
                                              f"\nhub:\n{hub_log.read_text()[-3000:]}")
        event_key = api.board()[nip]["event_terakhir"]
        assert event_key.startswith(f"{DEVICE}:")
        assert "gallery v" in edge_log.read_text()  # the device said which gallery it got
        assert _stop(edge) == 0, edge_log.read_text()[-3000:]
        chain = api.get(f"/audit/chain/{DEVICE}").json()
        assert chain["intact"] and chain["events"] >= 1, chain

        # --- docs/operations.md: backup while the hub runs, then a fresh machine ------------------------------
        backup = world / "backup" / "hadir-drill"
        made = _ok(_run([hub, "backup", backup, "--ca-dir", ca, "--config", config]))
        assert f"{chain['events']} events" in made, made
        assert not any("templates.key" in p.name for p in backup.rglob("*")), "the template key is in the backup"
        assert _stop(procs[-2]) == 0, hub_log.read_text()[-3000:]

        fresh_influx = services.start_influxdb(world / "influxdb-fresh")
        servers.append(fresh_influx)
        fresh_var, fresh_port = world / "var-lib-fresh", services.free_port()
        restored = etc / "hub-restored.toml"
        restored.write_text(_configure(config.read_text(), {
            f'"{var}/': f'"{fresh_var}/', f"api_port = {api_port}": f"api_port = {fresh_port}",
            influx.extra["url"]: fresh_influx.extra["url"]}))
        (fresh_var / "hadir-hub-keys").mkdir(parents=True)  # "Put the template key back" (kept apart)
        shutil.copyfile(var / "hadir-hub-keys" / "templates.key", fresh_var / "hadir-hub-keys" / "templates.key")
        back = _ok(_run([hub, "restore", backup, "--ca-dir", world / "ca-restored", "--config", restored]))
        assert f"{DEVICE}: intact" in back and f"Restored {chain['events']} events into influx" in back, back
        assert (world / "ca-restored" / "ca.crt").read_bytes() == (ca / "ca.crt").read_bytes()
        # The restored hub keeps the key whose hub.pub the device bundles carry (field devices verify with it).
        assert (fresh_var / "hadir-hub" / "hub.pub").read_text() == (bundle / "hub.pub").read_text()
        verified = _ok(_run([hub, "verify-chain", DEVICE, "--config", restored]))
        assert f"{DEVICE}: intact" in verified, verified

        # The restored hub serves the same board and chain.
        fresh_log = world / "hub-restored.log"
        procs.append(_start([hub, "run", "--config", restored], fresh_log))
        api = Api(fresh_port, procs[-1], fresh_log)
        assert api.board()[nip]["event_terakhir"] == event_key
        assert api.get(f"/audit/chain/{DEVICE}").json() | {"summary": None} == chain | {"summary": None}
        assert _stop(procs[-1]) == 0, fresh_log.read_text()[-3000:]
    finally:
        for proc in procs:
            _stop(proc)
        for svc in servers:
            svc.stop()

"""`hadir`: administration, provisioning, payroll what-ifs and the demo."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="Hadir administration: demo, TPP what-ifs, provisioning.", no_args_is_help=True)
tpp_app = typer.Typer(help="TPP tools for the payroll office.", no_args_is_help=True)
app.add_typer(tpp_app, name="tpp")
ca_app = typer.Typer(help="The city's certificate authority for device and broker certificates.",
                     no_args_is_help=True)
app.add_typer(ca_app, name="ca")
device_app = typer.Typer(help="Provision and revoke devices.", no_args_is_help=True)
app.add_typer(device_app, name="device")
broker_app = typer.Typer(help="Set up the Mosquitto broker for Hadir.", no_args_is_help=True)
app.add_typer(broker_app, name="broker")
CA_DIR = typer.Option(Path("/etc/hadir/ca"), "--ca-dir", help="Folder of the city's CA (keep it offline).")
console = Console(width=None if Console().is_terminal else 150)


@app.command()
def demo(
    broker: str = typer.Option(None, help="Use this MQTT broker instead of the embedded one, "
                                          "e.g. mqtt://127.0.0.1:1883 (MQTT 5) or mqtt311://host:port."),
    influx: str = typer.Option(None, help="Store events in this InfluxDB (v1 HTTP API), "
                                          "e.g. http://127.0.0.1:8086, instead of the embedded SQLite store."),
    workdir: Path = typer.Option(None, help="Keep the demo's files here (default: a new temporary folder)."),
    json_out: bool = typer.Option(False, "--json", help="Also print a JSON summary as the last line."),
) -> None:
    """Run the whole flow for real: enrol, walk past a terminal, MQTT to the hub, attendance and TPP."""
    try:
        from hadir_ops.demo import run_demo
    except ModuleNotFoundError as exc:
        if exc.name != "testkit":
            raise
        console.print("[red]The demo needs the repository checkout[/red] (it renders walk-past clips with its "
                      "testkit/): run it as 'bash scripts/demo.sh' from a clone of Hadir.")
        raise typer.Exit(2) from None
    try:
        summary = run_demo(workdir, broker, influx, console)
    except (ConnectionError, OSError, RuntimeError) as exc:
        console.print(f"[red]Demo failed:[/red] {exc}")
        raise typer.Exit(1) from None
    if json_out:
        print(json.dumps(summary, default=str))
    if summary["correct"] != len(summary["events"]) or len(summary["events"]) != summary["visits"]:
        console.print("[red]Some decisions were wrong or missing.[/red]")
        raise typer.Exit(2)


@tpp_app.command("simulate")
def tpp_simulate(
    file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                help="YAML scenario: month, policy, employees, holidays, leave, "
                                     "duty_orders, punches (see docs/tpp.md)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
) -> None:
    """What-if TPP for a month: resolve every working day and compute each employee's TPP.
    Refusals and warnings go to stderr (stdout stays parseable with --json); a refusal exits with 2."""
    from hub.payroll.scenario_file import simulate_file
    from hub.tpp.resolve import describe
    from hub.tpp.simulate import ScenarioError, to_json

    errors = Console(stderr=True, width=console.width)
    try:
        sim = simulate_file(file)
    except (ScenarioError, OSError) as exc:
        problems = exc.problems if isinstance(exc, ScenarioError) else [str(exc)]
        errors.print(f"[red]Cannot simulate {file}:[/red]", highlight=False)
        for line in problems:
            errors.print(f"  {line}", highlight=False, markup=False)
        raise typer.Exit(2) from None
    for warning in sim.warnings:
        errors.print(f"[yellow]Warning:[/yellow] {warning}", highlight=False)
    if json_out:
        print(json.dumps(to_json(sim)))
        return
    for r in sim.results:
        console.rule(f"NIP {r.nip}")
        for d in r.days:
            console.print(f"{d.date:%a %d-%m} {d.code} ({describe(d)})", highlight=False, markup=False)
        for line in r.explanation():
            console.print(line, highlight=False, markup=False)


@ca_app.command("init")
def ca_init(ca_dir: Path = CA_DIR, name: str = typer.Option("Hadir CA Pemerintah Kota Ambon")) -> None:
    """Create the CA (key, self-signed certificate, empty CRL)."""
    from hadir_ops.provision import CertificateAuthority, ProvisionError

    try:
        ca = CertificateAuthority.init(ca_dir, name)
    except ProvisionError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"CA created: {ca.cert_path} (give this certificate to the broker and every device).")


@ca_app.command("issue")
def ca_issue(common_name: str = typer.Argument(..., help="CN: 'hadir-hub' for the hub, or the broker's name."),
             out: Path = typer.Option(..., help="Folder for <name>.crt and <name>.key."), ca_dir: Path = CA_DIR,
             server: bool = typer.Option(False, help="A server certificate (the broker) instead of a client one."),
             host: list[str] = typer.Option([], help="Server host names or IPs (repeat).")) -> None:
    """Issue a certificate for the broker (--server --host ...) or the hub's MQTT client (CN hadir-hub: from the
    hub's own CA, the only one the broker's hub listener trusts)."""
    from hadir_ops.broker_setup import HUB_CN, hub_ca_of
    from hadir_ops.provision import CertificateAuthority, ProvisionError

    try:
        ca = CertificateAuthority.open(ca_dir)
        if common_name == HUB_CN and not server:
            ca = hub_ca_of(ca)
        cert, key = ca.issue(common_name, out, server=server, hosts=tuple(host))
    except ProvisionError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"Issued {cert} and {key}.")


@broker_app.command("setup")
def broker_setup(
    host: list[str] = typer.Option(..., help="Host name or IP the devices connect to (repeat for several)."),
    ca_dir: Path = CA_DIR,
    mosquitto_dir: Path = typer.Option(Path("/etc/mosquitto"), help="Mosquitto's configuration folder."),
    hub_dir: Path = typer.Option(Path("/etc/hadir"), help="Where the hub's client certificate goes."),
    port: int = typer.Option(8883, help="The devices' TLS listener's port."),
    hub_port: int = typer.Option(None, help="The hub's TLS listener's port (loopback; default: --port + 1)."),
) -> None:
    """Write conf.d/hadir.conf, hadir.acl, the CA, CRL and broker key pair, and the hub's client certificate,
    with the file names the configs use and keys readable only by the services that need them."""
    from hadir_ops.broker_setup import lay_out
    from hadir_ops.provision import CertificateAuthority, ProvisionError

    try:
        files = lay_out(CertificateAuthority.open(ca_dir), tuple(host), mosquitto_dir=mosquitto_dir,
                        hub_dir=hub_dir, port=port, hub_port=hub_port)
    except (ProvisionError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"Broker files: {files.config}, {files.acl}, {files.certs}/ (hadir-ca.crt, hadir-ca.crl, "
                  f"broker.crt, broker.key). Hub client certificate: {files.hub_dir}/ (ca.crt, hadir-hub.crt, "
                  "hadir-hub.key). Restart Mosquitto: systemctl restart mosquitto")


def _hub_data_problem(folder: Path, need_master: bool) -> str | None:
    """Why `folder` is not a hub data folder provisioning can register into (None: it is)."""
    if not (folder / "hub_signing.key").is_file():
        return (f"{folder} is not an initialised hub data folder (no hub_signing.key): give the hub's data_dir, "
                "initialised by 'hadir-hub migrate --config FILE' or the hub's first start")
    if need_master and not (folder / "master.sqlite").is_file():
        return (f"no master data in {folder} (master.sqlite) to check the OPD against: provision with --hub-key "
                "and register with 'hadir-hub register-device ... --config FILE'")
    return None


@device_app.command("provision")
def device_provision(
    device_id: str = typer.Argument(..., help="e.g. pi-dinkes-01 (lower case, digits, dashes)."),
    out: Path = typer.Option(..., help="Folder for the device bundle (copy it to /etc/hadir on the device)."),
    ca_dir: Path = CA_DIR,
    broker: str = typer.Option("127.0.0.1:8883", help="host:port of the broker's TLS listener."),
    hub_data: Path = typer.Option(None, help="The hub's data folder: its public key goes into the bundle and "
                                             "the device is registered there now."),
    hub_key: Path = typer.Option(None, help="The hub's public key file (hub.pub in its data folder), when "
                                            "the hub's data folder is not reachable from here."),
    embedded_broker: bool = typer.Option(False, help="The hub runs the embedded broker: put a broker password "
                                                     "in the bundle (needs --hub-data) instead of using mTLS."),
    opd: str = typer.Option(None, help="OPD the device belongs to: it receives that OPD's gallery only."),
    all_opd: bool = typer.Option(False, "--all-opd", help="A device for every OPD (receives the whole city's "
                                                           "gallery): say so explicitly."),
    source: str = typer.Option("usb:0", help="Camera source for the device config."),
    field: bool = typer.Option(False, "--field", help="A field device: touch page, GPS from gpsd, GPS clock."),
    replace: bool = typer.Option(False, "--replace", help="The id is already provisioned: replace that device "
                                                          "(its certificate is revoked, the change recorded)."),
) -> None:
    """Take a device from nothing to ready: TLS certificate, signing and gallery keys, the hub's public key,
    config, hub registration. An id that is already provisioned is refused unless --replace."""
    if bool(opd) == all_opd:
        console.print("[red]Give the device's OPD with --opd CODE[/red] (it gets that OPD's faces only), or "
                      "--all-opd for a terminal every OPD's staff use (it gets the whole city's gallery).")
        raise typer.Exit(2)
    from hadir.private_file import write_private
    from hadir_ops.provision import CertificateAuthority, ProvisionError, provision_device
    from hub.registry import DeviceRegistry, RegistryError
    from hub.service import hub_public_key_path

    if hub_data is None and hub_key is None:
        console.print("[red]Give --hub-data or --hub-key:[/red] the device must know the hub's public key to "
                      "tell its acknowledgements and galleries from forged ones.")
        raise typer.Exit(2)
    if embedded_broker and hub_data is None:
        console.print("[red]--embedded-broker needs --hub-data[/red] (the broker password is registered there).")
        raise typer.Exit(2)
    master = None
    if hub_data is not None:
        problem = _hub_data_problem(hub_data, need_master=bool(opd))
        if problem:
            console.print(problem, style="red", highlight=False, markup=False)
            raise typer.Exit(2)
        from hub.config import HubSettings
        from hub.master import MasterData

        if (hub_data / "master.sqlite").is_file():
            master = MasterData(HubSettings(data_dir=hub_data).master_db)
        if opd and (problem := master.opd_problem(opd)):
            console.print(f"Not provisioned: {problem}", style="red", highlight=False, markup=False)
            raise typer.Exit(2)
        known = DeviceRegistry.in_dir(hub_data).get(device_id)
        if known is not None and not known.revoked and not replace:
            console.print(f"Not provisioned: device {device_id!r} is already registered at the hub; provisioning it "
                          "again would replace its keys. Run again with --replace to replace it (the old "
                          "certificate is revoked and the replacement recorded).", style="red", highlight=False,
                          markup=False)
            raise typer.Exit(2)
    key_file = hub_key or hub_public_key_path(hub_data)
    host, _, port = broker.rpartition(":")
    try:
        hub_public = key_file.read_text().strip()
        bundle = provision_device(CertificateAuthority.open(ca_dir), device_id, out, broker_host=host or broker,
                                  broker_port=int(port or 8883), source=source, hub_public_key=hub_public,
                                  field=field, replace=replace)
    except (ProvisionError, ValueError, OSError) as exc:
        console.print(f"Not provisioned: {exc}", style="red", highlight=False, markup=False)
        raise typer.Exit(2) from None
    console.print(f"Device bundle written to {bundle.folder}.")
    if replace:
        console.print(f"Replaced {device_id}: {bundle.replaced} old certificate(s) revoked; copy {ca_dir / 'ca.crl'} "
                      "to the broker and reload it (systemctl reload mosquitto). The old signing key is no longer "
                      "accepted once the new one is registered.", highlight=False)
        if master is not None:
            master.log("cli", "replace", "device", device_id, {"revoked_certificates": bundle.replaced})
    if hub_data:
        registry = DeviceRegistry.in_dir(hub_data)
        try:
            registry.register(device_id, bundle.public_key, box_key_b64=bundle.box_public_key, opd=opd)
        except RegistryError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        console.print(f"Registered {device_id} at the hub ({hub_data}).")
        if embedded_broker:
            secret = registry.issue_broker_secret(device_id)
            toml = bundle.folder / "edge.toml"
            text = toml.read_text().replace("protocol = 5\n", f'protocol = 311\nusername = "{device_id}"\n'
                                                              f'password = "{secret}"\n')
            for line in ('ca_file = "/etc/hadir/ca.crt"\n', 'cert_file = "/etc/hadir/device.crt"\n',
                         'key_file = "/etc/hadir/device.key"\n'):
                text = text.replace(line, "")
            write_private(toml, text)  # holds the broker password: 0600 even if the file was there before
            console.print("Broker password for the embedded broker written to edge.toml (keep it secret).")
    else:
        opd_arg = f" --opd {opd}" if opd else ""
        replace_arg = " --replace" if replace else ""
        console.print(f"Register it at the hub: hadir-hub register-device {device_id} {bundle.public_key} "
                      f"--box-key {bundle.box_public_key}{opd_arg}{replace_arg} --config /etc/hadir/hub.toml",
                      highlight=False, markup=False)


@device_app.command("revoke")
def device_revoke(device_id: str, ca_dir: Path = CA_DIR,
                  hub_data: Path = typer.Option(None, help="The hub's data folder: refuse its events from now.")
                  ) -> None:
    """Revoke a lost or stolen device: its certificate goes on the CRL and the hub refuses its events."""
    from datetime import datetime, timezone

    from hadir_ops.provision import CertificateAuthority, ProvisionError
    from hub.registry import DeviceRegistry

    try:
        n = CertificateAuthority.open(ca_dir).revoke(device_id)
    except ProvisionError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if hub_data:
        DeviceRegistry.in_dir(hub_data).revoke(device_id, datetime.now(timezone.utc))
    console.print(f"Revoked {n} certificate(s) of {device_id}; copy {ca_dir / 'ca.crl'} to the broker and "
                  "send Mosquitto SIGHUP (systemctl reload mosquitto) so it rereads the CRL without a restart "
                  "(docs/operations.md).")


if __name__ == "__main__":
    app()

"""Lay out Mosquitto's files for Hadir, with the names and owners the config expects, in one step.

Debian's /etc/mosquitto/mosquitto.conf already sets `persistence` and `persistence_location` and includes
conf.d/; Hadir's conf.d file must not set them again (Mosquitto refuses a duplicate). The broker runs as
user `mosquitto`: its private key is made readable by that group (0640), never by everyone. The hub's
client certificate goes beside the hub config with the names `firmware_config/hub.example.toml` uses.

The hub's certificate comes from a CA of its own (`<ca-dir>/hub-ca`), and the hub's loopback listener
trusts only that CA: a device certificate (city CA) cannot connect there at all, so it can neither take
over a hub worker's client id nor act as the hub. The devices' listener trusts only the city CA, forces
the client id to the certificate's CN, and the ACL gives a device CN its own topics only.
"""

from __future__ import annotations

import grp
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from hadir_ops.provision import CA_NAME, CertificateAuthority

HUB_CN = "hadir-hub"
HUB_CA_FOLDER = "hub-ca"  # inside the city CA's folder: issues the hub's client certificate only
ACL = """# Each device may only write its own uplink subtree and read its own downlink subtree.
pattern write absensi/v1/%u/up/#
pattern read absensi/v1/%u/down/#

# The hub reads every uplink and writes every downlink; hadir/hub/<instance> is its presence (one running
# hub per instance name).
user hadir-hub
topic read absensi/v1/+/up/#
topic read $share/hadir/absensi/v1/+/up/#
topic write absensi/v1/+/down/#
topic readwrite hadir/hub/#
"""


def render_config(mosquitto_dir: Path = Path("/etc/mosquitto"), port: int = 8883,
                  hub_port: int | None = None) -> str:
    """Hadir's conf.d file for a broker whose files live under `mosquitto_dir`: devices on `port`, the hub on
    `hub_port` (default `port` + 1), bound to loopback."""
    certs = mosquitto_dir / "certs"
    hub_port = port + 1 if hub_port is None else hub_port

    def tls(ca: str) -> str:
        return f"""cafile {certs}/{ca}.crt
certfile {certs}/broker.crt
keyfile {certs}/broker.key
crlfile {certs}/{ca}.crl
require_certificate true
use_identity_as_username true
"""
    return f"""# Mosquitto 2.x for Hadir: {mosquitto_dir}/conf.d/hadir.conf, written by 'hadir broker setup'.
# Debian's mosquitto.conf already sets persistence and persistence_location (a second one is an error).
# No '# comment' after a value on the same line: Mosquitto would read it as part of the value.

per_listener_settings false
# Save the persisted queue on every change, so a crash loses little (the device outbox covers the rest).
autosave_on_changes true
autosave_interval 10
# The default (1000 per client) silently drops messages beyond it; a hub down for a day needs more.
max_queued_messages 1000000
max_inflight_messages 100
acl_file {mosquitto_dir}/hadir.acl

# Devices: mutual TLS, the certificate CN becomes the MQTT username *and* the client id, so one device's
# certificate can never take over another device's session by connecting with its client id.
# Revocation: write the new CRL here and send SIGHUP (systemctl reload mosquitto): the CRL is reread and
# the revoked certificate is refused from its next connection, no restart (docs/operations.md).
listener {port}
{tls("hadir-ca")}use_username_as_clientid true

# The hub (CN hadir-hub) on its own listener: its workers need distinct client ids (hub-<instance>-ingest-N)
# under one certificate, so the client id cannot be forced here. Instead only the hub's own CA is trusted:
# a device certificate is refused at the TLS handshake (it cannot take over a hub worker's id or act as the
# hub), and the hub's certificate is refused on the devices' listener. Bound to loopback as well.
listener {hub_port} 127.0.0.1
{tls("hadir-hub-ca")}"""


@dataclass(frozen=True)
class BrokerFiles:
    config: Path
    acl: Path
    certs: Path
    hub_dir: Path | None


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _share_with_group(path: Path, group: str) -> None:
    """root:group 0640 when we may (running as root and the group exists); else leave the owner as is."""
    os.chmod(path, 0o640)
    if os.geteuid() == 0 and _group_exists(group):
        shutil.chown(path, user="root", group=group)


def hub_ca_of(ca: CertificateAuthority) -> CertificateAuthority:
    """The CA that issues the hub's client certificate only (made on the first setup, kept with the city CA)."""
    folder = ca.folder / HUB_CA_FOLDER
    if (folder / "ca.key").is_file():
        return CertificateAuthority.open(folder)
    return CertificateAuthority.init(folder, f"{CA_NAME} (hub only)")


def lay_out(ca: CertificateAuthority, hosts: tuple[str, ...], *, mosquitto_dir: Path = Path("/etc/mosquitto"),
            hub_dir: Path | None = Path("/etc/hadir"), port: int = 8883, hub_port: int | None = None,
            broker_group: str = "mosquitto",
            hub_group: str = "hadir") -> BrokerFiles:
    """Write conf.d/hadir.conf, hadir.acl and certs/ (CA, CRL, broker key pair) under `mosquitto_dir`, and
    the hub's client certificate (ca.crt, hadir-hub.crt, hadir-hub.key) in `hub_dir`.

    ValueError when `hosts` is empty: the broker certificate must name the host devices connect to.
    """
    if not hosts:
        raise ValueError("give the broker's host name(s) or IP address(es) the devices connect to (--host)")
    certs = mosquitto_dir / "certs"
    (mosquitto_dir / "conf.d").mkdir(parents=True, exist_ok=True)
    certs.mkdir(parents=True, exist_ok=True)
    os.chmod(certs, 0o755)
    broker_cert, broker_key = ca.issue("broker", certs, server=True, hosts=hosts)
    shutil.copyfile(ca.cert_path, certs / "hadir-ca.crt")
    shutil.copyfile(ca.crl_path, certs / "hadir-ca.crl")
    for public in (broker_cert, certs / "hadir-ca.crt", certs / "hadir-ca.crl"):
        os.chmod(public, 0o644)
    _share_with_group(broker_key, broker_group)
    config = mosquitto_dir / "conf.d" / "hadir.conf"
    config.write_text(render_config(mosquitto_dir, port, hub_port))
    acl = mosquitto_dir / "hadir.acl"
    acl.write_text(ACL)
    for path in (config, acl):
        os.chmod(path, 0o644)
    hub_ca = hub_ca_of(ca)
    shutil.copyfile(hub_ca.cert_path, certs / "hadir-hub-ca.crt")
    shutil.copyfile(hub_ca.crl_path, certs / "hadir-hub-ca.crl")
    for public in (certs / "hadir-hub-ca.crt", certs / "hadir-hub-ca.crl"):
        os.chmod(public, 0o644)
    if hub_dir is not None:
        hub_dir.mkdir(parents=True, exist_ok=True)
        cert, key = hub_ca.issue(HUB_CN, hub_dir)
        shutil.copyfile(ca.cert_path, hub_dir / "ca.crt")  # the hub checks the broker's certificate with it
        _share_with_group(key, hub_group)
    return BrokerFiles(config, acl, certs, hub_dir)

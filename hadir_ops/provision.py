"""The city's own certificate authority and device provisioning.

Each device gets an X.509 client certificate (CN = device id, EC P-256) from the city's CA for mutual TLS
with the broker, a separate Ed25519 key that signs its events, an X25519 key its galleries are sealed for,
and the hub's public key (acknowledgements and galleries must be signed with it). Revocation writes a
CRL that Mosquitto reads (`crlfile`, reloaded on SIGHUP, see docs/operations.md), and marks the device
revoked at the hub so its events are refused.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hadir.contract import _DEVICE_ID_RE, DEVICE_ID_PATTERN, reserved_device_id
from hadir.private_file import write_private
from hadir.sealed import box_public_b64, new_box_key, save_box_key
from hadir.signing import new_key, public_key_b64, save_private_key

CA_NAME = "Hadir CA Pemerintah Kota Ambon"


class ProvisionError(RuntimeError):
    pass


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    write_private(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@dataclass
class CertificateAuthority:
    folder: Path

    @property
    def key_path(self) -> Path:
        return self.folder / "ca.key"

    @property
    def cert_path(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def crl_path(self) -> Path:
        return self.folder / "ca.crl"

    @property
    def index_path(self) -> Path:
        return self.folder / "index.json"

    # -- lifecycle -------------------------------------------------------------------------------------
    @classmethod
    def init(cls, folder: Path, name: str = CA_NAME, days: int = 3650) -> CertificateAuthority:
        ca = cls(Path(folder))
        if ca.key_path.exists():
            raise ProvisionError(f"a CA already exists in {folder}; refusing to overwrite it")
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(_now() - dt.timedelta(minutes=5)).not_valid_after(_now() + dt.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        _write_key(key, ca.key_path)
        _write_cert(cert, ca.cert_path)
        ca.index_path.write_text(json.dumps({"issued": {}, "revoked": {}}, indent=1))
        ca.write_crl()
        return ca

    @classmethod
    def open(cls, folder: Path) -> CertificateAuthority:
        ca = cls(Path(folder))
        if not ca.key_path.is_file():
            raise ProvisionError(f"no CA in {folder}: create one with 'hadir ca init --ca-dir {folder}'")
        return ca

    def _key(self) -> ec.EllipticCurvePrivateKey:
        return serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)  # type: ignore[return-value]

    def _cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_path.read_bytes())

    def _index(self) -> dict:
        return json.loads(self.index_path.read_text())

    def issue(self, common_name: str, out_dir: Path, *, server: bool = False, hosts: tuple[str, ...] = (),
              days: int = 825, stem: str | None = None) -> tuple[Path, Path]:
        """Issue a key + certificate; returns (cert path, key path)."""
        key = ec.generate_private_key(ec.SECP256R1())
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
                   .issuer_name(self._cert().subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(_now() - dt.timedelta(minutes=5))
                   .not_valid_after(_now() + dt.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if hosts:
            names: list[x509.GeneralName] = []
            for h in hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(h)))
                except ValueError:
                    names.append(x509.DNSName(h))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key(), hashes.SHA256())
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = stem or common_name
        cert_path, key_path = out_dir / f"{stem}.crt", out_dir / f"{stem}.key"
        _write_key(key, key_path)
        _write_cert(cert, cert_path)
        index = self._index()
        index["issued"].setdefault(common_name, []).append(format(cert.serial_number, "x"))
        self.index_path.write_text(json.dumps(index, indent=1))
        return cert_path, key_path

    def issued(self, common_name: str) -> list[str]:
        """Serial numbers (hex) of the certificates issued to `common_name` that are not revoked."""
        index = self._index()
        return [s for s in index["issued"].get(common_name, []) if s not in index["revoked"]]

    def record_replacement(self, common_name: str, revoked: int) -> None:
        index = self._index()
        index.setdefault("replaced", {}).setdefault(common_name, []).append(
            {"at": _now().isoformat(), "revoked_certificates": revoked})
        self.index_path.write_text(json.dumps(index, indent=1))

    def revoke(self, common_name: str) -> int:
        """Revoke every certificate issued to `common_name`; returns how many."""
        index = self._index()
        serials = index["issued"].get(common_name, [])
        if not serials:
            raise ProvisionError(f"no certificate was issued to {common_name!r}")
        for serial in serials:
            index["revoked"][serial] = _now().isoformat()
        self.index_path.write_text(json.dumps(index, indent=1))
        self.write_crl()
        return len(serials)

    def write_crl(self) -> None:
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self._cert().subject)
                   .last_update(_now() - dt.timedelta(minutes=5)).next_update(_now() + dt.timedelta(days=30)))
        for serial, when in self._index()["revoked"].items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(int(serial, 16))
                .revocation_date(dt.datetime.fromisoformat(when)).build())
        crl = builder.sign(self._key(), hashes.SHA256())
        self.crl_path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))


@dataclass(frozen=True)
class DeviceBundle:
    folder: Path
    device_id: str
    public_key: str  # Ed25519, base64: what the hub registers
    box_public_key: str = ""  # X25519, base64: what the hub seals the device's galleries for
    replaced: int = 0  # certificates of an earlier device with this id revoked by --replace


def provision_device(ca: CertificateAuthority, device_id: str, out_dir: Path, *, broker_host: str = "127.0.0.1",
                     broker_port: int = 8883, source: str = "usb:0", gps: str = "none",
                     hub_public_key: str | None = None, field: bool = False, replace: bool = False
                     ) -> DeviceBundle:
    """Everything a device needs in one folder: TLS cert and key, CA cert, signing key, gallery key, the
    hub's public key (`hub_public_key`, base64: what the device verifies acks, galleries and assignments
    with; it refuses to run without it) and edge.toml. `field`: a hand-held field device (touch page, GPS
    from gpsd, clock from GPS)."""
    if not _DEVICE_ID_RE.match(device_id):
        raise ProvisionError(f"device id {device_id!r} must match {DEVICE_ID_PATTERN}")
    if reserved_device_id(device_id):
        raise ProvisionError(f"{device_id!r} is reserved for the hub (names starting with 'hadir' or 'hub-'): "
                             "a device certificate with it would carry the hub's broker rights")
    existing = ca.issued(device_id)
    if existing and not replace:
        raise ProvisionError(f"device {device_id!r} is already provisioned ({len(existing)} valid certificate(s)): "
                             "provisioning it again would replace its keys and the device now using them would stop "
                             "working. To replace it (e.g. new hardware), run again with --replace: the old "
                             "certificate is revoked and the replacement recorded.")
    replaced = 0
    if existing:
        replaced = ca.revoke(device_id)  # before the new one is issued: revoke() takes every serial of the name
        ca.record_replacement(device_id, replaced)
    out_dir.mkdir(parents=True, exist_ok=True)
    cert, tls_key = ca.issue(device_id, out_dir, stem="device")
    (out_dir / "ca.crt").write_bytes(ca.cert_path.read_bytes())
    signing = new_key()
    save_private_key(signing, out_dir / "signing.key")
    box = new_box_key()
    save_box_key(box, out_dir / "box.key")
    if hub_public_key:
        (out_dir / "hub.pub").write_text(hub_public_key.strip() + "\n")
    gps = "gpsd" if field and gps == "none" else gps
    field_lines = 'mode = "field"\nkind = "field_checkin"\n' if field else ""
    (out_dir / "edge.toml").write_text(f"""# Hadir edge device {device_id}: copy this folder to /etc/hadir/.
device_id = "{device_id}"
{field_lines}source = "{source}"
data_dir = "/var/lib/hadir-edge"
key_file = "/etc/hadir/signing.key"
box_key_file = "/etc/hadir/box.key"
hub_key_file = "/etc/hadir/hub.pub"
clock_source = "{'gps' if field else 'ntp'}"

[mqtt]
host = "{broker_host}"
port = {broker_port}
protocol = 5
ca_file = "/etc/hadir/ca.crt"
cert_file = "/etc/hadir/device.crt"
key_file = "/etc/hadir/device.key"

[gps]
mode = "{gps}"
""")
    return DeviceBundle(out_dir, device_id, public_key_b64(signing), box_public_b64(box), replaced)

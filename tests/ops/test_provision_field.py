"""A field device's bundle: the hub's public key beside the device's own keys, and a config that starts
the field mode with GPS from gpsd and the clock from GPS."""

from __future__ import annotations

from edge.config import EdgeSettings
from hadir.settings import load_settings
from hadir.signing import load_public_key, new_key, public_key_b64
from hadir_ops.provision import CertificateAuthority, provision_device


def test_field_bundle_carries_the_hub_key_and_a_field_config(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    hub_key = new_key()
    bundle = provision_device(ca, "pi-srm-lap-01", tmp_path / "bundle", hub_public_key=public_key_b64(hub_key),
                              field=True)
    assert public_key_b64(load_public_key(bundle.folder / "hub.pub")) == public_key_b64(hub_key)
    settings = load_settings(EdgeSettings, bundle.folder / "edge.toml")
    assert settings.mode == "field" and settings.kind.value == "field_checkin"
    assert settings.gps.mode == "gpsd" and settings.clock_source.value == "gps"
    assert str(settings.hub_key_path) == "/etc/hadir/hub.pub"
    terminal = provision_device(ca, "pi-dinkes-01", tmp_path / "terminal")
    assert not (terminal.folder / "hub.pub").exists()
    assert load_settings(EdgeSettings, terminal.folder / "edge.toml").mode == "walk_past"

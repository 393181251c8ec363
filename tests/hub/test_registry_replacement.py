"""A device replaced under the same id (new signing key): the old hardware keeps nothing that works."""

from __future__ import annotations

from hadir.sealed import box_public_b64, new_box_key
from hadir.signing import new_key, public_key_b64
from hub.registry import DeviceRegistry


def test_a_replacement_drops_the_old_broker_password_and_gallery_key(tmp_path):
    # Found by a fresh attacker: after `register-device --replace`, the old bundle's broker password still
    # connected to the embedded broker and galleries were still sealed for the old hardware's key.
    registry = DeviceRegistry.in_dir(tmp_path)
    old_key, old_box = public_key_b64(new_key()), box_public_b64(new_box_key())
    registry.register("pi-dinkes-01", old_key, box_key_b64=old_box, opd="DINKES")
    old_secret = registry.issue_broker_secret("pi-dinkes-01")
    registry.register("pi-dinkes-01", old_key, opd="DINKES")  # the same device again: nothing lost
    assert registry.broker_secret_ok("pi-dinkes-01", old_secret) and registry.box_key("pi-dinkes-01") is not None

    registry.register("pi-dinkes-01", public_key_b64(new_key()), opd="DINKES")  # new hardware, no gallery key yet
    assert not registry.broker_secret_ok("pi-dinkes-01", old_secret)
    assert registry.box_key("pi-dinkes-01") is None
    new_box = box_public_b64(new_box_key())
    registry.register("pi-dinkes-01", registry.get("pi-dinkes-01").public_key, box_key_b64=new_box, opd="DINKES")
    assert registry.get("pi-dinkes-01").box_key == new_box

"""Ed25519 keys: the device signs each event's canonical body, the hub verifies it; the hub signs what it
sends down (acknowledgements, galleries, assignments), the device verifies it with the hub's public key from
its provisioning bundle."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hadir.contract import Ack, Assignments, AttendanceEvent, GalleryUpdate, OutboxReport
from hadir.private_file import write_private


def new_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def save_private_key(key: Ed25519PrivateKey, path: Path) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    write_private(path, pem)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def sign_event(event: AttendanceEvent, key: Ed25519PrivateKey) -> AttendanceEvent:
    sig = base64.b64encode(key.sign(event.canonical_body())).decode()
    return event.model_copy(update={"sig": sig})


try:  # libsodium through PyNaCl verifies Ed25519 faster than OpenSSL (docs/performance.md); optional
    from nacl.bindings import crypto_sign_open as _sodium_open
    from nacl.exceptions import CryptoError as _SodiumError
except ImportError:  # pragma: no cover - devices need not install it
    _sodium_open = None


def verify_event(event: AttendanceEvent, public_key: Ed25519PublicKey) -> bool:
    try:
        sig = base64.b64decode(event.sig, validate=True)
        if _sodium_open is not None:
            if len(sig) != 64:
                return False
            _sodium_open(sig + event.canonical_body(), public_key.public_bytes_raw())
        else:
            public_key.verify(sig, event.canonical_body())
    except (InvalidSignature, ValueError, TypeError):
        return False
    except Exception as exc:  # libsodium's BadSignatureError
        if _sodium_open is not None and isinstance(exc, _SodiumError):
            return False
        raise
    return True


# ---------------------------------------------------------------------------------- hub-signed messages
# Acknowledgements, galleries and assignments are signed by the hub's own Ed25519 key; the device holds the hub's public
# key from its provisioning bundle and ignores anything that does not verify (a forged ack would make it
# delete events the hub never stored).

# The device's outbox reports (OutboxReport) are signed the same way, with the device key.
_HubMessage = TypeVar("_HubMessage", Ack, GalleryUpdate, Assignments, OutboxReport)


def sign_message(message: _HubMessage, key: Ed25519PrivateKey) -> _HubMessage:
    sig = base64.b64encode(key.sign(message.canonical_body())).decode()
    return message.model_copy(update={"sig": sig})


def verify_message(message: Ack | GalleryUpdate | Assignments | OutboxReport, public_key: Ed25519PublicKey) -> bool:
    try:
        public_key.verify(base64.b64decode(message.sig, validate=True), message.canonical_body())
    except (InvalidSignature, ValueError):
        return False
    return True


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The hub's signing key: made on first start (mode 600), the same ever after."""
    if not path.exists():
        save_private_key(new_key(), path)
    return load_private_key(path)


def save_public_key(key: Ed25519PrivateKey | Ed25519PublicKey, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(public_key_b64(key) + "\n")


def load_public_key(path: Path) -> Ed25519PublicKey:
    return public_key_from_b64(path.read_text().strip())

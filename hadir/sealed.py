"""Encryption of a payload for one device: X25519 (ephemeral) + HKDF-SHA256 + AES-256-GCM.

Galleries hold templates and NIPs (personal data); each is sealed for the one device it is meant for,
so neither the broker, its disk nor another device can read it. The sender is authenticated separately
(the hub signs the whole message), the context (device, version, model) is bound as associated data.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hadir.private_file import write_private

_INFO = b"hadir gallery v1"


def new_box_key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def box_public_b64(key: X25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def box_public_from_b64(text: str) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def save_box_key(key: X25519PrivateKey, path: Path) -> None:
    write_private(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))


def load_box_key(path: Path) -> X25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, X25519PrivateKey):
        raise ValueError(f"{path} is not an X25519 private key")
    return key


def _aes_key(shared: bytes, epk: bytes, recipient: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=epk + recipient, info=_INFO).derive(shared)


def seal(plaintext: bytes, recipient: X25519PublicKey, aad: bytes) -> tuple[str, str, str]:
    """(ephemeral public key, nonce, ciphertext), each base64."""
    eph = X25519PrivateKey.generate()
    epk = eph.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    rpk = recipient.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    nonce = os.urandom(12)
    ct = AESGCM(_aes_key(eph.exchange(recipient), epk, rpk)).encrypt(nonce, plaintext, aad)
    return tuple(base64.b64encode(x).decode() for x in (epk, nonce, ct))  # type: ignore[return-value]


def open_sealed(epk_b64: str, nonce_b64: str, ct_b64: str, key: X25519PrivateKey, aad: bytes) -> bytes:
    """Decrypt; raises ValueError if it was not sealed for this key or was altered."""
    from cryptography.exceptions import InvalidTag

    try:
        epk = base64.b64decode(epk_b64, validate=True)
        nonce = base64.b64decode(nonce_b64, validate=True)
        ct = base64.b64decode(ct_b64, validate=True)
        rpk = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        shared = key.exchange(X25519PublicKey.from_public_bytes(epk))
        return AESGCM(_aes_key(shared, epk, rpk)).decrypt(nonce, ct, aad)
    except (InvalidTag, ValueError) as exc:
        raise ValueError(f"cannot open: {type(exc).__name__}") from None


def gallery_aad(device_id: str, version: int, model_id: str, dim: int, count: int) -> bytes:
    """What a sealed gallery is bound to: it cannot be replayed for another device, version or model."""
    return f"{device_id}|{version}|{model_id}|{dim}|{count}".encode()


def seal_gallery(device_id: str, version: int, model_id: str, ids: list[str], templates: bytes, dim: int,
                 recipient: X25519PublicKey):  # noqa: ANN201 - GalleryUpdate (import kept local: no cycle)
    """An unsigned GalleryUpdate whose NIPs and templates only `recipient` can read; the hub signs it."""
    import json

    from hadir.contract import GalleryUpdate

    plain = json.dumps({"ids": ids, "templates_b64": base64.b64encode(templates).decode()}).encode()
    aad = gallery_aad(device_id, version, model_id, dim, len(ids))
    epk, nonce, ct = seal(plain, recipient, aad)
    return GalleryUpdate(device_id=device_id, version=version, model_id=model_id, dim=dim, count=len(ids),
                         epk_b64=epk, nonce_b64=nonce, ciphertext_b64=ct)

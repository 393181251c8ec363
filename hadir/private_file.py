"""Writing a secret to a file that only its owner can read, whether or not the file existed before."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, data: bytes | str) -> None:
    """Write `data` to `path` with mode 0600. `Path.touch(mode=)` / `write_text` keep an existing file's mode
    (e.g. 0644 from an earlier copy), so the mode is set on the open file before the secret goes in."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(data.encode() if isinstance(data, str) else data)
    finally:
        if fd != -1:
            os.close(fd)

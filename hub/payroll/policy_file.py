"""Reading a TPP policy file (TOML) into the pure `hub.tpp.policy.Policy`."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

from hub.tpp.policy import Policy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (Jetson)
    import tomli as tomllib

DEFAULT_POLICY = Path(__file__).with_name("default_policy.toml")


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """TOML text -> Policy. Raises ValueError naming `source` and what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML: {exc}") from None
    try:
        return Policy.model_validate(data)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None


@lru_cache(maxsize=8)
def load_policy(path: Path | str | None = None) -> Policy:
    """The policy in the file at `path`; `None` or 'default' gives the shipped default policy.
    Raises FileNotFoundError when there is no such file, ValueError when it is not a valid policy."""
    p = DEFAULT_POLICY if path in (None, "default") else Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"policy file {p} not found")
    return parse_policy(p.read_text(), str(p))

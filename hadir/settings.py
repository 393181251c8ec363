"""Settings come from a TOML file, overridden by environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource

S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], path: Path | None = None, **overrides: object) -> S:
    """Priority: explicit overrides > environment (HADIR_EDGE_* / HADIR_HUB_*) > the TOML file > defaults."""
    if path is not None and not Path(path).is_file():
        raise FileNotFoundError(f"config file {path} not found")

    class _FromFile(cls):  # type: ignore[valid-type, misc]
        @classmethod
        def settings_customise_sources(cls_, settings_cls: type[BaseSettings],  # noqa: N805
                                       init_settings: PydanticBaseSettingsSource,
                                       env_settings: PydanticBaseSettingsSource,
                                       dotenv_settings: PydanticBaseSettingsSource,
                                       file_secret_settings: PydanticBaseSettingsSource,
                                       ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources = [init_settings, env_settings]
            if path is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            return tuple(sources)

    return cls.model_validate(_FromFile(**overrides).model_dump())

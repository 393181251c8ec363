"""The enrolment folder convention shared by device and hub: one sub-folder per employee (NIP), photos inside."""

from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


def photos_by_person(folder: Path) -> dict[str, list[Path]]:
    """Map each sub-folder name (the NIP) to its image files, both sorted by name.

    Raises FileNotFoundError when `folder` is not a directory; sub-folders without images are left out.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"enrolment folder {folder} does not exist")
    out = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        photos = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if photos:
            out[sub.name] = photos
    return out

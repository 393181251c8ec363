"""Photos for enrolment, read defensively: every file of a folder or ZIP is either a photo to enrol or a
refusal with its reason, and nothing is decoded before its size is known to be reasonable.

- An image's pixel count is read from its header (Pillow opens lazily) and refused above MAX_PIXELS
  before any pixel is decoded: a 47 KB PNG can declare 20000x20000 pixels.
- A ZIP member may expand to at most MAX_PHOTO_BYTES, and is read with that bound whatever its header says.
- ZIP photos are matched to `nip.csv` by their full path; a path listed twice, or a member twice in the
  ZIP, is refused rather than guessed.
- JPEG, PNG, WebP, BMP, TIFF and, where pillow-heif is installed, HEIC/HEIF are read; EXIF rotation applied.
"""

from __future__ import annotations

import csv
import io
import posixpath
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 50_000_000  # a 48-50 MP phone photo at full resolution; larger ones: export smaller
MAX_PHOTO_BYTES = 25_000_000
MAX_ZIP_MEMBERS = 10_000
MAX_ZIP_TOTAL_BYTES = 4_000_000_000
DECODE_SIDE = 8192  # JPEGs larger than this are decoded at a reduced scale (the pipeline works at 4096)
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own guard, for any other caller in the hub process

try:  # HEIC/HEIF (iPhone photos): a wheel on x86_64 and aarch64
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIC = True
except ImportError:  # pragma: no cover - depends on the platform
    HEIC = False


class PhotoRefused(ValueError):
    """Why a file is not enrolled (English; shown in the enrolment report)."""


@dataclass(frozen=True)
class PhotoItem:
    """One file of the input: the NIP it is for ("?" when unknown), its path in the input, and either a
    reader of its bytes or the reason it is refused."""

    nip: str
    name: str
    read: Callable[[], bytes] | None = None
    refused: str | None = None


def _too_big(size: int) -> str:
    return f"file of {size / 1e6:.0f} MB is over the limit of {MAX_PHOTO_BYTES // 1_000_000} MB"


def _is_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1")


def decode_photo(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """RGB uint8 array (H, W, 3) of a photo, upright per its EXIF orientation. Raises PhotoRefused for a
    file that is too large, not an image, damaged, or over `max_pixels` (checked before decoding)."""
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoRefused(_too_big(len(data)))
    try:
        img = Image.open(io.BytesIO(data))  # reads the header only
    except UnidentifiedImageError:
        if _is_heif(data) and not HEIC:
            raise PhotoRefused("HEIC photo: this hub cannot read HEIC (install pillow-heif) - export as JPEG") \
                from None
        raise PhotoRefused("not a readable image (JPEG, PNG, HEIC, TIFF, WebP or BMP)") from None
    except Image.DecompressionBombError:
        raise PhotoRefused(f"image over the limit of {max_pixels // 1_000_000} megapixels") from None
    width, height = img.size
    if width * height > max_pixels:
        raise PhotoRefused(f"image of {width}x{height} pixels is over the limit of {max_pixels // 1_000_000} "
                           "megapixels: export it smaller")
    try:
        if img.format == "JPEG":
            img.draft("RGB", (DECODE_SIDE, DECODE_SIDE))  # a scaled decode, cheaper for very large JPEGs
        img = ImageOps.exif_transpose(img)
        rgb = np.asarray(img.convert("RGB"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise PhotoRefused(f"not a readable image (damaged file: {type(exc).__name__})") from None
    return rgb


def _bounded_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        with zf.open(info) as f:
            data = f.read(MAX_PHOTO_BYTES + 1)  # whatever the member's header claims
        if len(data) > MAX_PHOTO_BYTES:
            raise PhotoRefused(f"expands to over {MAX_PHOTO_BYTES // 1_000_000} MB")
        return data

    return read


def _clean(path: str) -> str | None:
    """A member path as written in nip.csv, normalised; None when it points outside the ZIP."""
    path = path.strip().replace("\\", "/")
    norm = posixpath.normpath(path) if path else ""
    if not norm or norm.startswith(("../", "/")) or norm == "..":
        return None
    return norm


def photos_from_zip(source: bytes | Path) -> list[PhotoItem]:
    """A ZIP with photos and a `nip.csv` (columns: file, nip; `file` is the path inside the ZIP, relative
    to nip.csv's folder) -> one PhotoItem per file. Raises ValueError when the ZIP as a whole is unusable
    (not a ZIP, no nip.csv, too many members or too large once expanded)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except zipfile.BadZipFile:
        raise ValueError("not a ZIP file") from None
    members = [i for i in zf.infolist() if not i.is_dir()]
    if len(members) > MAX_ZIP_MEMBERS:
        raise ValueError(f"the ZIP has {len(members)} files; at most {MAX_ZIP_MEMBERS} per ZIP")
    if sum(i.file_size for i in members) > MAX_ZIP_TOTAL_BYTES:
        raise ValueError(f"the ZIP expands to over {MAX_ZIP_TOTAL_BYTES // 1_000_000_000} GB")
    counts = Counter(posixpath.normpath(i.filename) for i in members)
    csvs = [n for n in counts if posixpath.basename(n) == "nip.csv"]
    if len(csvs) != 1:
        raise ValueError("the ZIP needs exactly one nip.csv (columns: file,nip)" if not csvs else
                         f"the ZIP has several nip.csv files ({', '.join(sorted(csvs))}): keep one")
    csv_path = csvs[0]
    base = posixpath.dirname(csv_path)
    by_path = {posixpath.normpath(i.filename): i for i in members}
    raw = _bounded_member(zf, by_path[csv_path])()
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    wanted: dict[str, list[tuple[int, str]]] = {}
    out: list[PhotoItem] = []
    for line, row in enumerate(rows, start=2):
        file, nip = (row.get("file") or "").strip(), (row.get("nip") or "").strip()
        if not file or not nip:
            out.append(PhotoItem(nip or "?", file or f"nip.csv line {line}",
                                 refused=f"nip.csv line {line}: needs both 'file' and 'nip'"))
            continue
        path = _clean(posixpath.join(base, file.replace("\\", "/")) if base else file)
        if path is None:
            out.append(PhotoItem(nip, file, refused=f"nip.csv line {line}: path outside the ZIP"))
            continue
        wanted.setdefault(path, []).append((line, nip))
    for path, uses in wanted.items():
        if len(uses) > 1:
            lines = ", ".join(str(line) for line, _ in uses)
            out += [PhotoItem(nip, path, refused=f"listed {len(uses)} times in nip.csv (lines {lines}): "
                                                 "which NIP is meant cannot be told") for _, nip in uses]
        elif path not in by_path:
            same_name = sorted(p for p in by_path if posixpath.basename(p) == posixpath.basename(path))
            hint = f" (there is {', '.join(same_name[:3])}: write the full path)" if same_name else ""
            out.append(PhotoItem(uses[0][1], path, refused=f"not in the ZIP at this path{hint}"))
        elif counts[path] > 1:
            out.append(PhotoItem(uses[0][1], path, refused=f"the ZIP holds {counts[path]} files named {path}"))
        elif by_path[path].file_size > MAX_PHOTO_BYTES:
            out.append(PhotoItem(uses[0][1], path, refused=f"expands to {by_path[path].file_size / 1e6:.0f} MB, "
                                                           f"over the limit of {MAX_PHOTO_BYTES // 1_000_000} MB"))
        else:
            out.append(PhotoItem(uses[0][1], path, read=_bounded_member(zf, by_path[path])))
    for path in sorted(set(by_path) - set(wanted) - {csv_path}):
        out.append(PhotoItem("?", path, refused="not listed in nip.csv"))
    return out


def photos_from_folder(folder: Path) -> list[PhotoItem]:
    """A folder of `<NIP>/<photos>` -> one PhotoItem per file found anywhere below it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"enrolment folder {folder} does not exist")
    out: list[PhotoItem] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if len(rel.parts) == 1:
            out.append(PhotoItem("?", str(rel), refused="not in a <NIP> folder"))
        elif len(rel.parts) > 2:
            out.append(PhotoItem(rel.parts[0], str(rel), refused=f"in a sub-folder: put photos directly in "
                                                                 f"{rel.parts[0]}/"))
        elif (size := path.stat().st_size) > MAX_PHOTO_BYTES:
            out.append(PhotoItem(rel.parts[0], str(rel), refused=_too_big(size)))
        else:
            out.append(PhotoItem(rel.parts[0], str(rel), read=path.read_bytes))
    return out

"""Enrolment input read defensively: header-checked pixel limits, bounded ZIP members, photos matched by
full path, and every file either enrolled or refused with a reason (HEIC, TIFF, JFIF included)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from datetime import date

import numpy as np
import pytest
from cryptography.fernet import Fernet
from PIL import Image, ImageFile

from hub.enrolment import Enrolment, enrol_many
from hub.master import Employee, MasterData, Opd
from hub.photos import MAX_PHOTO_BYTES, PhotoRefused, decode_photo, photos_from_folder, photos_from_zip

A, B = "198703122010011001", "199002052015032002"


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that declares width x height pixels (the decompression-bomb shape: small file, huge image)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + \
        chunk(b"IEND", b"")


def test_a_huge_image_is_refused_from_its_header_before_decoding(monkeypatch):
    loads = []
    real = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self.size) or real(self))
    bomb = png_header_only(20000, 20000)
    assert len(bomb) < 2000
    with pytest.raises(PhotoRefused, match="over the limit of 50 megapixels"):
        decode_photo(bomb)
    with pytest.raises(PhotoRefused, match="9000x6000 pixels is over the limit of 50 megapixels"):
        decode_photo(png_header_only(9000, 6000))
    assert loads == []  # not one pixel decoded
    with pytest.raises(PhotoRefused, match="over the limit"):
        decode_photo(b"\xff" * (MAX_PHOTO_BYTES + 1))


def test_formats_phones_produce_are_read_upright(faces):
    jpeg = (faces / "person01" / "img1.jpg").read_bytes()
    upright = decode_photo(jpeg)
    im = Image.open(io.BytesIO(jpeg))
    for fmt in ("HEIF", "TIFF", "WEBP", "PNG"):
        buf = io.BytesIO()
        im.save(buf, format=fmt)
        rgb = decode_photo(buf.getvalue())
        assert rgb.shape == upright.shape and rgb.dtype == np.uint8, fmt
    # A photo taken sideways carries EXIF orientation 6: it is turned upright before face detection.
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    im.rotate(90, expand=True).save(buf, format="JPEG", exif=exif)
    assert decode_photo(buf.getvalue()).shape == upright.shape
    with pytest.raises(PhotoRefused, match="not a readable image"):
        decode_photo(b"bukan foto")


def zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_photos_are_matched_by_full_path_and_every_file_is_accounted_for(faces):
    ani, budi = (faces / "person01" / "img1.jpg").read_bytes(), (faces / "person05" / "img29.jpg").read_bytes()
    items = photos_from_zip(zip_of({
        "nip.csv": f"file,nip\nA/foto1.jpg,{A}\nB/foto1.jpg,{B}\nfoto1.jpg,{A}\nC/dua.jpg,{A}\nC/dua.jpg,{B}\n"
                   f"../luar.jpg,{A}\n,{B}\n",
        "A/foto1.jpg": ani, "B/foto1.jpg": budi, "C/dua.jpg": ani, "lain/tak-terdaftar.jpg": budi}))
    by = {(i.nip, i.name): i for i in items}
    assert by[(A, "A/foto1.jpg")].read() == ani and by[(B, "B/foto1.jpg")].read() == budi
    assert "full path" in by[(A, "foto1.jpg")].refused and "A/foto1.jpg" in by[(A, "foto1.jpg")].refused
    assert "listed 2 times" in by[(A, "C/dua.jpg")].refused and "listed 2 times" in by[(B, "C/dua.jpg")].refused
    assert "outside the ZIP" in by[(A, "../luar.jpg")].refused
    assert "needs both" in by[(B, "nip.csv line 8")].refused
    assert by[("?", "lain/tak-terdaftar.jpg")].refused == "not listed in nip.csv"
    assert len(items) == 8  # 7 rows of nip.csv + the unlisted photo


def test_a_zip_bomb_member_is_refused_without_expanding_it():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("nip.csv", f"file,nip\nbom.jpg,{A}\n")
        with zf.open("bom.jpg", "w") as f:
            for _ in range(MAX_PHOTO_BYTES // 1_000_000 + 5):
                f.write(bytes(1_000_000))
    assert len(buf.getvalue()) < 200_000
    [item] = photos_from_zip(buf.getvalue())
    assert item.read is None and "over the limit" in item.refused
    # A member whose directory entry understates its size is still not expanded beyond what it claims.
    lying = bytearray(buf.getvalue())
    central = lying.rfind(b"PK\x01\x02")  # the last central directory entry: bom.jpg
    lying[central + 24:central + 28] = struct.pack("<I", 1000)
    [item] = photos_from_zip(bytes(lying))
    master = MasterData("sqlite:///:memory:")
    master.add("t", Opd(code="X", name="x"))
    master.add("t", Employee(nip=A, name="a", opd_code="X", tpp_base=1))
    [report] = enrol_many(Enrolment(master, Fernet(Fernet.generate_key()), None), "t", [item])
    assert not report.accepted and "cannot be read" in report.reason


def test_folder_enrolment_reports_every_file(tmp_path, faces, pipeline):
    master = MasterData(f"sqlite:///{tmp_path / 'master.sqlite'}")
    master.add("t", Opd(code="X", name="x"))
    for nip in (A, B):
        master.add("t", Employee(nip=nip, name=nip, opd_code="X", tpp_base=1, start=date(2026, 1, 1)))
    photo = (faces / "person01" / "img1.jpg").read_bytes()
    im = Image.open(io.BytesIO(photo))
    (tmp_path / "in" / A / "lama").mkdir(parents=True)
    (tmp_path / "in" / B).mkdir(parents=True)
    (tmp_path / "in" / A / "foto.jfif").write_bytes(photo)
    for name, fmt in (("foto.heic", "HEIF"), ("foto.tif", "TIFF")):
        buf = io.BytesIO()
        im.save(buf, format=fmt)
        (tmp_path / "in" / B / name).write_bytes(buf.getvalue())
    (tmp_path / "in" / A / "lama" / "x.jpg").write_bytes(photo)
    (tmp_path / "in" / A / "catatan.txt").write_text("bukan foto")
    (tmp_path / "in" / "daftar.xlsx").write_bytes(b"PK")
    enrolment = Enrolment(master, Fernet(Fernet.generate_key()), pipeline)
    reports = {r.path: r for r in enrol_many(enrolment, "t", photos_from_folder(tmp_path / "in"))}
    assert set(reports) == {f"{A}/foto.jfif", f"{B}/foto.heic", f"{B}/foto.tif", f"{A}/lama/x.jpg",
                            f"{A}/catatan.txt", "daftar.xlsx"}
    assert [p for p, r in reports.items() if r.accepted] == [f"{A}/foto.jfif", f"{B}/foto.heic", f"{B}/foto.tif"]
    assert "not a readable image" in reports[f"{A}/catatan.txt"].reason
    assert "sub-folder" in reports[f"{A}/lama/x.jpg"].reason
    assert "not in a <NIP> folder" in reports["daftar.xlsx"].reason


def test_zip_enrolment_attaches_each_face_to_its_own_nip(tmp_path, faces, pipeline):
    master = MasterData(f"sqlite:///{tmp_path / 'master.sqlite'}")
    master.add("t", Opd(code="X", name="x"))
    for nip in (A, B):
        master.add("t", Employee(nip=nip, name=nip, opd_code="X", tpp_base=1))
    ani, budi = (faces / "person01" / "img1.jpg").read_bytes(), (faces / "person05" / "img29.jpg").read_bytes()
    enrolment = Enrolment(master, Fernet(Fernet.generate_key()), pipeline)
    items = photos_from_zip(zip_of({"nip.csv": f"file,nip\nA/foto1.jpg,{A}\nB/foto1.jpg,{B}\n",
                                    "A/foto1.jpg": ani, "B/foto1.jpg": budi}))
    assert all(r.accepted for r in enrol_many(enrolment, "t", items))
    gallery = enrolment.gallery(None)
    expected = {nip: pipeline.analyse(decode_photo(data))[0].embedding for nip, data in ((A, ani), (B, budi))}
    for nip, vector in zip(gallery.ids, gallery.templates, strict=True):
        assert np.allclose(vector, expected[nip], atol=1e-5)
    assert sorted(gallery.ids) == [A, B]


def test_heic_without_pillow_heif_is_refused_by_name(monkeypatch, faces):
    import hub.photos

    buf = io.BytesIO()
    Image.open(faces / "person01" / "img1.jpg").save(buf, format="HEIF")

    def cannot_identify(*_a, **_k):
        raise hub.photos.UnidentifiedImageError("no HEIF plugin")

    monkeypatch.setattr(hub.photos, "HEIC", False)
    monkeypatch.setattr(hub.photos.Image, "open", cannot_identify)
    with pytest.raises(PhotoRefused, match="HEIC photo: this hub cannot read HEIC"):
        decode_photo(buf.getvalue())

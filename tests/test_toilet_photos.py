"""Photo uploads on the toilet form: images re-encoded without their GPS position, bombs
and non-images refused with nothing stored, files served only by their stored names."""

import io
import struct
import zlib

import pytest
from PIL import Image

from geo.grids import importer as grids
from geo import photos
from geo.toilets import records as toilets
from tests import accounts
from tests import layouts


@pytest.fixture
def client(db, settings, tmp_path):
    from webmap import create_app

    layouts.grid_layout().to_file(tmp_path / "g.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "g.geojson")
    return accounts.client(create_app({"CIVGRID_SETTINGS": settings, "TESTING": True}))


def _form(code="PH-1", **extra):
    lon, lat = layouts.xy(3, 3)
    return {"code": code, "kind": "household", "lon": str(lon), "lat": str(lat),
            "original_type": "dry_latrine", "status": "planned", **extra}


def _jpeg_with_gps(size=(3000, 1000)):
    img = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    gps = {1: "N", 2: (40.0, 51.0, 36.0), 3: "E", 4: (111.0, 40.0, 48.0)}
    exif[0x8825] = gps  # the GPS IFD
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    data = out.getvalue()
    with Image.open(io.BytesIO(data)) as check:  # the fixture does carry a position
        assert check.getexif().get_ifd(0x8825)
    return data


def _png_declaring(width, height):
    """A tiny PNG whose header declares width × height (a decompression bomb)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _stored_files(settings):
    root = settings.data_dir / "photos"
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file()) \
        if root.exists() else []


def test_an_uploaded_photo_is_stored_without_its_gps_position(client, db, settings):
    data = _jpeg_with_gps()
    resp = client.post("/toilets/new", data={**_form(), "upload": (io.BytesIO(data), "a.jpg")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    (name,) = toilets.get_toilet(db, "PH-1")["photos"]
    assert photos.is_stored_name(name)
    stored = settings.data_dir / "photos" / name
    with Image.open(stored) as img:
        assert img.format == "JPEG" and max(img.size) == photos.MAX_SIDE
        assert img.size == (2048, 683)  # 3000 × 1000 scaled, proportions kept
        assert not img.getexif() and "exif" not in img.info
        assert not img.getexif().get_ifd(0x8825)
    with Image.open(settings.data_dir / "photos" / "thumbs" / name) as thumb:
        assert max(thumb.size) == photos.THUMB_SIDE and not thumb.getexif()
    page = client.get("/toilets/PH-1").get_data(as_text=True)
    assert f'src="/toilets/photos/{name}/thumb"' in page
    overview = client.get("/toilets/").get_data(as_text=True)  # the map popup's thumbnail
    assert f'"/toilets/photos/{name}/thumb"' in overview
    served = client.get(f"/toilets/photos/{name}")
    assert served.status_code == 200 and served.data == stored.read_bytes()
    assert served.mimetype == "image/jpeg"
    # The same photo again on an edit: stored once, named once.
    client.post("/toilets/PH-1/edit", data={**_form(), "photos": name,
                                            "upload": (io.BytesIO(data), "again.jpg")},
                content_type="multipart/form-data")
    assert toilets.get_toilet(db, "PH-1")["photos"] == [name]
    assert len(_stored_files(settings)) == 2  # the photo and its thumbnail


@pytest.mark.parametrize("upload,message", [
    (_png_declaring(30000, 30000), "照片像素超过 50 百万"),
    (b"this is a text file, not a picture\n", "不是照片文件"),
])
def test_bombs_and_non_images_are_refused_and_nothing_is_stored(client, db, settings, upload,
                                                                message):
    resp = client.post("/toilets/new", data={**_form(), "upload": (io.BytesIO(upload), "x.jpg")},
                       content_type="multipart/form-data")
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert _stored_files(settings) == []
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM toilets") == 0


def test_only_stored_names_are_served(client, settings):
    (settings.data_dir / "secret.txt").write_text("TOP-SECRET-CONTENT")
    for url in ("/toilets/photos/..%2Fsecret.txt", "/toilets/photos/../secret.txt",
                "/toilets/photos/secret.txt", "/toilets/photos/" + "0" * 64 + ".jpg",
                "/toilets/photos/%2E%2E/thumb"):
        resp = client.get(url)
        assert resp.status_code == 404 and b"TOP-SECRET-CONTENT" not in resp.data, url


def _colour_at(img, x, y):
    return img.convert("RGB").getpixel((x, y))


def _near(colour, want, slack=40):
    return all(abs(a - b) <= slack for a, b in zip(colour, want))


def test_a_photo_is_stored_upright_as_its_orientation_says():
    """EXIF orientation 6: the camera was turned, the picture must be turned 90° clockwise
    to be seen upright. A 200 × 100 picture red on the left, blue on the right is stored
    100 × 200, red on top — and so is its thumbnail, by the same proportions."""
    img = Image.new("RGB", (200, 100), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 100, 100))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes(), quality=95)
    photo = photos.prepare(out.getvalue(), "turned.jpg")
    for data in (photo.jpeg, photo.thumb):
        with Image.open(io.BytesIO(data)) as stored:
            w, h = stored.size
            assert h == 2 * w and not stored.getexif()
            assert _near(_colour_at(stored, w // 2, h // 4), (255, 0, 0))
            assert _near(_colour_at(stored, w // 2, 3 * h // 4), (0, 0, 255))


@pytest.mark.parametrize("mode", ["P", "RGBA", "L"])
def test_a_photo_of_another_colour_mode_is_stored_as_an_rgb_jpeg(mode):
    # 153 is a step of the web palette "P" converts to, so no colour is lost on the way.
    img = Image.new("RGB", (640, 480), (0, 153, 0)).convert(mode)
    out = io.BytesIO()
    img.save(out, "PNG")
    photo = photos.prepare(out.getvalue(), "plan.png")
    with Image.open(io.BytesIO(photo.jpeg)) as stored:
        assert (stored.format, stored.mode, stored.size) == ("JPEG", "RGB", (640, 480))
        grey = (153 * 587 + 500) // 1000  # ITU-R 601 luma of pure green 153, as "L" keeps it
        assert _near(stored.getpixel((320, 240)),
                     (grey, grey, grey) if mode == "L" else (0, 153, 0), slack=8)
    with Image.open(io.BytesIO(photo.thumb)) as thumb:
        assert thumb.size == (photos.THUMB_SIDE, 240)

"""Photos (toilet records, case steps): checked, re-encoded without metadata, stored by content.

An upload is accepted only when Pillow reads it as an image of a known format
(:data:`FORMATS`), no bigger than :data:`MAX_BYTES` and :data:`MAX_PIXELS` (a
"decompression bomb" — a small file declaring a huge picture — is refused before it
is decoded). It is then re-encoded as a JPEG of at most :data:`MAX_SIDE` pixels a
side, turned upright as its EXIF orientation says, and written without any of its
metadata: no EXIF, so no GPS position of the household, no camera serial. A
:data:`THUMB_SIDE` thumbnail is made beside it. Files are named by the SHA-256 of
the stored JPEG (``<64 hex>.jpg``), so the same photo uploaded twice is stored once,
and :func:`photo_path` accepts nothing but such a name: no path reaches the disk
from a URL.

Each kind of record keeps its photos in its own folder under the data directory
(:data:`FOLDERS`: ``photos/`` for toilet records, ``case_photos/`` for cases), so a
route serving one kind can never hand out a photo of the other.

Examples
--------
>>> photo = prepare(open("IMG_0001.jpg", "rb").read(), "IMG_0001.jpg")  # doctest: +SKIP
>>> store(settings.data_dir, photo)  # doctest: +SKIP
'3f5a…e1.jpg'
"""

import hashlib
import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass

from geo.errors import N_, InputError, NotFound, Place, Problem, shown

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000  # a 50-megapixel camera; a bomb declares far more
MAX_SIDE = 2048
THUMB_SIDE = 320
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO")
QUALITY = 85
NAME = re.compile(r"^[0-9a-f]{64}\.jpg$")
#: Where each kind of record keeps its photos, under the data directory.
FOLDERS = {"toilets": "photos", "cases": "case_photos"}


@dataclass(frozen=True)
class Photo:
    """A checked photo, re-encoded: its stored name, the JPEG and its thumbnail."""

    name: str
    jpeg: bytes
    thumb: bytes


def prepare(data, filename="photo"):
    """Check and re-encode an upload (bytes); a :class:`Photo`, or raise
    :class:`~geo.errors.InputError` saying why (nothing is written)."""
    from PIL import Image, ImageOps

    place = Place(shown(filename))
    if len(data) > MAX_BYTES:
        raise InputError(Problem("photos.too_large", N_("the photo is larger than %(mb)d MB"),
                                 {"mb": MAX_BYTES // (1024 * 1024)}, place))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.format not in FORMATS:
                    raise _not_an_image(place)
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise _too_many_pixels(place)
                img.load()
                # In place and no conversion of what is RGB already: each copy of a
                # phone photo's pixels is a few milliseconds a worker waits on.
                ImageOps.exif_transpose(img, in_place=True)
                rgb = img if img.mode == "RGB" else img.convert("RGB")
                return _encoded(rgb)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(place) from None
    except (OSError, SyntaxError, ValueError, Image.UnidentifiedImageError):
        raise _not_an_image(place) from None


def _encoded(img):
    """The :class:`Photo` of the upright RGB image ``img`` (which it shrinks in place)."""
    img.thumbnail((MAX_SIDE, MAX_SIDE))
    # Huffman optimisation saves a few per cent of a photo's bytes for three times the
    # encoding time (a phone photo: ~18 ms against ~6 ms), and a worker waits on it;
    # the thumbnails, sent with every case page, are small enough to optimise.
    jpeg = _jpeg(img, optimize=False)
    # From the stored size, halved by whole pixel blocks (a box filter) as long as the
    # result stays at least the thumbnail's size, then resampled: a phone photo's
    # thumbnail in about 3 ms instead of 7 (and no copy of the photo).
    img.thumbnail((THUMB_SIDE, THUMB_SIDE), reducing_gap=1.0)
    return Photo(hashlib.sha256(jpeg).hexdigest() + ".jpg", jpeg, _jpeg(img))


def prepare_many(uploads):
    """Check and re-encode every ``(bytes, filename)`` of ``uploads``: the list of
    :class:`Photo`, or one :class:`~geo.errors.InputError` naming every bad file."""
    prepared, problems = [], []
    for data, filename in uploads:
        try:
            prepared.append(prepare(data, filename))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return prepared


def _too_many_pixels(place):
    return InputError(Problem("photos.too_many_pixels",
                              N_("the photo declares more than %(limit)d million pixels"),
                              {"limit": MAX_PIXELS // 1_000_000}, place))


def _not_an_image(place):
    return InputError(Problem("photos.not_an_image",
                              N_("not a photo (JPEG, PNG, WebP, GIF, BMP or TIFF)"), {}, place))


def _jpeg(img, optimize=True):
    out = io.BytesIO()
    img.save(out, "JPEG", quality=QUALITY, optimize=optimize)  # no exif=…: nothing carried over
    return out.getvalue()


def store(data_dir, photo, kind="toilets"):
    """Write ``photo`` and its thumbnail in ``kind``'s folder under ``data_dir``
    (:data:`FOLDERS`); return its name."""
    for path, data in ((_dir(data_dir, kind) / photo.name, photo.jpeg),
                       (_dir(data_dir, kind, "thumbs") / photo.name, photo.thumb)):
        if path.exists():
            continue
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    return photo.name


def is_stored_name(name):
    """Whether ``name`` is a name :func:`store` gives (others are legacy file names)."""
    return bool(NAME.match(name or ""))


def photo_path(data_dir, name, thumb=False, kind="toilets"):
    """The file of a stored photo of ``kind`` (or its thumbnail);
    :class:`~geo.errors.NotFound` for any other name, so a URL cannot reach another file."""
    if not is_stored_name(name):
        raise NotFound(N_("no photo %(name)r"), {"name": shown(name)}, code="photos.not_found")
    path = (_dir(data_dir, kind, "thumbs") if thumb else _dir(data_dir, kind)) / name
    if not path.is_file():
        raise NotFound(N_("no photo %(name)r"), {"name": shown(name)}, code="photos.not_found")
    return path


def _dir(data_dir, kind, *sub):
    from pathlib import Path

    path = Path(data_dir, FOLDERS[kind], *sub)
    path.mkdir(parents=True, exist_ok=True)
    return path

"""Finding photos: checked by content, stored under the host's var dir by their hash, served inertly.

A photo is accepted when it is at most ``max_bytes``, its first bytes are those of a JPEG, PNG or WebP
file (the magic, never the name or the sender's content type), Pillow reads it as that same format, it
has at most ``max_pixels`` pixels and it decodes. It is stored as ``<record>/<sha256[:32]>.<ext>``
(a name chosen here) and served with its type, ``nosniff`` and a CSP that runs nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
MIME_BY_EXT = {ext: mime for mime, ext in FORMATS.values()}
NAME_RE = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp)$")
FOLDER_RE = re.compile(r"^ss\.rec\.[0-9]{5}$")
#: the demo's evidence picture, shipped with the plugin (demo/finding.png) and served from there
DEMO_FILE = Path(__file__).with_name("demo") / "finding.png"
DEMO_URL = "/plugins/safety_services/photos/demo/finding.png"
SAFE_HEADERS = {"X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
                "Cross-Origin-Resource-Policy": "same-origin"}


class PhotoError(ValueError):
    """The upload is not an acceptable photo; the message says why."""


@dataclass(frozen=True)
class Photo:
    data: bytes
    ext: str

    @property
    def name(self) -> str:
        return hashlib.sha256(self.data).hexdigest()[:32] + "." + self.ext


def sniff(head: bytes) -> str | None:
    """The format the first bytes announce (JPEG, PNG, WEBP), else None."""
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def check(data: bytes, max_bytes: int, max_pixels: int) -> Photo:
    """The photo if it is an acceptable JPEG/PNG/WebP image; PhotoError saying what is wrong otherwise."""
    if not data:
        raise PhotoError("the photo is empty")
    if len(data) > max_bytes:
        raise PhotoError(f"the photo is over {max_bytes / 1e6:.1f} MB")
    fmt = sniff(data[:16])
    if fmt is None:
        raise PhotoError("not a JPEG, PNG or WebP image (checked by its content, not its name)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != fmt:
                raise PhotoError(f"the content says {fmt} but the image decodes as {img.format}")
            w, h = img.size
            if w * h > max_pixels:
                raise PhotoError(f"the photo is {w}×{h} pixels; at most {max_pixels / 1e6:.0f} megapixels")
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except PhotoError:
        raise
    except Image.DecompressionBombError:
        raise PhotoError(f"the photo has too many pixels; at most {max_pixels / 1e6:.0f} megapixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PhotoError(f"the image is damaged or not a picture: {exc.__class__.__name__}") from None
    return Photo(data, FORMATS[fmt][1])


def save(root: Path, record_id: str, photo: Photo) -> str:
    """Write the photo under ``root/<record>/`` atomically; its file name."""
    if not FOLDER_RE.match(record_id):
        raise PhotoError(f"record id {record_id!r} cannot name a folder")
    folder = root / record_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / photo.name
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".up-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(photo.data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return photo.name


def path_of(root: Path, record_id: str, name: str) -> Path | None:
    """The file of a stored photo, or None for a name this module never gives (no path tricks)."""
    if (record_id, name) == ("demo", DEMO_FILE.name):
        return DEMO_FILE
    if not FOLDER_RE.match(record_id) or not NAME_RE.match(name):
        return None
    p = root / record_id / name
    return p if p.is_file() else None


def url(record_id: str, name: str) -> str:
    return f"/plugins/safety_services/photos/{record_id}/{name}"

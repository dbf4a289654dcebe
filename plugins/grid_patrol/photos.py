"""Evidence photos: checked by content, stored under the host's var dir by their hash, served inertly.

A photo is accepted when it is at most ``max_bytes``, its first bytes are those of a JPEG, PNG or WebP
file, Pillow reads it as that same format, its pixel count is at most ``max_pixels`` (no decompression
bombs) and it decodes (a JPEG at 1/8 scale, which reads every byte of its data). The file name is chosen
here (``<sha256[:32]>.<ext>``, the same bytes give the same name), never the sender's, and photos live
in one folder per grid. They are served with the type found at upload, ``nosniff``, a CSP that runs
nothing (``default-src 'none'; sandbox``) and ``Content-Disposition: inline``, so a file that was
anything but a picture can never be executed by a browser.
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

#: Pillow format → (MIME type, file extension)
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
MIME_BY_EXT = {ext: mime for mime, ext in FORMATS.values()}
NAME_RE = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp)$")
GRID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,120}$")
SAFE_HEADERS = {"X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
                "Cross-Origin-Resource-Policy": "same-origin"}


class PhotoError(ValueError):
    """The upload is not an acceptable photo; the message says why."""


@dataclass(frozen=True)
class CheckedPhoto:
    data: bytes
    fmt: str
    mime: str
    ext: str
    width: int
    height: int

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


def check_photo(data: bytes, max_bytes: int, max_pixels: int) -> CheckedPhoto:
    """The photo if it is an acceptable JPEG/PNG/WebP image; PhotoError saying what is wrong otherwise."""
    if not data:
        raise PhotoError("the photo is empty")
    if len(data) > max_bytes:
        raise PhotoError(f"the photo is {len(data) / 1e6:.1f} MB; at most {max_bytes / 1e6:.1f} MB")
    fmt = sniff(data[:16])
    if fmt is None:
        raise PhotoError("not a JPEG, PNG or WebP image (checked by its content, not its name)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != fmt:
                raise PhotoError(f"the content says {fmt} but the image decodes as {img.format}")
            w, h = img.size
            if w < 1 or h < 1 or w * h > max_pixels:
                raise PhotoError(f"the photo is {w}×{h} pixels; at most {max_pixels / 1e6:.0f} megapixels")
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            if fmt == "JPEG":
                img.draft("RGB", (max(1, w // 8), max(1, h // 8)))   # decode every byte, at 1/8 scale
            img.load()
    except PhotoError:
        raise
    except Image.DecompressionBombError:
        raise PhotoError(f"the photo has too many pixels; at most {max_pixels / 1e6:.0f} megapixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PhotoError(f"the image is damaged or not a picture: {exc.__class__.__name__}") from None
    mime, ext = FORMATS[fmt]
    return CheckedPhoto(data, fmt, mime, ext, w, h)


def save_photo(root: Path, grid_id: str, photo: CheckedPhoto) -> str:
    """Write the photo under ``root/<grid>/`` (atomically; the same bytes twice are one file); its name."""
    if not GRID_RE.match(grid_id):
        raise PhotoError(f"grid id {grid_id!r} cannot name a folder")
    folder = root / grid_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / photo.name
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".up-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(photo.data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return photo.name


def remove_photo(root: Path, grid_id: str, name: str) -> None:
    """Delete a stored photo (a submission that failed after its photo was written)."""
    path = photo_path(root, grid_id, name)
    if path is not None:
        path.unlink(missing_ok=True)


def photo_path(root: Path, grid_id: str, name: str) -> Path | None:
    """The file of a stored photo, or None for a name this module never gives (no path tricks)."""
    if not GRID_RE.match(grid_id) or grid_id in (".", "..") or not NAME_RE.match(name):
        return None
    path = root / grid_id / name
    return path if path.is_file() else None


def photo_url(grid_id: str, name: str) -> str:
    return f"/plugins/grid_patrol/photos/{grid_id}/{name}"

"""Evidence photos for plugins: checked by content, stored by their hash under a folder per owner, served inertly.

``check_photo`` accepts a photo when it is at most ``max_bytes``, its first bytes are those of a JPEG, PNG or
WebP file (the magic, never the file name or the sender's content type), Pillow reads it as that same format,
it is at least 1×1 and at most ``max_pixels`` pixels (no decompression bombs) and it decodes (a JPEG at 1/8
scale, which still reads every byte of its data). ``PhotoFolders`` stores it as ``<root>/<folder>/
<sha256[:32]>.<ext>`` (a name chosen here, never the sender's; the same bytes give the same file), written
atomically, and finds it again only by names it gives. Served with the type found at upload and
``PHOTO_HEADERS`` (``nosniff``, a CSP that runs nothing), a file that was anything but a picture can never be
executed by a browser.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Pillow format → (MIME type, file extension) of the photos accepted
PHOTO_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
#: a stored photo's file extension → its MIME type (serve it with this type)
PHOTO_MIME_BY_EXT = {ext: mime for mime, ext in PHOTO_FORMATS.values()}
#: the headers to serve a stored photo with: no sniffing, nothing runs, not embeddable by other sites
PHOTO_HEADERS = {"X-Content-Type-Options": "nosniff",
                 "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
                 "Cross-Origin-Resource-Policy": "same-origin"}
_NAME_RE = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp)$")


class PhotoError(ValueError):
    """The upload is not an acceptable photo (or cannot be stored where asked); the message says why.

    Plugins turn it into their own error naming the form field, e.g. ``FieldError("photo", str(exc))``.
    """


@dataclass(frozen=True)
class CheckedPhoto:
    """A photo ``check_photo`` accepted: its bytes, Pillow format, MIME type, file extension and size in pixels."""

    #: the file's bytes, as sent
    data: bytes
    #: Pillow's format: ``"JPEG"``, ``"PNG"`` or ``"WEBP"``
    fmt: str
    #: its MIME type (``image/jpeg``...), to serve it with
    mime: str
    #: its file extension: ``jpg``, ``png`` or ``webp``
    ext: str
    #: its width in pixels
    width: int
    #: its height in pixels
    height: int

    @property
    def name(self) -> str:
        """The file name it is stored under: ``<sha256[:32]>.<ext>`` (the same bytes, the same name)."""
        return hashlib.sha256(self.data).hexdigest()[:32] + "." + self.ext


def sniff_image(head: bytes) -> str | None:
    """The format the first bytes of a file announce (``"JPEG"``, ``"PNG"``, ``"WEBP"``), else None."""
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def check_photo(data: bytes, max_bytes: int, max_pixels: int) -> CheckedPhoto:
    """The photo if it is an acceptable JPEG/PNG/WebP image; ``PhotoError`` saying what is wrong otherwise.

    Refused: empty data, more than ``max_bytes``, content that is not a JPEG, PNG or WebP (by its magic bytes),
    content whose magic and decoded format differ, fewer than 1×1 or more than ``max_pixels`` pixels, and
    anything Pillow cannot decode in full.
    """
    from PIL import Image, UnidentifiedImageError  # here: core.api stays quick to import
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PhotoError(f"the photo must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise PhotoError("the photo is empty")
    if len(data) > max_bytes:
        raise PhotoError(f"the photo is {len(data) / 1e6:.1f} MB; at most {max_bytes / 1e6:.1f} MB")
    fmt = sniff_image(data[:16])
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
    mime, ext = PHOTO_FORMATS[fmt]
    return CheckedPhoto(data, fmt, mime, ext, w, h)


@dataclass(frozen=True)
class PhotoFolders:
    """Where a plugin keeps its checked photos: one folder per owner (a grid, a record) under a root.

    ``url_base`` is the plugin's route the photos are served from (``/plugins/<plugin>/photos``);
    ``folder_re`` the owner ids that may name a folder (``.`` and ``..`` never do); ``what`` names such an
    id in errors (``"grid id"``). The root is passed to each call (it comes from the host's settings).
    """

    #: the route the photos are served from, without a trailing slash: ``/plugins/<plugin>/photos``
    url_base: str
    #: the owner ids that may name a folder, e.g. ``re.compile(r"^ss\.rec\.[0-9]{5}$")``
    folder_re: re.Pattern[str]
    #: what an owner id is, in errors: ``"grid id"``, ``"record id"``
    what: str = "folder"

    def _folder_ok(self, folder: str) -> bool:
        return isinstance(folder, str) and folder not in (".", "..") and bool(self.folder_re.match(folder))

    def save(self, root: Path, folder: str, photo: CheckedPhoto) -> str:
        """Write the photo under ``root/<folder>/`` (atomically, readable by all; the same bytes twice are one
        file) and return its file name; ``PhotoError`` when ``folder`` cannot name a folder."""
        if not self._folder_ok(folder):
            raise PhotoError(f"{self.what} {folder!r} cannot name a folder")
        where = Path(root) / folder
        where.mkdir(parents=True, exist_ok=True)
        path = where / photo.name
        if not path.exists():
            fd, tmp = tempfile.mkstemp(dir=where, prefix=".up-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(photo.data)
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return photo.name

    def path(self, root: Path, folder: str, name: str) -> Path | None:
        """The file of a stored photo, or None for one not stored or a name ``save`` never gives (no path tricks)."""
        if not self._folder_ok(folder) or not isinstance(name, str) or not _NAME_RE.match(name):
            return None
        path = Path(root) / folder / name
        return path if path.is_file() else None

    def remove(self, root: Path, folder: str, name: str) -> None:
        """Delete a stored photo (one written for a submission that then failed); nothing for an unknown one."""
        path = self.path(root, folder, name)
        if path is not None:
            path.unlink(missing_ok=True)

    def url(self, folder: str, name: str) -> str:
        """The URL the plugin serves a stored photo at: ``<url_base>/<folder>/<name>``."""
        return f"{self.url_base}/{folder}/{name}"

"""Finding photos: checked and stored by ``core.api`` (``check_photo``, ``PhotoFolders``), one folder per record.

A photo is checked by its content (JPEG, PNG or WebP that Pillow decodes in full, within the settings'
``photo_max_bytes`` and ``photo_max_pixels``), stored as ``<record>/<sha256[:32]>.<ext>`` under the host's var
dir (a name chosen there) and served with its type and ``PHOTO_HEADERS`` (``nosniff``, a CSP that runs nothing).
The demo's evidence picture ships with the plugin and is served from there.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.api import PhotoFolders

#: one folder per service record (``ss.rec.00001``)
PHOTOS = PhotoFolders("/plugins/safety_services/photos", re.compile(r"^ss\.rec\.[0-9]{5}$"), "record id")
#: the demo's evidence picture, shipped with the plugin (demo/finding.png) and served from there
DEMO_FILE = Path(__file__).with_name("demo") / "finding.png"
DEMO_URL = PHOTOS.url("demo", DEMO_FILE.name)


def path_of(root: Path, record_id: str, name: str) -> Path | None:
    """The file of a stored photo (or the demo's), or None for a name never given (no path tricks)."""
    if (record_id, name) == ("demo", DEMO_FILE.name):
        return DEMO_FILE
    return PHOTOS.path(root, record_id, name)

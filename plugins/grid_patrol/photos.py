"""Evidence photos of patrol reports: checked and stored by ``core.api`` (``check_photo``, ``PhotoFolders``).

A photo is checked by its content (JPEG, PNG or WebP that Pillow decodes in full, within the settings'
``photo_max_bytes`` and ``photo_max_pixels``), stored as ``<grid>/<sha256[:32]>.<ext>`` under the host's var
dir (a name chosen there, never the sender's) and served with ``PHOTO_HEADERS`` and
``Content-Disposition: inline``, so a file that was anything but a picture can never be executed by a browser.
"""

from __future__ import annotations

import re

from core.api import PhotoFolders

#: one folder per grid; a grid id that could not name a folder is refused
PHOTOS = PhotoFolders("/plugins/grid_patrol/photos", re.compile(r"^[A-Za-z0-9_.-]{1,120}$"), "grid id")

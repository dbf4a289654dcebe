#!/usr/bin/env python3
"""Build the offline Chinese web font for the big screen (build-time only).

The wall PCs are offline, so the dashboard cannot load fonts from a CDN.  This
script regenerates the subset WOFF2 files that ``assets/fonts.css`` serves:

    assets/fonts/NotoSansSC-Regular.subset.woff2   (weight 400)
    assets/fonts/NotoSansSC-Bold.subset.woff2      (weight 700)
    assets/fonts/OFL.txt                           (SIL Open Font License 1.1)

It is never run by the app; the generated files are committed.

Source
    npm package ``@expo-google-fonts/noto-sans-sc@0.4.3`` (licence
    "MIT AND OFL-1.1": MIT for Expo's JS glue, OFL-1.1 for the fonts).  It
    carries the complete static Google Fonts TTFs of Noto Sans SC
    version 2.004-H2, (c) 2014-2021 Adobe, with Reserved Font Name 'Source':
    ``400Regular/NotoSansSC_400Regular.ttf`` and ``700Bold/NotoSansSC_700Bold.ttf``
    (~30 900 glyphs each), and the licence as ``LICENSE_FONT``.  The tarball is
    fetched with ``npm pack`` and checked against the registry's sha512
    integrity pinned below.  (``@fontsource/noto-sans-sc`` was not used: it
    only ships Google Fonts' unicode-range slices, which lack e.g. the Roman
    numerals used for response levels (Ⅰ-Ⅳ级), Greek and 33 GB 2312 Hanzi.)

Character set (required: ASCII, GB 2312, the extra symbols and --extra-text; a
required code point missing from the font is reported; the other Unicode
blocks are taken as far as the font covers them)
    * ASCII U+0020-U+007E and Latin-1 U+00A0-U+00FF (°, ±, ×, ², ...)
    * General punctuation U+2010-U+2027, U+2030-U+203B (—, “”, …, ‰, ※)
    * Number Forms U+2150-U+218F (Ⅰ-Ⅻ), Enclosed Alphanumerics U+2460-U+24FF
    * CJK Symbols and Punctuation U+3000-U+303F, ㈠-㈩ and common unit
      squares (㎡, ㎞, ㎜, ...)
    * Halfwidth and Fullwidth Forms U+FF00-U+FFEF
    * all of GB 2312: symbol rows 0xA1-0xA9, level-1 Hanzi rows 0xB0-0xD7
      (3755) and, unless ``--no-level2``, level-2 Hanzi rows 0xD8-0xF7 (3008)
    * anything passed with ``--extra-text`` (e.g. rare place-name characters)
    All OpenType layout features are kept (vertical forms, kerning, ...).

The family inside the files is renamed "Noto Sans SC Subset" (a modified
version under the OFL must not use the reserved name "Source"; this one does
not), which is also the CSS family name used by ``assets/fonts.css``.

Requirements: ``npm`` on PATH (registry access), and ``fonttools`` + ``brotli``
in the Python environment (``pip install fonttools brotli``).

Usage (from the repository root)::

    .venv/bin/python scripts/build_font.py [--workdir /tmp/fontwork] [--no-level2]
                                           [--extra-text 字字] [--out assets/fonts]

``--workdir`` caches the 57 MB tarball between runs.  The output is
byte-for-byte reproducible for a given package and fontTools/brotli version.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

PACKAGE = "@expo-google-fonts/noto-sans-sc"
VERSION = "0.4.3"
TARBALL = f"expo-google-fonts-noto-sans-sc-{VERSION}.tgz"
INTEGRITY = (
    "sha512-9rAwdFTFHbO/u6Cs0gj2jZbW74TGIiaFNQnXYH2s5wA1bzVkwbaviL4t8YUV642eGYjg86eH6DkAEQmfNHDncQ=="
)
SOURCES = {
    400: "package/400Regular/NotoSansSC_400Regular.ttf",
    700: "package/700Bold/NotoSansSC_700Bold.ttf",
}
LICENSE_MEMBER = "package/LICENSE_FONT"

FAMILY = "Noto Sans SC Subset"
PS_FAMILY = "NotoSansSCSubset"
STYLES = {400: "Regular", 700: "Bold"}
OUT_NAMES = {400: "NotoSansSC-Regular.subset.woff2", 700: "NotoSansSC-Bold.subset.woff2"}

REPO = Path(__file__).resolve().parent.parent

# Not in GB 2312 but common on dashboards: ㈠-㈩ and unit squares.
EXTRA_SYMBOLS = "㈠㈡㈢㈣㈤㈥㈦㈧㈨㈩㎎㎏㎜㎝㎞㎡㏄㏎㏑㏒㏕"


# --------------------------------------------------------------------------- charset
def _gb2312_rows(first: int, last: int) -> set[int]:
    cps = set()
    for row in range(first, last + 1):
        for cell in range(0xA1, 0xFF):
            try:
                cps.add(ord(bytes([row, cell]).decode("gb2312")))
            except UnicodeDecodeError:
                pass  # unassigned cell
    return cps


def wanted_codepoints(level2: bool = True, extra_text: str = "") -> tuple[set[int], set[int]]:
    """Return (required, optional) code points.

    Required ones missing from the font are reported; the optional Unicode
    blocks are taken as far as the font covers them.
    """
    required: set[int] = set(range(0x20, 0x7F))
    required |= _gb2312_rows(0xA1, 0xA9)  # symbols, full-width forms, kana, Greek, ...
    required |= _gb2312_rows(0xB0, 0xD7)  # level-1 Hanzi (3755)
    if level2:
        required |= _gb2312_rows(0xD8, 0xF7)  # level-2 Hanzi (3008)
    required |= {ord(c) for c in EXTRA_SYMBOLS + extra_text if not c.isspace()}
    optional = set(range(0xA0, 0x100))
    optional |= set(range(0x2010, 0x2028)) | set(range(0x2030, 0x203C))
    optional |= set(range(0x2150, 0x2190)) | set(range(0x2460, 0x2500))
    optional |= set(range(0x3000, 0x3040))
    optional |= set(range(0xFF00, 0xFFF0))
    return required, optional - required


# --------------------------------------------------------------------------- source
def fetch_package(workdir: Path) -> Path:
    """npm pack the pinned package into workdir (once) and verify its integrity."""
    workdir.mkdir(parents=True, exist_ok=True)
    tgz = workdir / TARBALL
    if not tgz.exists():
        subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(workdir)],
            check=True,
        )
    algo, b64 = INTEGRITY.split("-", 1)
    h = hashlib.new(algo)
    with tgz.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    if base64.b64encode(h.digest()).decode() != b64:
        raise SystemExit(f"{tgz}: integrity mismatch, expected {INTEGRITY}")
    return tgz


# --------------------------------------------------------------------------- build
def _subset_options() -> subset.Options:
    opts = subset.Options()
    opts.layout_features = ["*"]
    opts.name_IDs = ["*"]
    opts.name_languages = ["*"]
    opts.name_legacy = True
    opts.notdef_outline = True
    opts.glyph_names = False
    opts.drop_tables += ["STAT", "DSIG"]  # STAT names the upstream family/axis
    return opts


def _rename(font: TTFont, weight: int) -> None:
    style = STYLES[weight]
    name = font["name"]
    version = (name.getDebugName(5) or "").split(";")[0]  # "Version 2.004-H2"
    records = {
        1: FAMILY,
        2: style,
        3: f"{version};{PS_FAMILY}-{style};subset",
        4: f"{FAMILY} {style}",
        6: f"{PS_FAMILY}-{style}",
    }
    for name_id in (16, 17, 21, 22, 25):  # typographic/WWS/variations names
        name.removeNames(nameID=name_id)
    for name_id, text in records.items():
        name.removeNames(nameID=name_id)
        name.setName(text, name_id, 3, 1, 0x409)
        name.setName(text, name_id, 1, 0, 0)
    font["OS/2"].usWeightClass = weight


def build_weight(
    src: TTFont, weight: int, required: set[int], optional: set[int], out: Path
) -> list[int]:
    """Subset src, rename, write WOFF2; returns the required code points it lacks."""
    cmap = set(src.getBestCmap())
    missing = sorted(required - cmap)
    sub = subset.Subsetter(_subset_options())
    sub.populate(unicodes=(required | optional) & cmap)
    sub.subset(src)
    _rename(src, weight)
    src.flavor = "woff2"
    src.recalcTimestamp = False  # keep head.modified from upstream: same input, same bytes
    out.parent.mkdir(parents=True, exist_ok=True)
    src.save(out, reorderTables=True)
    return missing


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "fontwork")
    ap.add_argument("--out", type=Path, default=REPO / "assets" / "fonts")
    ap.add_argument("--no-level2", action="store_true", help="only GB 2312 level-1 Hanzi")
    # Characters the twins and panels use beyond GB 2312: place names (沚 of 葭沚街道) and status marks.
    ap.add_argument("--extra-text", default="沚↔−⚠✓", help="extra characters to include")
    args = ap.parse_args(argv)

    tgz = fetch_package(args.workdir)
    required, optional = wanted_codepoints(level2=not args.no_level2, extra_text=args.extra_text)
    args.out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz) as tar:
        for weight, member in SOURCES.items():
            src = TTFont(tar.extractfile(member))
            out = args.out / OUT_NAMES[weight]
            missing = build_weight(src, weight, required, optional, out)
            cmap = TTFont(out).getBestCmap()
            print(f"{out}: {out.stat().st_size} bytes, {len(cmap)} code points")
            if missing:
                print(
                    f"  WARNING, required but not in the font ({len(missing)}): "
                    + " ".join(f"U+{c:04X}" for c in missing)
                )
        (args.out / "OFL.txt").write_bytes(tar.extractfile(LICENSE_MEMBER).read())
    print(f"{args.out / 'OFL.txt'}: {PACKAGE}@{VERSION}/{LICENSE_MEMBER.split('/', 1)[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

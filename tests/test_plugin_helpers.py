"""core.api's shared plugin helpers: evidence photos (check_photo, PhotoFolders), records as twin entities
(RecordKinds, RecordError, parse_iso_date) and expiry alerts (ExpiryRule, day_stamp), on real files and a real
SQLite store."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from core.api import (PHOTO_MIME_BY_EXT, CheckedPhoto, Entity, ExpiryRule, PhotoError, PhotoFolders, Reading,
                      RecordError, RecordKinds, Severity, check_photo, day_stamp, parse_iso_date, sniff_image)
from core.data.store import open_store

MB = 1_000_000


def picture(fmt: str, size: tuple[int, int] = (40, 30), noise: bool = False) -> bytes:
    img = Image.effect_noise(size, 60).convert("RGB") if noise else Image.new("RGB", size, (200, 40, 40))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


# -- photos: checks ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt,mime,ext", [("JPEG", "image/jpeg", "jpg"), ("PNG", "image/png", "png"),
                                          ("WEBP", "image/webp", "webp")])
def test_a_good_photo_is_accepted_with_its_format_size_and_hash_name(fmt: str, mime: str, ext: str) -> None:
    data = picture(fmt)
    p = check_photo(data, MB, 10 * MB)
    assert (p.fmt, p.mime, p.ext, p.width, p.height, p.data) == (fmt, mime, ext, 40, 30, data)
    assert re.fullmatch(rf"[0-9a-f]{{32}}\.{ext}", p.name) and p.name == check_photo(data, MB, 10 * MB).name
    assert PHOTO_MIME_BY_EXT[ext] == mime and sniff_image(data[:16]) == fmt


def test_bad_photos_are_refused_saying_why() -> None:
    jpeg = picture("JPEG")
    big = picture("PNG", (300, 300), noise=True)
    bomb = io.BytesIO()
    Image.new("1", (5000, 5000)).save(bomb, "PNG")    # a few KB, 25 megapixels
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    cases = [
        (b"", 1 * MB, "empty"),
        (big, len(big) - 1, "MB; at most"),                                         # too big
        (b"<html><script>alert(1)</script></html>", 1 * MB, "not a JPEG, PNG or WebP"),   # not an image
        (gif.getvalue(), 1 * MB, "not a JPEG, PNG or WebP"),                         # a picture of another type
        (b"\xff\xd8\xff\xe0" + b"\x00" * 4000, 1 * MB, "damaged or not a picture"),  # JPEG magic, no JPEG
        (jpeg[: len(jpeg) // 2], 1 * MB, "damaged or not a picture"),                # cut off half-way
        (b"\x89PNG\r\n\x1a\n" + jpeg[8:], 1 * MB, "damaged or not a picture"),       # PNG magic on a JPEG body
        (bomb.getvalue(), 1 * MB, "megapixels"),                                     # decompression bomb
    ]
    for n, (data, max_bytes, why) in enumerate(cases):
        with pytest.raises(PhotoError, match=why):
            check_photo(data, max_bytes, 4 * MB)
        assert isinstance(PhotoError("x"), ValueError), n
    for wrong in ("a string", None, 42, ["bytes"]):                                  # not bytes at all
        with pytest.raises(PhotoError, match="must be bytes"):
            check_photo(wrong, MB, MB)  # type: ignore[arg-type]
    assert check_photo(bytearray(jpeg), MB, MB).data == jpeg                         # bytes-like is fine


def test_the_size_limits_are_inclusive() -> None:
    png = picture("PNG", (20, 10))
    assert check_photo(png, len(png), 200).width == 20
    with pytest.raises(PhotoError, match="20×10 pixels"):
        check_photo(png, len(png), 199)


# -- photos: folders --------------------------------------------------------------------------------------
def test_photo_folders_store_find_serve_and_remove_by_hash_name(tmp_path: Path) -> None:
    folders = PhotoFolders("/plugins/x/photos", re.compile(r"^rec\.[0-9]{3}$"), "record id")
    photo = check_photo(picture("PNG"), MB, MB)
    name = folders.save(tmp_path, "rec.001", photo)
    assert name == photo.name and folders.save(tmp_path, "rec.001", photo) == name      # same bytes, one file
    stored = tmp_path / "rec.001" / name
    assert stored.read_bytes() == photo.data and stored.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in (tmp_path / "rec.001").iterdir()] == [name]                   # no temp file left
    assert folders.path(tmp_path, "rec.001", name) == stored
    assert folders.url("rec.001", name) == f"/plugins/x/photos/rec.001/{name}"
    for folder, what in (("rec.002", name), ("..", name), ("rec.001", "../" + name), ("rec.001", name.upper()),
                         ("rec.001", "0" * 32 + ".gif")):
        assert folders.path(tmp_path, folder, what) is None, (folder, what)
    folders.remove(tmp_path, "rec.001", "not-a-photo-name")                               # ignored
    folders.remove(tmp_path, "rec.001", name)
    assert not stored.exists() and folders.path(tmp_path, "rec.001", name) is None


def test_photo_folders_refuse_an_owner_id_that_cannot_name_a_folder(tmp_path: Path) -> None:
    loose = PhotoFolders("/p", re.compile(r"^[A-Za-z0-9_.-]{1,120}$"), "grid id")
    photo = check_photo(picture("JPEG"), MB, MB)
    for bad in ("..", ".", "a/b", "", "x" * 121):
        with pytest.raises(PhotoError, match=r"grid id .* cannot name a folder"):
            loose.save(tmp_path / "root", bad, photo)
    assert not (tmp_path / "root").exists() and not list(tmp_path.rglob("*.jpg"))
    assert isinstance(photo, CheckedPhoto)


# -- records as entities ----------------------------------------------------------------------------------
class ThingError(RecordError):
    """The test plugin's error."""


@dataclass
class Place:
    id: str
    name: str
    name_en: str
    lon: float | None = None
    lat: float | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class Visit:
    id: str
    place_name: str
    day: str
    note: str = ""


KINDS = RecordKinds("things", {Place: "th_place", Visit: "th_visit"}, ThingError, "th_", ("place_name",),
                    lambda o: f"visit {o.day}" if isinstance(o, Visit) and o.note == "named" else None)


def test_records_round_trip_through_a_real_store_with_their_audit_entry(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    place = Place("th.p1", "一号站", "Station 1", 116.4, 39.9, ["a"])
    nowhere = Place("th.p2", "二号站", "Station 2")
    visits = [Visit("th.v1", "一号站", "2026-03-01"), Visit("th.v2", "", "2026-03-02"),
              Visit("th.v3", "一号站", "2026-03-03", "named")]
    KINDS.save(store, [place, nowhere, *visits], "tester" * 20, "seed", "things:all", None, {"n": 5})
    e = store.entity("th.p1")
    assert (e.kind, e.plugin, e.name, e.name_en) == ("th_place", "things", "一号站", "Station 1")
    assert e.geometry == {"type": "Point", "coordinates": [116.4, 39.9]} and e.properties == {"tags": ["a"]}
    assert store.entity("th.p2").geometry is None
    assert [store.entity(v.id).name for v in visits] == ["一号站", "th.v2", "visit 2026-03-03"]
    assert KINDS.get(store, Place, "th.p1") == place and KINDS.get(store, Visit, "th.v3") == visits[2]
    assert sorted(KINDS.load_all(store, Visit), key=lambda v: v.id) == visits
    entry = store.audit_log()[-1]
    assert (entry.actor, entry.action, entry.target, entry.new) == (("tester" * 20)[:64], "things.seed", "things:all",
                                                                    {"n": 5})
    with pytest.raises(ThingError) as err:
        KINDS.get(store, Visit, "th.p1", "visit")            # a place is not a visit
    assert err.value.field == "visit" and str(err.value) == "field 'visit': no visit 'th.p1'"
    store.upsert([Entity(id="th.x", kind="th_place", name="x", plugin="other")])
    with pytest.raises(ThingError, match="no place 'th.x'"):
        KINDS.get(store, Place, "th.x")                      # another plugin's entity
    KINDS.save(store, [KINDS.to_entity(Place("th.p3", "三号站", ""))], "t", "add", "p3")   # a ready entity
    assert KINDS.load(Place, store.entity("th.p3")) == Place("th.p3", "三号站", "")


def test_parse_iso_date_names_the_field_with_the_plugins_error() -> None:
    assert parse_iso_date(" 2026-02-28 ", "due") == dt.date(2026, 2, 28)
    assert parse_iso_date(dt.date(2026, 1, 1), "due") == dt.date(2026, 1, 1)
    for bad in ("28.02.2026", "2026-02-30", None, ""):
        with pytest.raises(ThingError) as err:
            parse_iso_date(bad, "items[2].due", ThingError)
        assert err.value.field == "items[2].due" and "is not a date (YYYY-MM-DD)" in err.value.detail
    assert str(RecordError("bad")) == "bad" and RecordError("bad").field is None


# -- expiry alerts ----------------------------------------------------------------------------------------
def rule(warn_days: int = 60) -> ExpiryRule:
    return ExpiryRule("p.cert", "days_left", warn_days, "{warn_days}天内到期", "expires within {warn_days} days",
                      "剩余 {days} 天", "{days} days left", "已过期", "expired", "已过期 {days} 天",
                      "expired {days} days ago")


def test_expiry_rule_levels_texts_and_clearing() -> None:
    ts = day_stamp(dt.date(2026, 3, 1))
    readings = [Reading(e, "days_left", ts, v, "d") for e, v in (("a", 61), ("b", 60), ("c", 31), ("d", 30),
                                                                 ("e", 0), ("f", -3))]
    readings.append(Reading("g", "other", ts, -5))
    got = {d.entity_id: d for d in rule().evaluate(readings)}
    assert {k: d.severity for k, d in got.items()} == {"b": Severity.IV, "c": Severity.IV, "d": Severity.III,
                                                       "e": Severity.III, "f": Severity.II}
    assert (got["b"].title, got["b"].title_en, got["b"].message, got["b"].message_en, got["b"].value) == \
        ("60天内到期", "expires within 60 days", "剩余 60 天", "60 days left", 60)
    assert (got["f"].title, got["f"].message, got["f"].message_en, got["f"].rule_id) == \
        ("已过期", "已过期 3 天", "expired 3 days ago", "p.cert")
    assert rule().clears(readings[0]) and not rule().clears(readings[1])
    assert {d.severity for d in rule(20).evaluate(readings)} == {Severity.III, Severity.II}   # within 30 d: III
    with pytest.raises(KeyError):
        ExpiryRule("p.x", "m", 10, "{nope}", "", "", "", "", "", "", "")                    # found when made


def test_day_stamp_is_noon_of_the_day() -> None:
    day = dt.date(2026, 3, 1)
    assert dt.datetime.fromtimestamp(day_stamp(day)) == dt.datetime(2026, 3, 1, 12)
    assert day_stamp(day + dt.timedelta(days=1)) > day_stamp(day)

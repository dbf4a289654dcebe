"""Uploading best-track files: the managers' page ``/plugins/flood_defence/admin/best-track`` and the
``twinboard typhoon import|list|drop`` commands. Both parse the whole file first and store nothing when a
line is malformed; they show every ``file:line: field`` error."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import flask

from core.api import RouteSpec, current_identity, open_configured_store

from . import best_tracks, data
from .settings import cycle_hours

TEMPLATE = Path(__file__).with_name("typhoon_admin.html")
ROUTE = "/plugins/flood_defence/admin/best-track"


def _host() -> Any:
    return flask.current_app.config["TWINBOARD_HOST"]


def _period(settings: Any) -> tuple[datetime, datetime]:
    start = best_tracks.parse_time(settings.typhoon_start, "typhoon_start")
    return start, start + timedelta(hours=cycle_hours(settings))


def admin_page() -> Any:
    """GET: the uploaded files, the twin's file and the storm the panels show; POST: upload (``file``) or
    withdraw (``drop``) a file."""
    host = _host()
    lang = "en" if flask.request.args.get("lang") == "en" else "zh"
    settings = host.plugins.records["flood_defence"].settings
    actor = (current_identity() or {}).get("user") or "?"
    errors: list[str] = []
    imported: list[Any] = []
    status = 200
    req = flask.request
    if req.method == "POST":
        if req.form.get("drop"):
            if not best_tracks.drop_best_track(host.store, req.form["drop"], actor):
                errors, status = [f"no uploaded best-track file named {req.form['drop']!r}"], 404
        else:
            upload = req.files.get("file")
            if upload is None or not upload.filename:
                errors, status = ["choose a best-track file (CMA format, e.g. CH2019BST.txt)"], 400
            else:
                try:
                    imported = best_tracks.import_best_track(host.store, upload.filename, upload.read(), actor)
                except best_tracks.BestTrackImportError as exc:
                    errors, status = [str(e) for e in exc.errors], 400
    start, end = _period(settings)
    try:
        offered = best_tracks.catalogue(host.store, settings)
        choice = best_tracks.choose(offered, settings.typhoon_storm, start, end, settings.district_lat,
                                    settings.district_lon)
        catalogue_error = None
    except Exception as exc:  # noqa: BLE001 - a broken twin file is shown here, uploads still work
        offered, choice, catalogue_error = [], None, f"{exc.__class__.__name__}: {exc}"
    html = flask.render_template_string(
        TEMPLATE.read_text(encoding="utf-8"), t=lambda m: host.translator.gettext(m, lang), lang=lang,
        identity=current_identity(), zh=lang != "en", errors=errors, imported=imported,
        files=best_tracks.stored_files(host.store),
        twin_file=settings.typhoon_file, twin_storms=_twin_storms(settings), choice=choice,
        catalogue_error=catalogue_error, asked=settings.typhoon_storm, period=(start, end), bjt=best_tracks.BJT,
        max_errors=best_tracks.MAX_ERRORS, fmt=lambda ts: time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)),
        offered=len(offered))
    return html, status


def _twin_storms(settings: Any) -> list[Any]:
    try:
        return data.storms(settings)
    except Exception:  # noqa: BLE001 - shown as the catalogue error
        return []


def routes() -> list[RouteSpec]:
    """The managers' upload page."""
    return [RouteSpec("admin/best-track", admin_page, methods=("GET", "POST"), endpoint="fd_best_track",
                      role="manager")]


# -- twinboard typhoon ... ----------------------------------------------------------------------------

def _import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        content = path.read_bytes()
    except OSError as exc:
        print(f"twinboard: {path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 2
    store = open_configured_store(args.config)
    try:
        storms = best_tracks.parse_upload(str(path), content)   # errors name the path as given
        best_tracks.import_best_track(store, path.name, content, args.actor)
    except best_tracks.BestTrackImportError as exc:
        for e in exc.errors:
            print(f"twinboard: {e}", file=sys.stderr)
        print(f"twinboard: {path}: refused, nothing stored ({len(exc.errors)} error"
              f"{'' if len(exc.errors) == 1 else 's'})", file=sys.stderr)
        return 2
    print(f"stored {path.name}: {len(storms)} storm{'' if len(storms) == 1 else 's'}")
    for s in storms:
        print(f"  {_storm_line(s)}")
    return 0


def _storm_line(s: Any) -> str:
    bjt = best_tracks.BJT
    return (f"{s.cn_id} {s.intl_id} {s.name:<14} {s.start.astimezone(bjt):%Y-%m-%d %H:%M} – "
            f"{s.end.astimezone(bjt):%Y-%m-%d %H:%M} BJT, {len(s.points)} points, peak {s.peak.wind_ms or 0:.0f} m/s")


def _list(args: argparse.Namespace) -> int:
    files = best_tracks.stored_files(open_configured_store(args.config))
    if not files:
        print("no best-track file uploaded (twinboard typhoon import FILE)")
    for f in files:
        print(f"{f.name}  uploaded {time.strftime('%Y-%m-%d %H:%M', time.localtime(f.uploaded_at))} by "
              f"{f.uploaded_by}: {len(f.storms)} storm{'' if len(f.storms) == 1 else 's'}")
        for s in f.storms:
            print(f"  {_storm_line(s)}")
    return 0


def _drop(args: argparse.Namespace) -> int:
    if best_tracks.drop_best_track(open_configured_store(args.config), args.name, args.actor):
        print(f"withdrew {args.name}: its storms are no longer offered")
        return 0
    print(f"twinboard: no uploaded best-track file named {args.name!r}", file=sys.stderr)
    return 1


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """``twinboard typhoon import FILE | list | drop NAME``."""
    p = subparsers.add_parser("typhoon", help="typhoon best-track files (CMA format) of the flood_defence plugin")
    sub = p.add_subparsers(dest="typhoon_command", required=True)
    i = sub.add_parser("import", help="store a CMA best-track file (e.g. CH2019BST.txt) for the typhoon panels; "
                                      "a file of the same name is replaced; nothing is stored when a line is bad")
    i.add_argument("file", type=Path)
    i.add_argument("--actor", default="cli", help="who imports, for the audit log (default cli)")
    i.set_defaults(fn=_import)
    sub.add_parser("list", help="the uploaded files and their storms").set_defaults(fn=_list)
    d = sub.add_parser("drop", help="withdraw an uploaded file (its storms are no longer offered)")
    d.add_argument("name", help="the file's name as listed")
    d.add_argument("--actor", default="cli")
    d.set_defaults(fn=_drop)

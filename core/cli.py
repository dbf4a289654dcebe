"""The ``twinboard`` command: serve, check-config, plugins list, new-plugin, db init, gis import."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import TwinboardError
from core.data.users import ALL_ROLES, UserError


def _check_config(args: argparse.Namespace) -> int:
    """Validate settings, dashboards, playlists, manifests, twin files and every panel reference."""
    from core.web.dashboards import load_dashboards, load_playlists, load_plugin_dashboards
    from core.runtime.host import Host
    from core.plugins.manager import PluginStatus
    from core.settings import load_settings
    from core.yamlfile import load_yaml
    settings = load_settings(args.config, run_sources=False, database_url="sqlite://")
    boards = load_dashboards(settings.path(settings.dashboards_dir))
    host = Host(settings)
    boards = {**load_plugin_dashboards(host.plugins, boards), **boards}   # plugins' own dashboards too
    load_playlists(settings.path(settings.playlists_file), boards)
    host.start()
    problems = []
    for name, rec in sorted(host.plugins.records.items()):
        if rec.status in (PluginStatus.FAILED, PluginStatus.INCOMPATIBLE):
            problems.append(f"plugin {name} ({rec.location}): {rec.status.value}: {rec.error}")
    offered = host.all_panels()
    for uid, (board, path) in sorted(boards.items()):
        doc = load_yaml(path) if isinstance(path, Path) else None
        for i, p in enumerate(board.panels):
            if p.panel not in offered:
                line = doc.line_of(["panels", i, "panel"]) if doc else None
                problems.append(f"{path}{f':{line}' if line else ''}: field 'panels.{i}.panel': unknown panel "
                                f"{p.panel!r} (offered: {', '.join(sorted(offered)) or 'none'})")
    from core.web.walltext import lint_dashboard_panels   # wall text under the minimum (docs/plugins.md)
    problems += lint_dashboard_panels(host, {u: b for u, (b, _) in boards.items()})
    host.stop()
    for p in problems:
        print(f"twinboard: {p}", file=sys.stderr)
    if not problems:
        print(f"config OK: {len(boards)} dashboards, {len(host.plugins.records)} plugins, "
              f"{len(offered)} panels")
    return 1 if problems else 0


def _plugins_list(args: argparse.Namespace) -> int:
    from core.plugins.manager import build_plugin_manager
    from core.settings import load_settings
    settings = load_settings(args.config)
    manager = build_plugin_manager(settings)
    rows = [r.as_dict() for r in manager.records.values()]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for r in rows:
        title = (r["title"] or {}).get("zh", "")
        print(f"{r['name']:<20} {r['version'] or '-':<8} {r['state']:<13} {r['origin']:<12} {title}"
              + (f"  !! {r['error']}" if r["error"] else ""))
    return 0


def _new_plugin(args: argparse.Namespace) -> int:
    from core.plugins.scaffold import scaffold_package, scaffold_plugin
    if args.package:
        path = scaffold_package(args.name, args.dest or Path("."))
        print(f"created {path}; install it with: .venv/bin/pip install {path}  "
              f"(tests: .venv/bin/python -m pytest {path / 'tests'})")
        return 0
    path = scaffold_plugin(args.name, args.dest or Path("plugins"))
    print(f"created {path}; run its test with: .venv/bin/python -m pytest {path / 'tests'}")
    return 0


def _docs(args: argparse.Namespace) -> int:
    """docs api: write (or with --check compare) the plugin API reference generated from core.api."""
    from core.apiref import render_api_reference
    text = render_api_reference()
    out: Path = args.out
    if args.check:
        current = out.read_text(encoding="utf-8") if out.exists() else ""
        if current != text:
            print(f"twinboard: {out} is out of date; run `twinboard docs api` and commit it", file=sys.stderr)
            return 1
        print(f"{out} is up to date")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out} ({text.count(chr(10))} lines)")
    return 0


def _db_init(args: argparse.Namespace) -> int:
    from core.settings import load_settings
    from core.data.store import open_store
    settings = load_settings(args.config)
    store = open_store(settings.url)
    print(f"database ready: {store.engine.url.render_as_string(hide_password=True)}")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise UserError("the two passwords differ")
    return first


def _user(args: argparse.Namespace) -> int:
    from core.settings import load_settings
    from core.data.store import open_store
    from core.data.users import Users
    users = Users(open_store(load_settings(args.config).url))
    actor = "cli"
    if args.user_command == "add":
        users.add(args.name, _read_password(args), args.role, actor, scope=args.scope)
        print(f"user {args.name} added with role {args.role}" + (f" ({args.scope})" if args.scope else ""))
    elif args.user_command == "passwd":
        users.set_password(args.name, _read_password(args), actor)
        print(f"password of {args.name} changed")
    elif args.user_command in ("role", "set-role"):
        users.set_role(args.name, args.role, actor, scope=args.scope)
        print(f"{args.name} is now {args.role}" + (f" ({args.scope})" if args.scope else ""))
    else:
        for u in users.all():
            print(f"{u.username:<24} {u.role}" + (f"  {u.scope}" if u.scope else ""))
    return 0


def _gis(args: argparse.Namespace) -> int:
    """gis import / list / drop: the bureau's own GIS data (core.geo.gis_import)."""
    from core.settings import load_settings
    from core.data.store import open_store
    from core.geo import gis_import
    store = open_store(load_settings(args.config).url)
    if args.gis_command == "import":
        result = gis_import.import_file(store, args.file, args.layer, crs=args.crs, gcj02=args.gcj02,
                                        actor=args.actor, source_layer=args.source_layer)
        if args.json:
            print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        else:
            for line in result.lines():
                print(line, file=sys.stderr if line.startswith("warning:") else sys.stdout)
        return 0
    if args.gis_command == "drop":
        if gis_import.drop_layer(store, args.layer, actor=args.actor):
            print(f"dropped the imported {args.layer}")
            return 0
        print(f"twinboard: no {args.layer} layer has been imported", file=sys.stderr)
        return 1
    rows = gis_import.imports(store)
    if args.json:
        print(json.dumps([r.model_dump() for r in rows], ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no GIS data imported (twinboard gis import FILE --as roads|boundary|places|shelters|resources|dem)")
    import time as _time
    for r in rows:
        when = _time.strftime("%Y-%m-%d %H:%M", _time.localtime(r.imported_at))
        print(f"{r.layer:<10} {r.feature_count:>9,} feature{' ' if r.feature_count == 1 else 's'}  {r.file_name}  ({r.source_crs}"
              f"{', from GCJ-02' if r.gcj02 else ''})  {when} by {r.actor}, revision {r.revision}"
              + (f"  [{len(r.warnings)} warning{'s' if len(r.warnings) != 1 else ''}]" if r.warnings else ""))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from core.web.serve import serve
    return serve(args.config, args.host, args.port, debug=args.debug, workers=args.workers, threads=args.threads,
                 role=args.role, access_log=args.access_log)


def _worker(args: argparse.Namespace) -> int:
    from core.runtime.worker import run_worker
    return run_worker(args.config, ttl_s=args.lease_ttl)


def _up(args: argparse.Namespace) -> int:
    from core.runtime.topology import run_topology
    return run_topology(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twinboard", description="twinboard digital-twin dashboard host")
    parser.add_argument("--config", type=Path, default=None, help="settings YAML (default config/default.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)
    from core.web.serve import DEFAULT_THREADS
    s = sub.add_parser("serve", help="serve the dashboards on gunicorn (threaded workers)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8050)
    s.add_argument("--workers", type=int, default=1,
                   help="web processes (default 1: the one-process twin that also runs the sources)")
    s.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                   help=f"threads per web process (default {DEFAULT_THREADS}; each wall holds one for its long poll)")
    s.add_argument("--role", choices=("all", "web"), default=None,
                   help="all: serve and run sources (default with 1 worker); web: serve only, sources run in "
                        "`twinboard worker` (default with more workers)")
    s.add_argument("--debug", action="store_true", help="Werkzeug's development server, one process (never in production)")
    s.add_argument("--access-log", action="store_true", help="log every request")
    s.set_defaults(fn=_serve)
    w = sub.add_parser("worker", help="run sources, alert rules and on_event (one active, the others stand by)")
    w.add_argument("--lease-ttl", type=float, default=6.0,
                   help="seconds a dead worker's lease lasts before a standby takes over (SQLite; default 6)")
    w.set_defaults(fn=_worker)
    up = sub.add_parser("up", help="the whole topology on this machine: Redis, web processes, workers, helpers")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8050)
    up.add_argument("--web", type=int, default=2, help="web processes (default 2)")
    up.add_argument("--worker", type=int, default=1, help="workers: one active, the rest stand by (default 1)")
    up.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="threads per web process")
    up.add_argument("--redis-port", type=int, default=None,
                    help="port of the loopback Redis started when TWINBOARD_REDIS_URL is not set (default: a free one)")
    up.set_defaults(fn=_up, process_kinds={})
    sub.add_parser("check-config", help="validate settings, dashboards, plugins and twin files").set_defaults(
        fn=_check_config)
    p = sub.add_parser("plugins", help="plugin commands")
    psub = p.add_subparsers(dest="plugins_command", required=True)
    pl = psub.add_parser("list", help="every discovered plugin with version and state")
    pl.add_argument("--json", action="store_true")
    pl.set_defaults(fn=_plugins_list)
    n = sub.add_parser("new-plugin", help="scaffold a working plugin folder (or, with --package, an installable "
                                          "package) with a test")
    n.add_argument("name")
    n.add_argument("--package", action="store_true",
                   help="an installable package twinboard-<name>/ (pyproject with the entry point, plugin.toml and a "
                        "dashboard as package data, tests) instead of a folder plugin")
    n.add_argument("--dest", type=Path, default=None, help="where to create it (default plugins/, with --package .)")
    n.set_defaults(fn=_new_plugin)
    dc = sub.add_parser("docs", help="generated documentation")
    dcsub = dc.add_subparsers(dest="docs_command", required=True)
    from core.settings import PROJECT_ROOT
    da = dcsub.add_parser("api", help="write docs/api.md, the plugin API reference, from core.api's docstrings")
    da.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "api.md")
    da.add_argument("--check", action="store_true", help="only compare; exit 1 when the file is out of date")
    da.set_defaults(fn=_docs)
    d = sub.add_parser("db", help="database commands")
    dsub = d.add_subparsers(dest="db_command", required=True)
    dsub.add_parser("init", help="create the tables (idempotent)").set_defaults(fn=_db_init)
    u = sub.add_parser("user", help="users and roles (viewer, manager, admin; scoped: field --scope grid:ID, agency --scope agency:ID)")
    usub = u.add_subparsers(dest="user_command", required=True)
    for cmd, helptext in (("add", "add a user"), ("passwd", "set a user's password"), ("role", "set a user's role"),
                          ("list", "list users")):
        c = usub.add_parser(cmd, help=helptext, aliases=["set-role"] if cmd == "role" else [])
        if cmd != "list":
            c.add_argument("name")
        if cmd == "role":
            c.add_argument("role", choices=ALL_ROLES)
        if cmd == "add":
            c.add_argument("--role", default="viewer", choices=ALL_ROLES)
        if cmd in ("add", "role"):
            c.add_argument("--scope", default=None, help="a scoped role's scope, e.g. grid:gp.grid.haimen-1 for field")
        if cmd in ("add", "passwd"):
            c.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        c.set_defaults(fn=_user)
    g = sub.add_parser("gis", help="the bureau's own GIS data: roads, boundary, places, shelters, resources, DEM")
    gsub = g.add_subparsers(dest="gis_command", required=True)
    gi = gsub.add_parser("import", help="import a GeoJSON, zipped Shapefile, GeoPackage, OSM or GeoTIFF file "
                                        "(replaces the layer's previous import)")
    gi.add_argument("file", type=Path)
    gi.add_argument("--as", dest="layer", required=True,
                    choices=("roads", "boundary", "places", "shelters", "resources", "dem"))
    gi.add_argument("--crs", default=None,
                    help="the file's coordinate system when it has none or a wrong one: EPSG:4326, EPSG:4490 "
                         "(CGCS2000), EPSG:3857, EPSG:4549 (CGCS2000 3-degree Gauss-Kruger CM 120E)...")
    gi.add_argument("--gcj02", action="store_true",
                    help="the coordinates are GCJ-02 (Chinese web maps): convert them to WGS-84")
    gi.add_argument("--layer", dest="source_layer", default=None, help="the layer to read from a multi-layer file")
    gi.add_argument("--actor", default="cli", help="who imports, for the audit log (default cli)")
    gi.add_argument("--json", action="store_true", help="print the result as JSON")
    gi.set_defaults(fn=_gis)
    gl = gsub.add_parser("list", help="what has been imported")
    gl.add_argument("--json", action="store_true")
    gl.set_defaults(fn=_gis)
    gd = gsub.add_parser("drop", help="remove an imported layer (the demo data takes over again)")
    gd.add_argument("layer", choices=("roads", "boundary", "places", "shelters", "resources", "dem"))
    gd.add_argument("--actor", default="cli")
    gd.set_defaults(fn=_gis)
    _add_plugin_commands(sub, up)
    return parser


def _add_plugin_commands(sub: argparse._SubParsersAction, up: argparse.ArgumentParser) -> None:
    """Let each loadable plugin add its own sub-commands (register_commands hook) and its helper
    process kinds to ``twinboard up`` (register_processes hook)."""
    from core.plugins.manager import build_plugin_manager
    from core.settings import load_settings
    try:
        settings = load_settings()
    except TwinboardError:
        return  # a broken settings file is reported by the command that needs it
    manager = build_plugin_manager(settings)
    kinds: dict[str, object] = {}
    for name in manager.names():
        before = set(sub.choices)
        manager.call(name, "register_commands", subparsers=sub)
        for cmd in set(sub.choices) - before:
            sub.choices[cmd].set_defaults(plugin=name)
        for spec in manager.call(name, "register_processes", settings=manager.records[name].settings) or []:
            if spec.kind in kinds:
                continue
            kinds[spec.kind] = spec
            up.add_argument(f"--{spec.kind.replace('_', '-')}", type=int, default=0, dest=f"proc_{spec.kind}",
                            help=f"{spec.help or spec.kind} (plugin {name}; default 0)")
    up.set_defaults(process_kinds=kinds)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except TwinboardError as exc:
        print(f"twinboard: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

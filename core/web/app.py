"""create_app(settings) → Dash: /screen/<uid>, /playlist/<uid>, /, /api/*, plugin routes."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import flask
from dash import Dash, Input, Output, dcc, html

from core import __version__
from core.web.admin import build_admin
from core.web.auth import install_auth
from core.web.dashboards import Dashboard, load_dashboards, load_playlists, load_plugin_dashboards
from core.web.geo_api import register_geo_api
from core.runtime.host import Host
from core.i18n import normalize_locale
from core.plugins.contributions import HOST_PATH_ROOTS, RouteSpec
from core.plugins.manifest import Manifest
from core.web.pages import index_page, playlist_page
from core.plugins.manager import PluginStatus
from core.web.screen import screen_layout
from core.web.screen_callbacks import error_card, register_screen_callbacks
from core.settings import Settings, load_settings

log = logging.getLogger(__name__)
DECKGL_ROUTE = "/vendor/deckgl/index.js"


def deckgl_bundle_path() -> Path:
    """The deck.gl bundle that ships inside the pydeck wheel (served locally, never from a CDN)."""
    import pydeck
    return Path(pydeck.__file__).parent / "nbextension" / "static" / "index.js"


def create_app(settings: Settings | None = None, *, host: Host | None = None,
               extra_plugins: Iterable[tuple[Any, Manifest]] = (), start: bool = True, role: str = "all") -> Dash:
    """Build the Dash app and its host; ``start`` loads plugins and starts their sources.

    ``role`` is the host's (core.runtime.host): ``"all"`` serves and runs sources in this process,
    ``"web"`` only serves (sources run in ``twinboard worker``).
    """
    settings = settings or load_settings()
    operator = load_dashboards(settings.path(settings.dashboards_dir))
    host = host or Host(settings, extra_plugins=extra_plugins, role=role)
    # plugins' own dashboards (dashboards/ beside the module, register_dashboards); the operator's file wins
    dashboards = {**load_plugin_dashboards(host.plugins, operator), **operator}
    playlists = load_playlists(settings.path(settings.playlists_file), dashboards)
    if start and not host.started:
        host.start()
    boards: dict[str, Dashboard] = {uid: d for uid, (d, _p) in dashboards.items()}

    app = Dash(__name__, assets_folder=str(settings.path(settings.assets_dir)), serve_locally=True,
               title="twinboard", update_title=None, suppress_callback_exceptions=True)
    server: flask.Flask = app.server
    server.secret_key = settings.secret_key or _persistent_secret(settings.path(settings.var_dir))
    server.config["TWINBOARD_HOST"] = host
    _refuse_malformed_paths(server)
    _register_public_routes(server, host)  # before sign-in: public pages need no session
    users = install_auth(server, host)
    server.register_blueprint(build_admin(host, users, boards, playlists))
    app.layout = html.Div([dcc.Location(id="tb-url", refresh=False), html.Div(id="tb-page")])

    @app.callback(Output("tb-page", "children"), Input("tb-url", "pathname"), Input("tb-url", "search"))
    def _route(pathname: str | None, search: str | None) -> Any:
        query = parse_qs((search or "").lstrip("?"))
        locale = normalize_locale((query.get("lang") or [None])[0], settings.locale)
        path = (pathname or "/").rstrip("/") or "/"
        if path.startswith("/screen/"):
            uid = path.split("/", 2)[2]
            if uid not in boards:
                return _not_found(host, locale, f"/screen/{uid}", sorted(boards))
            return screen_layout(boards[uid], host, locale)
        if path.startswith("/playlist/"):
            uid = path.split("/", 2)[2]
            if uid not in playlists:
                return _not_found(host, locale, f"/playlist/{uid}", sorted(playlists))
            return playlist_page(playlists[uid], locale)
        if path == "/":
            return index_page(host, boards, playlists, locale)
        return _not_found(host, locale, path, ["/", *(f"/screen/{u}" for u in sorted(boards))])

    register_screen_callbacks(app, host, lambda: boards)
    from core.web.federation import register_federation
    register_federation(server, host)   # POST /api/federation/inbox, /admin/federation (docs/federation.md)
    _register_api(server, host, boards)
    _register_plugin_routes(server, host)
    return app


#: Longest request path answered; longer ones are malformed (404).
MAX_PATH_CHARS = 2048
_COMPONENT_SUITES = "/_dash-component-suites/"


def _refuse_malformed_paths(server: flask.Flask) -> None:
    """Answer 404, not 500, for malformed paths: ``..`` segments (also percent-encoded), NUL or other
    control characters, overlong paths, and component-suite requests for a package or file Dash did
    not register (Dash raises DependencyException for those)."""
    from dash.exceptions import DependencyException

    def not_found() -> flask.Response:
        return flask.Response("404: not found", status=404, mimetype="text/plain; charset=utf-8")

    @server.before_request
    def _malformed() -> Any:
        path = flask.request.path  # already percent-decoded by werkzeug
        if (len(path) > MAX_PATH_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in path)
                or ".." in path.split("/") or "\\" in path):
            return not_found()
        if path.startswith(_COMPONENT_SUITES) and "/" not in path[len(_COMPONENT_SUITES):].strip("/"):
            return not_found()  # a package without a file: Dash's catch-all would serve the page shell
        return None

    @server.errorhandler(DependencyException)
    def _unknown_dependency(_exc: DependencyException) -> Any:
        return not_found()


def _persistent_secret(var_dir: Path) -> str:
    """The session-signing key, made once and kept under var/ so sessions and walls survive restarts.

    Processes starting together agree on one key: it is written to a private temporary file and
    hard-linked into place, which fails for all but the first (they then read the first's key).
    """
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        tmp = var_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _not_found(host: Host, locale: str, what: str, known: list[str]) -> html.Div:
    t = lambda m: host.translator.gettext(m, locale)  # noqa: E731
    return html.Div(className="tb-page", children=[
        error_card(t("Not found"), what, t("Known") + ": " + ", ".join(known))])


def _register_api(server: flask.Flask, host: Host, boards: dict[str, Dashboard]) -> None:
    @server.get("/api/health")
    def _health() -> Any:
        """Liveness: this process answers (its plugins, sources and role in the document)."""
        return flask.jsonify(host.health())

    @server.get("/api/ready")
    def _ready() -> Any:
        """Readiness for a load balancer: 200 when the database and the event transport answer, else 503."""
        ok, doc = host.ready()
        return flask.jsonify(doc), (200 if ok else 503)

    @server.get("/api/dashboards")
    def _dashboards() -> Any:
        return flask.jsonify([{"uid": u, "title": d.title.model_dump(), "panels": [p.panel for p in d.panels]}
                              for u, d in sorted(boards.items())])

    @server.get("/api/alerts")
    def _alerts() -> Any:
        return flask.jsonify([a.model_dump() for a in host.store.alerts()])

    @server.get("/api/changes")
    def _changes() -> Any:
        try:
            cursor = int(flask.request.args.get("cursor", "0"))
        except ValueError:
            return flask.jsonify({"error": "cursor must be an integer"}), 400
        events = host.bus.since(cursor)
        return flask.jsonify({"cursor": host.bus.cursor, "events": [e.as_dict() for e in events[-500:]]})

    watcher = host.walls

    @server.get("/api/wall")
    def _wall() -> Any:
        """The wall's mode; with ``since`` (the last state's) and ``wait`` (s), answers when it changes."""
        from core.runtime.wall import DEFAULT_WALL
        args = flask.request.args
        try:
            known = float(args["since"]) if args.get("since") not in (None, "", "null") else None
            wait = float(args.get("wait", 0))
        except ValueError:
            return flask.jsonify({"error": "since and wait must be numbers"}), 400
        wall = args.get("wall", DEFAULT_WALL)[:64]
        return flask.jsonify(watcher.wait(host.store, wall, known if wait > 0 else None, wait))

    @server.post("/api/admin/wall")
    def _wall_set() -> Any:
        from core.web.auth import current_identity
        from core.runtime.wall import DEFAULT_WALL, WallModeError, set_wall_mode
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict):
            return flask.jsonify({"error": "expected a JSON object {mode, incident_id?, wall?}"}), 400
        incident = body.get("incident_id")
        if incident is not None and not isinstance(incident, int):
            return flask.jsonify({"error": "incident_id must be an integer"}), 400
        try:
            state = set_wall_mode(host.store, host.bus, str(body.get("mode", "")),
                                  current_identity().get("user") or "manager", incident,
                                  str(body.get("wall") or DEFAULT_WALL)[:64])
        except WallModeError as exc:
            return flask.jsonify({"error": str(exc)}), 400
        return flask.jsonify(state)

    register_geo_api(server, host)      # /api/basemap, /api/entities: the read API for integrators

    @server.get(DECKGL_ROUTE)
    def _deckgl() -> Any:
        resp = flask.send_file(deckgl_bundle_path(), mimetype="application/javascript", max_age=86400)
        return resp

    @server.get("/api/version")
    def _version() -> Any:
        from core import PLUGIN_API_VERSION
        return flask.jsonify({"version": __version__, "plugin_api_version": PLUGIN_API_VERSION})


def _register_public_routes(server: flask.Flask, host: Host) -> None:
    """Serve plugins' ``public=True`` routes at the top level (``/<rule>``, e.g. ``/press``), GET only.

    Runs before sign-in, so no identity, session or CSRF check applies; ``flask.g.tb_public`` tells the
    auth layer to set no cookie on the answer. Matched at request time like other plugin routes (a
    disabled plugin's public pages answer 404); the first enabled plugin, by name, with the rule serves it.
    """
    from werkzeug.exceptions import MethodNotAllowed, NotFound
    from werkzeug.routing import Map, Rule

    maps: dict[str, tuple[list[RouteSpec], list[RouteSpec], Map, frozenset[str]]] = {}

    def _rules(name: str, all_routes: list[RouteSpec]) -> tuple[list[RouteSpec], Map, frozenset[str]]:
        hit = maps.get(name)
        if hit is None or hit[0] is not all_routes:
            routes = [r for r in all_routes if r.public]
            hit = (all_routes, routes, Map([Rule("/" + r.rule.lstrip("/"), endpoint=i, methods=list(r.methods))
                                            for i, r in enumerate(routes)]),
                   frozenset(r.rule.lstrip("/").split("/", 1)[0] for r in routes))
            maps[name] = hit
        return hit[1], hit[2], hit[3]

    @server.before_request
    def _public_route() -> Any:
        path = flask.request.path
        first = path.lstrip("/").split("/", 1)[0]
        if not first or first.startswith("_") or first in HOST_PATH_ROOTS:
            return None
        for name in host.plugins.names(PluginStatus.ENABLED):
            contrib = host.contributions.get(name)
            if contrib is None:
                continue
            routes, rules, roots = _rules(name, contrib.routes)
            if first not in roots:
                continue
            try:
                index, args = rules.bind("localhost").match(path, method=flask.request.method)
            except NotFound:
                continue
            except MethodNotAllowed:
                flask.g.tb_public = True
                return flask.Response("405: public pages are read-only", status=405, headers={"Allow": "GET, HEAD"},
                                      mimetype="text/plain; charset=utf-8")
            flask.g.tb_public = True
            return routes[index].view_func(**args)
        return None


def _register_plugin_routes(server: flask.Flask, host: Host) -> None:
    """Serve plugins' routes under /plugins/<name>/ (phone pages, ``mobile=True``, under /m/), matched at
    request time so enabling or disabling a plugin at run time adds or removes its routes without a restart.

    The dispatcher checks the route's role (a scoped role only where ``scoped_roles`` names it; refusals
    of scoped users are audited), then raises the body limit for a route with ``max_bytes``, then checks
    CSRF itself (the global check would read the body under the host's 256 kB limit first).
    """
    from werkzeug.exceptions import MethodNotAllowed, NotFound
    from werkzeug.routing import Map, Rule

    from core.data.users import is_scoped, role_at_least
    from core.web.auth import _deny, current_identity, refuse_scoped

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    # compiled rules per (plugin, mobile), kept while the plugin's route list is the same object (compiling a
    # werkzeug Map costs milliseconds: not on every request)
    maps: dict[tuple[str, bool], tuple[list[RouteSpec], list[RouteSpec], Map]] = {}

    def _rules(name: str, all_routes: list[RouteSpec], mobile: bool) -> tuple[list[RouteSpec], Map]:
        hit = maps.get((name, mobile))
        if hit is None or hit[0] is not all_routes:
            routes = [r for r in all_routes if r.mobile == mobile and not r.public]
            hit = (all_routes, routes, Map([Rule("/" + r.rule.lstrip("/"), endpoint=i, methods=list(r.methods))
                                            for i, r in enumerate(routes)]))
            maps[(name, mobile)] = hit
        return hit[1], hit[2]

    def _match(name: str, all_routes: list[RouteSpec], mobile: bool, rest: str) -> tuple[RouteSpec, dict[str, Any]] | None:
        routes, rules = _rules(name, all_routes, mobile)
        try:
            index, args = rules.bind("localhost").match("/" + rest, method=flask.request.method)
        except NotFound:
            return None
        except MethodNotAllowed:
            flask.abort(405)
        return routes[index], args

    def _call(route: RouteSpec, args: dict[str, Any]) -> Any:
        ident = current_identity()
        role = ident.get("role")
        if is_scoped(role):
            if role not in route.scoped_roles:
                return refuse_scoped(host, f"a {role} account may not use this page")
        elif route.role is not None and not role_at_least(role, route.role):
            if not role:  # not signed in: a page sends its user to sign in and back (?next=), JSON gets 401
                return _deny(401, "sign in first")
            flask.abort(403)
        if route.max_bytes:
            flask.request.max_content_length = int(route.max_bytes)  # this request only
        if server.config.get("WTF_CSRF_ENABLED", True):  # protect() itself ignores the switch
            server.extensions["csrf"].protect()
        return route.view_func(**args)

    @server.route("/plugins/<name>/", defaults={"rest": ""}, methods=methods)
    @server.route("/plugins/<name>/<path:rest>", methods=methods)
    def _plugin_route(name: str, rest: str) -> Any:
        record = host.plugins.records.get(name)
        contrib = host.contributions.get(name)
        if record is None or contrib is None or record.status != PluginStatus.ENABLED:
            flask.abort(404)
        hit = _match(name, contrib.routes, False, rest)
        if hit is None:
            flask.abort(404)
        return _call(*hit)

    @server.route("/m/<path:rest>", methods=methods)
    def _mobile_route(rest: str) -> Any:
        for name in host.plugins.names(PluginStatus.ENABLED):
            contrib = host.contributions.get(name)
            hit = _match(name, contrib.routes, True, rest) if contrib else None
            if hit is not None:
                return _call(*hit)
        flask.abort(404)

    # CSRF is checked by _call, after a route's own body limit is set
    server.extensions["csrf"].exempt(_plugin_route)
    server.extensions["csrf"].exempt(_mobile_route)

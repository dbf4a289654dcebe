"""Sign-in, roles and CSRF for the Flask server under Dash: every request is checked server-side."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from urllib.parse import urlparse

import flask
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf

from core.runtime.host import Host
from core.web.throttle import Lock, SigninThrottle
from core.i18n import normalize_locale
from core.data.users import Users, is_scoped, role_at_least

#: Paths anyone may fetch: static files, the Dash shell, health, sign-in.
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_dash-layout", "/_dash-dependencies",
                   "/_favicon.ico", "/favicon.ico", "/vendor/", "/login", "/logout", "/api/health", "/api/ready",
                   "/api/version", "/_reload-hash",
                   "/api/federation/")  # authenticated by each request's HMAC signature (docs/federation.md)
SCREEN_PREFIXES = ("/screen/", "/playlist/", "/_dash-update-component", "/api/changes", "/api/alerts",
                   "/api/dashboards", "/api/wall", "/plugins/", "/api/basemap", "/api/entities")
MANAGER_PREFIXES = ("/admin", "/api/admin/")
KIOSK_LIFETIME = dt.timedelta(days=3650)
#: where a scoped user (``field``...) may go besides the public paths: plugin routes and phone pages, and
#: there only the routes whose ``RouteSpec.scoped_roles`` name its role (checked by the route dispatcher)
SCOPED_PREFIXES = ("/plugins/", "/m/")


def current_identity() -> dict[str, Any]:
    """{"user": name or None, "role": role or None, "kiosk": label or None, "scope": scope or None}
    for this request; ``scope`` is a scoped role's (``"grid:gp.grid.haimen-1"`` for a ``field`` user)."""
    return flask.g.get("identity", {"user": None, "role": None, "kiosk": None, "scope": None})


def scoped_home(host: Host, role: str) -> str | None:
    """Where a user of a scoped role lands: the first phone page (``mobile=True`` GET route) naming it,
    else the first plugin page (a GET route without arguments) naming it."""
    for contrib in list(host.contributions.values()):
        for r in contrib.routes:
            if r.mobile and role in r.scoped_roles and "GET" in r.methods and "<" not in r.rule:
                return "/m/" + r.rule.lstrip("/")
    for name, contrib in list(host.contributions.items()):
        for r in contrib.routes:
            if not r.mobile and role in r.scoped_roles and "GET" in r.methods and "<" not in r.rule:
                return f"/plugins/{name}/" + r.rule.lstrip("/")
    return None


def refuse_scoped(host: Host, reason: str) -> Any:
    """403 for a scoped user outside what its role opens, audited (``access.refused``)."""
    ident = current_identity()
    host.store.audit(ident.get("user") or "?", "access.refused", f"path:{flask.request.path}"[:256], None,
                     {"role": ident.get("role"), "scope": ident.get("scope"), "method": flask.request.method,
                      "reason": reason})
    return _deny(403, reason)


def required_access(path: str) -> str | None:
    """None (public), "screen" (a viewer or kiosk), "manager" or "admin" for a request path."""
    if path == "/" or path.startswith(SCREEN_PREFIXES):
        return "screen"
    if path.startswith("/admin/users"):
        return "admin"
    if path.startswith(MANAGER_PREFIXES):
        return "manager"
    if path.startswith(PUBLIC_PREFIXES):
        return None
    return "screen"


def install_auth(server: flask.Flask, host: Host) -> Users:
    """Wire sessions, CSRF and the access policy into ``server``; returns the user store."""
    users = Users(host.store)
    server.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # tied to the session, not a clock
    server.config["SESSION_COOKIE_HTTPONLY"] = True
    server.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    # Dash callback payloads stay small; anything bigger is refused with 413 before it is parsed.
    server.config["MAX_CONTENT_LENGTH"] = server.config.get("MAX_CONTENT_LENGTH") or 256 * 1024
    csrf = CSRFProtect(server)
    public_screens = host.settings.public_screens
    if users.count() == 0:
        print("twinboard: no users yet. Create the first admin with:\n"
              "  .venv/bin/twinboard user add NAME --role admin", flush=True)

    @server.before_request
    def _identify() -> Any:
        identity: dict[str, Any] = {"user": None, "role": None, "kiosk": None, "scope": None}
        token = flask.request.args.get("kiosk")
        if token:
            row = users.verify_kiosk_token(token)
            if row is None:
                return _deny(401, "kiosk token is invalid or revoked")
            flask.session.clear()
            flask.session["kiosk_id"] = row.id
            flask.session.permanent = True
        if "uid" in flask.session:
            user = users.get(int(flask.session["uid"]))
            if user is not None and user.active:
                identity.update(user=user.username, role=user.role, scope=user.scope)
            else:
                flask.session.clear()
        elif "kiosk_id" in flask.session:
            if users.kiosk_live(int(flask.session["kiosk_id"])):
                identity.update(kiosk=str(flask.session["kiosk_id"]))
            else:
                flask.session.clear()
                return _deny(401, "kiosk token revoked")
        flask.g.identity = identity
        need = required_access(flask.request.path)
        if need is None:
            return None
        if is_scoped(identity["role"]):
            # a scoped role ranks outside the ladder: no screen, no admin; plugin routes decide for themselves
            if flask.request.path.startswith(SCOPED_PREFIXES):
                return None
            home = scoped_home(host, identity["role"]) if flask.request.path == "/" else None
            if home:
                return flask.redirect(home)
            return refuse_scoped(host, f"a {identity['role']} account may only use the pages opened to it")
        if need == "screen":
            if public_screens or identity["role"] or identity["kiosk"]:
                return None
            return _deny(401, "sign in to see the screens")
        if identity["kiosk"] and not identity["role"]:
            return _deny(403, "a kiosk token opens screens only")
        if not identity["role"]:
            return _deny(401, "sign in first")
        if not role_at_least(identity["role"], need):
            return _deny(403, f"this needs the {need} role")
        return None

    @server.after_request
    def _csrf_cookie(resp: flask.Response) -> flask.Response:
        # Dash's renderer sends this cookie back as the X-CSRFToken header on every callback.
        if flask.request.endpoint != "static" and not flask.g.get("tb_public"):  # public pages: no cookie
            resp.set_cookie("_csrf_token", generate_csrf(), samesite="Lax", httponly=False)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return resp

    @server.errorhandler(CSRFError)
    def _csrf_failed(exc: CSRFError) -> Any:
        return _deny(400, f"CSRF check failed: {exc.description}")

    @server.errorhandler(413)
    def _too_large(_exc: Any) -> Any:
        return flask.jsonify({"error": "request too large",   # a route's own limit (RouteSpec.max_bytes) if it has one
                              "limit_bytes": flask.request.max_content_length or server.config["MAX_CONTENT_LENGTH"]}), 413

    # failed sign-ins counted per user name and per address (core.web.throttle); /admin/signin-locks unlocks
    throttle = SigninThrottle(host.store, host.settings.redis_url)
    server.config["TWINBOARD_SIGNIN_THROTTLE"] = throttle

    @server.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        lang = normalize_locale(flask.request.args.get("lang"), host.settings.locale)
        error = None
        if flask.request.method == "POST":
            name, address = flask.request.form.get("username", "")[:64], flask.request.remote_addr or "?"
            lock = throttle.locked(name, address)  # a locked name or address: the password is not even checked
            user = None if lock else users.authenticate(name, flask.request.form.get("password", "")[:256])
            if user is not None:
                throttle.succeeded(name)
                flask.session.clear()
                flask.session["uid"] = user.id
                host.store.audit(user.username, "login", f"user:{user.username}")
                return flask.redirect(_safe_next(flask.request.args.get("next")) or "/")
            lock = lock or throttle.failed(name, address)
            if lock is not None:
                return _locked_out(host, lock, lang)
            error = "Wrong user name or password"
        return flask.render_template("login.html", t=lambda m: host.translator.gettext(m, lang), lang=lang,
                                     error=error), (401 if error else 200)

    @server.route("/logout", methods=["GET", "POST"])
    def logout() -> Any:
        flask.session.clear()
        return flask.redirect("/login")

    return users


def _locked_out(host: Host, lock: Lock, lang: str) -> Any:
    """429 with Retry-After and the sign-in page saying how long the lock lasts (zh/en)."""
    t = lambda m: host.translator.gettext(m, lang)  # noqa: E731
    wait = lock.retry_after()
    message = t("Too many failed sign-ins: locked for {minutes} more minutes, or until a manager unlocks it.")
    resp = flask.make_response(flask.render_template("login.html", t=t, lang=lang,
                                                     error=message.format(minutes=math.ceil(wait / 60))), 429)
    resp.headers["Retry-After"] = str(wait)
    return resp


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after sign-in (no open redirects)."""
    if not target:
        return None
    parsed = urlparse(target)
    # browsers read "/\\host" as "//host"; a control character could smuggle one in
    if (parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 32 for c in target)):
        return None
    return target


def _deny(status: int, reason: str) -> Any:
    path = flask.request.path
    wants_json = path.startswith(("/api/", "/_dash-")) or flask.request.is_json
    if status == 401 and not wants_json:
        return flask.redirect(f"/login?next={flask.request.full_path.rstrip('?')}")
    if wants_json:
        return flask.jsonify({"error": reason}), status
    return flask.Response(f"{status}: {reason}", status=status, mimetype="text/plain; charset=utf-8")

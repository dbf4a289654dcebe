"""Users, roles and kiosk tokens in the twin store; passwords hashed with werkzeug (scrypt)."""

from __future__ import annotations

import hashlib
import re
import secrets
import time

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from core.errors import TwinboardError
from core.data.store import Store
from core.data.twin import AuditEntry, KioskToken, User

#: the ladder: each role may do what the roles before it may
ROLES = ("viewer", "manager", "admin")
#: scoped roles rank outside the ladder: role → the kind of scope it takes (``"<kind>:<id>"``). A scoped
#: user sees no screen and no admin page; only routes that name the role in ``RouteSpec.scoped_roles``
#: (and the public paths). ``field``: a grid worker (``grid:<grid entity id>``); ``agency``: a safety
#: consultancy (中介机构) that sees only its own contracts (``agency:<agency entity id>``).
SCOPED_ROLES: dict[str, str] = {"field": "grid", "agency": "agency"}
#: every role a user may hold
ALL_ROLES = ROLES + tuple(SCOPED_ROLES)
_NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
_SCOPE_RE = re.compile(r"^([a-z][a-z0-9_]{0,31}):([A-Za-z0-9_.:@-]{1,120})$")
MIN_PASSWORD = 8


class UserError(TwinboardError):
    """A user command or form got a value it cannot take."""


def role_at_least(role: str | None, needed: str) -> bool:
    """True when ``role`` ranks at or above ``needed`` (viewer < manager < admin); a scoped role never does."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def is_scoped(role: str | None) -> bool:
    """True for a scoped role (``field``...), which ranks outside viewer < manager < admin."""
    return role in SCOPED_ROLES


def parse_scope(scope: str | None) -> tuple[str, str] | None:
    """``"grid:gp.grid.haimen-1"`` → ``("grid", "gp.grid.haimen-1")``; None for no scope or a malformed one."""
    m = _SCOPE_RE.match(scope or "")
    return (m.group(1), m.group(2)) if m else None


def check_scope(role: str, scope: str | None) -> str | None:
    """The scope a user of ``role`` may hold (normalised), or UserError saying why not.

    A scoped role needs a scope of its kind (``field`` → ``grid:<id>``); a ladder role takes none.
    """
    scope = (scope or "").strip() or None
    kind = SCOPED_ROLES.get(role)
    if kind is None:
        if scope is not None:
            raise UserError(f"scope: the role {role!r} takes no scope (only {', '.join(SCOPED_ROLES)} do)")
        return None
    parsed = parse_scope(scope)
    if parsed is None:
        raise UserError(f"scope: the role {role!r} needs a scope '{kind}:<id>' (letters, digits, . _ : @ -), "
                        f"got {scope!r}")
    if parsed[0] != kind:
        raise UserError(f"scope: the role {role!r} takes a '{kind}:' scope, not {parsed[0]!r}")
    return scope


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Users:
    """User and kiosk-token operations; every change is audited."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def count(self) -> int:
        with self.store.session() as db:
            return len(db.scalars(select(User.id)).all())

    def add(self, username: str, password: str, role: str, actor: str, scope: str | None = None) -> User:
        """A new user; a scoped role (``field``) needs its ``scope`` (``grid:<id>``). Audited."""
        if not _NAME_RE.match(username):
            raise UserError("username: 2–64 letters, digits or . _ @ -")
        self._check(password, role)
        scope = check_scope(role, scope)
        with self.store.session() as db:
            if db.scalars(select(User).where(User.username == username)).first():
                raise UserError(f"username {username!r} already exists")
            user = User(username=username, password_hash=generate_password_hash(password), role=role, scope=scope)
            db.add(user)
            db.add(AuditEntry(actor=actor, action="user.add", target=f"user:{username}",
                              new=role if scope is None else {"role": role, "scope": scope}))
            db.commit()
            return user

    def set_password(self, username: str, password: str, actor: str) -> None:
        self._check(password, "viewer")
        with self.store.session() as db:
            user = self._get(db, username)
            user.password_hash = generate_password_hash(password)
            db.add(user)
            db.add(AuditEntry(actor=actor, action="user.passwd", target=f"user:{username}"))
            db.commit()

    def set_role(self, username: str, role: str, actor: str, scope: str | None = None) -> None:
        """Change a user's role (and scope: required for a scoped role, cleared for a ladder role). Audited."""
        self._check(None, role)
        scope = check_scope(role, scope)
        with self.store.session() as db:
            user = self._get(db, username)
            old = user.role if user.scope is None else {"role": user.role, "scope": user.scope}
            user.role, user.scope = role, scope
            db.add(user)
            db.add(AuditEntry(actor=actor, action="user.role", target=f"user:{username}", old=old,
                              new=role if scope is None else {"role": role, "scope": scope}))
            db.commit()

    def authenticate(self, username: str, password: str) -> User | None:
        """The active user with this name and password, else None (same cost either way)."""
        with self.store.session() as db:
            user = db.scalars(select(User).where(User.username == username)).first()
        if user is None or not user.active:
            check_password_hash(generate_password_hash("x"), password)
            return None
        return user if check_password_hash(user.password_hash, password) else None

    def get(self, user_id: int) -> User | None:
        with self.store.session() as db:
            return db.get(User, user_id)

    def all(self) -> list[User]:
        with self.store.session() as db:
            return list(db.scalars(select(User).order_by(User.username)).all())

    # -- kiosk tokens -----------------------------------------------------------------------
    def issue_kiosk_token(self, label: str, actor: str) -> str:
        """A new token; only its hash is stored, so it is shown once."""
        label = label.strip()
        if not label or len(label) > 128:
            raise UserError("label: 1–128 characters")
        token = secrets.token_urlsafe(32)
        with self.store.session() as db:
            db.add(KioskToken(token_hash=_token_hash(token), label=label, created_by=actor))
            db.add(AuditEntry(actor=actor, action="kiosk.issue", target=f"kiosk:{label}"))
            db.commit()
        return token

    def verify_kiosk_token(self, token: str) -> KioskToken | None:
        """The live (not revoked) token record, with its last-seen time refreshed."""
        if not token or len(token) > 128:
            return None
        with self.store.session() as db:
            row = db.scalars(select(KioskToken).where(KioskToken.token_hash == _token_hash(token))).first()
            if row is None or row.revoked_at is not None:
                return None
            row.last_seen = time.time()
            db.add(row)
            db.commit()
            return row

    def kiosk_live(self, token_id: int) -> bool:
        with self.store.session() as db:
            row = db.get(KioskToken, token_id)
            return row is not None and row.revoked_at is None

    def revoke_kiosk_token(self, token_id: int, actor: str) -> None:
        with self.store.session() as db:
            row = db.get(KioskToken, token_id)
            if row is None:
                raise UserError(f"no kiosk token with id {token_id}")
            row.revoked_at = time.time()
            db.add(row)
            db.add(AuditEntry(actor=actor, action="kiosk.revoke", target=f"kiosk:{row.label}"))
            db.commit()

    def kiosk_tokens(self) -> list[KioskToken]:
        with self.store.session() as db:
            return list(db.scalars(select(KioskToken).order_by(KioskToken.id.desc())).all())

    @staticmethod
    def _get(db: object, username: str) -> User:
        user = db.scalars(select(User).where(User.username == username)).first()  # type: ignore[attr-defined]
        if user is None:
            raise UserError(f"no user named {username!r}")
        return user

    @staticmethod
    def _check(password: str | None, role: str) -> None:
        if role not in ALL_ROLES:
            raise UserError(f"role must be one of {', '.join(ALL_ROLES)}, not {role!r}")
        if password is not None and len(password) < MIN_PASSWORD:
            raise UserError(f"password: at least {MIN_PASSWORD} characters")

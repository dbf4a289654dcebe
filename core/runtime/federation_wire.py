"""The federation's wire format (docs/federation.md): message envelopes, HMAC signatures, validation.

A request carries one envelope, or ``{"messages": [envelope, ...]}``. Its exact body bytes are signed with
the peer's shared secret: ``X-Twinboard-Signature: sha256=HMAC-SHA256(secret, timestamp + "." + body)``,
with ``X-Twinboard-Timestamp`` (epoch seconds) and ``X-Twinboard-Peer`` (the sender's name as the
receiver configured it). Nothing here touches the store: it is pure and shared by sender and receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import time
import uuid
from typing import Any

from core.settings import FEDERATION_LEVELS

INBOX_PATH = "/api/federation/inbox"
SIG_HEADER, TS_HEADER, PEER_HEADER = "X-Twinboard-Signature", "X-Twinboard-Timestamp", "X-Twinboard-Peer"
#: what flows up (to a peer above) and down (to a peer below)
TYPES_UP = ("incident", "warning", "alert_summary")
TYPES_DOWN = ("instruction", "warning")
TYPES = ("incident", "warning", "alert_summary", "instruction")
#: level key → (zh, en) for screens
LEVEL_TEXT = {"ministry": ("部", "Ministry"), "province": ("省", "Province"), "city": ("市", "City"),
              "district": ("区", "District"), "street": ("街道", "Street/town")}
TYPE_TEXT = {"incident": ("事件", "Incident"), "warning": ("预警", "Warning"),
             "alert_summary": ("报警汇总", "Alert summary"), "instruction": ("指令", "Instruction")}
MAX_MESSAGES = 1000
MAX_HOPS = 5
ID_RE = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
MAX_TITLE = 500
MAX_TEXT = 5000


class WireError(ValueError):
    """A request refused: ``status`` (400, 401, 403, 413...) and a reason naming the field."""

    def __init__(self, status: int, reason: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.status, self.reason, self.field = status, reason, field

    def as_dict(self) -> dict[str, Any]:
        return {"error": str(self), "field": self.field, "status": self.status}


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    return "sha256=" + hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """True when ``signature`` is ``sign(secret, timestamp, body)`` (compared in constant time)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def signed_headers(secret: bytes, peer_name: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers of a request carrying ``body`` from the instance its peer knows as ``peer_name``."""
    ts = str(int(now if now is not None else time.time()))
    return {"Content-Type": "application/json; charset=utf-8", TS_HEADER: ts, PEER_HEADER: peer_name,
            SIG_HEADER: sign(secret, ts, body)}


def check_timestamp(value: str | None, max_skew_s: float, now: float | None = None) -> float:
    """The request's timestamp; WireError 401 when missing, not a number, or further than ``max_skew_s``."""
    if not value:
        raise WireError(401, f"the {TS_HEADER} header is missing")
    try:
        ts = float(value)
    except ValueError:
        raise WireError(401, f"the {TS_HEADER} header is not epoch seconds: {value[:40]!r}") from None
    now = time.time() if now is None else now
    if not math.isfinite(ts) or abs(now - ts) > max_skew_s:
        raise WireError(401, f"stale timestamp: {value[:40]} is more than {max_skew_s:.0f} s from this server's clock")
    return ts


def new_id(prefix: str) -> str:
    """A fresh message id."""
    return f"{prefix}.{uuid.uuid4().hex}"[-64:]


def envelope(type_: str, level: str, name: str, payload: dict[str, Any], *, msg_id: str | None = None,
             created: float | None = None, via: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """A message envelope, checked (WireError 400 when it would be refused by a receiver)."""
    env = {"id": msg_id or new_id(name), "type": type_, "origin": {"level": level, "name": name},
           "created": time.time() if created is None else created, "via": list(via or []), "payload": payload}
    return validate_envelope(env, "message")


def encode(messages: list[dict[str, Any]]) -> bytes:
    """The request body for ``messages`` (compact UTF-8 JSON)."""
    return json.dumps({"messages": messages}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def parse_body(body: bytes) -> list[dict[str, Any]]:
    """The envelopes a request carries, each checked; WireError 400 naming the first bad field."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise WireError(400, "the body is not UTF-8", "body") from None
    except json.JSONDecodeError as exc:
        raise WireError(400, f"not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})", "body") from None
    if not isinstance(doc, dict):
        raise WireError(400, "expected a JSON object (an envelope, or {\"messages\": [...]})", "body")
    if "messages" in doc:
        msgs = doc["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise WireError(400, "must be a non-empty list of envelopes", "messages")
        if len(msgs) > MAX_MESSAGES:
            raise WireError(400, f"{len(msgs)} messages; at most {MAX_MESSAGES} per request", "messages")
        return [validate_envelope(m, f"messages[{i}]") for i, m in enumerate(msgs)]
    return [validate_envelope(doc, "message")]


def _str(obj: dict[str, Any], key: str, where: str, *, required: bool = True, limit: int = MAX_TITLE) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise WireError(400, "must be a non-empty string" if required else "must be a string", f"{where}.{key}")
    if len(value) > limit:
        raise WireError(400, f"longer than {limit} characters", f"{where}.{key}")
    return value


def _level(obj: Any, where: str) -> dict[str, str]:
    if not isinstance(obj, dict):
        raise WireError(400, "must be an object {level, name}", where)
    level = obj.get("level")
    if level not in FEDERATION_LEVELS:
        raise WireError(400, f"must be one of {', '.join(FEDERATION_LEVELS)}; got {str(level)[:40]!r}", f"{where}.level")
    return {"level": level, "name": _str(obj, "name", where, limit=128)}


def validate_envelope(env: Any, where: str) -> dict[str, Any]:
    """``env`` checked and normalised; WireError 400 naming the field (``messages[3].payload.title``)."""
    if not isinstance(env, dict):
        raise WireError(400, "must be a JSON object", where)
    unknown = sorted(set(env) - {"id", "type", "origin", "created", "via", "payload"})
    if unknown:
        raise WireError(400, "unknown field (check the spelling)", f"{where}.{unknown[0]}")
    msg_id = env.get("id")
    if not isinstance(msg_id, str) or not ID_RE.match(msg_id):
        raise WireError(400, "must be 8-64 characters of A-Z a-z 0-9 . _ : -", f"{where}.id")
    type_ = env.get("type")
    if type_ not in TYPES:
        raise WireError(400, f"must be one of {', '.join(TYPES)}; got {str(type_)[:40]!r}", f"{where}.type")
    origin = _level(env.get("origin"), f"{where}.origin")
    created = env.get("created")
    if isinstance(created, bool) or not isinstance(created, (int, float)) or not math.isfinite(created):
        raise WireError(400, "must be epoch seconds (a number)", f"{where}.created")
    via = env.get("via", [])
    if not isinstance(via, list) or len(via) > MAX_HOPS:
        raise WireError(400, f"must be a list of at most {MAX_HOPS} hops", f"{where}.via")
    hops = [_level(h, f"{where}.via[{i}]") for i, h in enumerate(via)]
    payload = env.get("payload")
    if not isinstance(payload, dict):
        raise WireError(400, "must be a JSON object", f"{where}.payload")
    _check_payload(type_, payload, f"{where}.payload")
    return {"id": msg_id, "type": type_, "origin": origin, "created": float(created), "via": hops, "payload": payload}


def _check_payload(type_: str, p: dict[str, Any], where: str) -> None:
    if type_ == "alert_summary":
        counts = p.get("open")
        if not isinstance(counts, dict) or not all(
                k in ("1", "2", "3", "4") and isinstance(v, int) and not isinstance(v, bool) and v >= 0
                for k, v in counts.items()):
            raise WireError(400, 'must be {"1".."4": count of open alerts of that severity}', f"{where}.open")
        return
    _str(p, "title", where)
    _str(p, "message", where, required=False, limit=MAX_TEXT)
    sev = p.get("severity")
    if sev is not None and (isinstance(sev, bool) or not isinstance(sev, int) or not 1 <= sev <= 4):
        raise WireError(400, "must be 1 (I, most severe) to 4 (IV)", f"{where}.severity")
    for key in ("lon", "lat"):
        v = p.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise WireError(400, "must be a number", f"{where}.{key}")

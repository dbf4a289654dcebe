"""The leaders' wall mode: "routine" (a playlist rotation) or "incident" (the incident view).

The mode lives in the store (table ``wall_state``, one row per wall) so it survives a restart;
every switch is audited and published on the bus as :class:`~core.runtime.bus.WallModeChanged`. Screens
and playlists poll ``GET /api/wall`` (tiny JSON) and switch themselves.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from core.data import twin
from core.runtime.bus import Bus, WallModeChanged
from core.data.store import Store

MODES = ("routine", "incident")
DEFAULT_WALL = "leaders"


class WallModeError(ValueError):
    """A mode that does not exist, or an incident mode without an incident."""


def wall_state(store: Store, wall: str = DEFAULT_WALL) -> dict[str, Any]:
    """{"wall", "mode", "incident_id", "since", "actor", "drill"}; a wall never switched is in routine mode."""
    with store.session() as db:
        row = db.get(twin.WallState, wall)
        if row is None:
            return {"wall": wall, "mode": "routine", "incident_id": None, "since": 0.0, "actor": None, "drill": False}
        inc = db.get(twin.Incident, row.incident_id) if row.incident_id is not None else None
        return {"wall": row.wall, "mode": row.mode, "incident_id": row.incident_id, "since": row.since,
                "actor": row.actor, "drill": bool(inc and inc.is_drill)}


def set_wall_mode(store: Store, bus: Bus | None, mode: str, actor: str, incident_id: int | None = None,
                  wall: str = DEFAULT_WALL) -> dict[str, Any]:
    """Switch ``wall`` to ``mode``; audited (old and new state) and published. Returns the new state."""
    if mode not in MODES:
        raise WallModeError(f"wall mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "incident":
        if incident_id is None:
            raise WallModeError("incident mode needs the incident to show (incident_id)")
        with store.session() as db:
            if db.get(twin.Incident, incident_id) is None:
                raise WallModeError(f"no incident {incident_id}")
    else:
        incident_id = None
    old = wall_state(store, wall)
    with store.session() as db:
        row = db.get(twin.WallState, wall) or twin.WallState(wall=wall)
        row.mode, row.incident_id, row.since, row.actor = mode, incident_id, time.time(), actor[:64]
        db.add(row)
        db.commit()
    store.audit(actor, "wall.mode", f"wall:{wall}", {"mode": old["mode"], "incident_id": old["incident_id"]},
                {"mode": mode, "incident_id": incident_id})
    if bus is not None:
        bus.publish(WallModeChanged(wall=wall, mode=mode, incident_id=incident_id, actor=actor))
    return wall_state(store, wall)


class WallWatcher:
    """Lets a request wait (long poll) until a wall's mode changes, instead of polling for it.

    A switch made in another process reaches this one's bus through the event relay, so every web
    process wakes its waiting walls. When the process stops (``stopping`` set: a rolling restart) the
    waits answer at once, and the walls ask again on a process that stays.
    """

    #: the longest a cached state is trusted without a change event (a safety net for a lost event)
    CACHE_S = 5.0

    def __init__(self, bus: Bus, stopping: threading.Event | None = None) -> None:
        self._cond = threading.Condition()
        self._version = 0
        self._stopping = stopping or threading.Event()
        self._cache: dict[str, tuple[int, float, dict[str, Any]]] = {}
        bus.subscribe(WallModeChanged, self._changed)

    def state(self, store: Store, wall: str = DEFAULT_WALL) -> dict[str, Any]:
        """The wall's state, read from the store only after a change event (or ``CACHE_S`` seconds).

        Every screen build asks it (the mode badge at first paint); a switch made in any process reaches
        this one's bus through the event relay and invalidates the cached state.
        """
        with self._cond:
            version = self._version
        hit = self._cache.get(wall)
        now = time.monotonic()
        if hit is not None and hit[0] == version and now - hit[1] < self.CACHE_S:
            return dict(hit[2])
        state = wall_state(store, wall)
        self._cache[wall] = (version, now, state)   # the version read before the store: a later event re-reads
        return dict(state)

    def _changed(self, _event: WallModeChanged) -> None:
        with self._cond:
            self._version += 1
            self._cond.notify_all()

    def wait(self, store: Store, wall: str, known_since: float | None, timeout: float) -> dict[str, Any]:
        """The wall's state as soon as it differs from ``known_since`` (or after ``timeout`` seconds)."""
        deadline = time.monotonic() + max(0.0, min(timeout, 30.0))
        while True:
            with self._cond:
                version = self._version
            state = wall_state(store, wall)
            left = deadline - time.monotonic()
            if known_since is None or state["since"] != known_since or left <= 0 or self._stopping.is_set():
                return state
            with self._cond:
                if self._version == version:
                    self._cond.wait(min(left, 1.0))

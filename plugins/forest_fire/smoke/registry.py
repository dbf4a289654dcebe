"""The smoke model registry: every version of the detector's weights, with what it was made of and how good it is.

Files: ``<data_dir>/models/forest_fire/v<N>/smoke_v<N>.pt`` and its ``.meta`` (the operating threshold and
input size the detector reads). Index: one ``entity`` row per version, kind ``smoke_model``, id
``forest_fire.model.v<N>``, whose ``properties`` hold

``version``, ``state``   ``current`` (the detector runs it), ``candidate`` (trained, not yet promoted),
                         ``retired`` (was current, replaced by a promotion), ``rolled_back`` (was current,
                         taken back)
``path``                 the weights (absolute, or relative to the project root); ``sha256`` of the file
``parent``               the version it was fine-tuned from (None for the base)
``replaced``             the version that was current when this one was promoted (what a roll-back restores)
``metrics``              ``{"candidate": {"overall": {...}, "per_camera": {...}}, "parent": {...}}`` on the
                         test split (cameras used for neither training nor threshold choice)
``worse_cameras``        cameras where the candidate is worse than its parent (F1 lower, or more of the
                         smoke-free frames flagged)
``data_hash``            sha256 over the training data (every example's file hash, label, boxes, split)
``licence``, ``command`` (the exact command line or task), ``created``, ``splits``, ``counts``, ``conf``,
``imgsz``, ``previews`` (a few test frames with both models' boxes)

v0 is the model configured when the registry is first used (the shipped weights unless ``model_path`` says
otherwise). Promotion and roll-back write the states and an audit entry in one transaction; the caller then
points the plugin's ``model_path`` setting at the new current weights (stored and relayed to every process
by the host, whose sources restart with the new detector).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.api import AuditEntry, Entity, Store

from .offline import project_root

KIND = "smoke_model"
PLUGIN = "forest_fire"
STATES = {"current": ("当前", "current"), "candidate": ("候选", "candidate"), "retired": ("已替换", "retired"),
          "rolled_back": ("已回退", "rolled back")}
_lock = threading.Lock()


class RegistryError(ValueError):
    """A registry step that cannot be done (named version missing, wrong state...). Nothing was changed."""


def models_dir(root: Path) -> Path:
    return Path(root) / "models" / "forest_fire"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _rel(path: Path) -> str:
    path = Path(path).resolve()
    try:
        return path.relative_to(project_root()).as_posix()
    except ValueError:
        return str(path)


def _abs(raw: str) -> Path:
    p = Path(raw)
    return p if p.is_absolute() else project_root() / p


def read_meta(weights: Path) -> dict[str, Any]:
    meta = Path(weights).with_suffix(".meta")
    try:
        return json.loads(meta.read_text()) if meta.exists() else {}
    except ValueError:
        return {}


@dataclass
class ModelVersion:
    """One registered version (a view of its row)."""

    version: int
    props: dict[str, Any]

    @property
    def id(self) -> str:
        return f"forest_fire.model.v{self.version}"

    @property
    def state(self) -> str:
        return self.props.get("state", "")

    @property
    def path(self) -> Path:
        return _abs(self.props["path"])

    @property
    def name(self) -> str:
        return f"v{self.version}"

    @property
    def conf(self) -> float:
        return float(self.props.get("conf") or read_meta(self.path).get("conf") or 0.25)

    @property
    def worse_cameras(self) -> list[str]:
        return list(self.props.get("worse_cameras") or [])

    def setting_value(self) -> str:
        """What the plugin's ``model_path`` setting holds while this version is current ('' = shipped)."""
        return self.props.get("setting", self.props["path"])


class Registry:
    """The versions of one deployment (rows in the store, files under ``<data_dir>/models/forest_fire``)."""

    def __init__(self, store: Store, root: Path) -> None:
        self.store, self.root = store, Path(root)

    def versions(self) -> list[ModelVersion]:
        rows = self.store.entities(kind=KIND, plugin=PLUGIN)
        return sorted((ModelVersion(int(e.properties["version"]), dict(e.properties)) for e in rows),
                      key=lambda m: m.version)

    def get(self, version: int | str) -> ModelVersion:
        v = int(str(version).lstrip("v")) if str(version).lstrip("v").isdigit() else None
        e = self.store.entity(f"forest_fire.model.v{v}") if v is not None else None
        if e is None or e.kind != KIND:
            raise RegistryError(f"no model version {version!r} in the registry")
        return ModelVersion(int(e.properties["version"]), dict(e.properties))

    def current(self) -> ModelVersion | None:
        return next((m for m in self.versions() if m.state == "current"), None)

    def ensure_base(self, configured: Path, setting: str = "", actor: str = "system") -> ModelVersion:
        """The current version; registers ``configured`` (the weights the detector uses now) as v0 if empty."""
        with _lock:
            cur = self.current()
            if cur is not None:
                return cur
            if self.versions():
                raise RegistryError("the registry has versions but none is current")
            configured = Path(configured)
            if not configured.is_file():
                raise RegistryError(f"the configured model is missing: {configured}")
            meta = read_meta(configured)
            props = {"version": 0, "state": "current", "path": _rel(configured), "setting": setting,
                     "sha256": file_sha256(configured), "parent": None, "replaced": None,
                     "licence": meta.get("licence", "unknown (not stated beside the weights)"),
                     "command": meta.get("trained", "registered as the configured model"),
                     "created": time.time(), "conf": meta.get("conf"), "imgsz": meta.get("imgsz"),
                     "data_hash": None, "metrics": {}, "worse_cameras": [], "by": actor}
            self.store.upsert([self._row(0, props)], audit=AuditEntry(
                actor=actor, action="forest_fire.model.register", target="forest_fire.model.v0", new=props["path"]))
            return ModelVersion(0, props)

    def next_version(self) -> int:
        vs = self.versions()
        return (vs[-1].version + 1) if vs else 1

    def add_candidate(self, weights: Path, props: dict[str, Any], actor: str, version: int | None = None) -> ModelVersion:
        """Copy ``weights`` into the registry as a new candidate version with its facts (``props``)."""
        with _lock:
            v = version if version is not None else self.next_version()
            if self.store.entity(f"forest_fire.model.v{v}") is not None:
                raise RegistryError(f"model version v{v} exists already")
            dest = models_dir(self.root) / f"v{v}" / f"smoke_v{v}.pt"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(weights, dest)
            meta = {"conf": props.get("conf"), "imgsz": props.get("imgsz"), "licence": props.get("licence"),
                    "version": v, "parent": props.get("parent"), "data_hash": props.get("data_hash")}
            dest.with_suffix(".meta").write_text(json.dumps(meta, indent=2) + "\n")
            full = {**props, "version": v, "state": "candidate", "path": _rel(dest), "setting": _rel(dest),
                    "sha256": file_sha256(dest), "replaced": None, "created": props.get("created") or time.time(),
                    "by": actor}
            try:
                self.store.upsert([self._row(v, full)], audit=AuditEntry(
                    actor=actor, action="forest_fire.model.candidate", target=f"forest_fire.model.v{v}",
                    new={"parent": full.get("parent"), "data_hash": full.get("data_hash"),
                         "worse_cameras": full.get("worse_cameras")}))
            except Exception:
                shutil.rmtree(dest.parent, ignore_errors=True)
                raise
            return ModelVersion(v, full)

    def promote(self, version: int | str, actor: str, accept_worse: bool = False) -> ModelVersion:
        """Make ``version`` current; the current one becomes ``retired``. A candidate worse than its parent on
        some camera needs ``accept_worse`` (the manager saw the warning and decided)."""
        with _lock:
            new = self.get(version)
            cur = self.current()
            if cur is not None and cur.version == new.version:
                raise RegistryError(f"{new.name} is already current")
            if new.state not in ("candidate", "retired", "rolled_back"):
                raise RegistryError(f"{new.name} is {new.state}; only a candidate or an earlier version can be promoted")
            if new.worse_cameras and not accept_worse:
                raise RegistryError(f"{new.name} is worse than v{new.props.get('parent')} on "
                                    f"{', '.join(new.worse_cameras)}; confirm to promote it anyway")
            if not new.path.is_file():
                raise RegistryError(f"{new.name}'s weights are missing: {new.path}")
            rows = [self._row(new.version, {**new.props, "state": "current",
                                            "replaced": cur.version if cur else None,
                                            "promoted": time.time(), "promoted_by": actor})]
            if cur is not None:
                rows.append(self._row(cur.version, {**cur.props, "state": "retired"}))
            self.store.upsert(rows, audit=AuditEntry(
                actor=actor, action="forest_fire.model.promote", target=new.id,
                old=cur.name if cur else None, new={"version": new.name, "accepted_worse": new.worse_cameras
                                                    if accept_worse else []}))
            return self.get(new.version)

    def rollback(self, actor: str) -> ModelVersion:
        """Take the current version back: the one it replaced is current again."""
        with _lock:
            cur = self.current()
            if cur is None:
                raise RegistryError("no current model")
            back = cur.props.get("replaced")
            if back is None:
                raise RegistryError(f"{cur.name} replaced no earlier version; nothing to roll back to")
            prev = self.get(back)
            if not prev.path.is_file():
                raise RegistryError(f"{prev.name}'s weights are missing: {prev.path}")
            rows = [self._row(cur.version, {**cur.props, "state": "rolled_back", "rolled_back": time.time(),
                                            "rolled_back_by": actor}),
                    self._row(prev.version, {**prev.props, "state": "current"})]
            self.store.upsert(rows, audit=AuditEntry(actor=actor, action="forest_fire.model.rollback",
                                                     target=cur.id, old=cur.name, new=prev.name))
            return self.get(prev.version)

    @staticmethod
    def _row(v: int, props: dict[str, Any]) -> Entity:
        return Entity(id=f"forest_fire.model.v{v}", kind=KIND, name=f"smoke model v{v}", plugin=PLUGIN,
                      properties=props, updated_at=time.time())

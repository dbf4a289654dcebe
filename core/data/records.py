"""A plugin's records as twin entities: dataclasses mapped to and from entities tagged with the plugin.

The pattern law_enforcement, supplies and safety_services share: every record is a twin **entity** of a
kind of the plugin whose ``properties`` hold the record's fields, and every change a person makes is
written with its **audit entry in the same transaction** (``Store.upsert(rows, audit=AuditEntry(...))``).
No plugin tables, no migration. ``RecordKinds`` does the mapping; ``RecordError`` (subclassed by each
plugin) is bad input naming the form field; ``parse_iso_date`` reads a date naming that field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from core.data.twin import AuditEntry, Entity

if TYPE_CHECKING:
    from core.data.store import Store


class RecordError(ValueError):
    """Bad input or a step a plugin's workflow does not allow; ``field`` names the form field (``reads[3].epc``).

    Its text is ``field '<field>': <message>`` (the message alone without a field); ``detail`` is the
    message alone. Plugins subclass it for their own error (``class LawError(RecordError)``).
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"field '{field}': {message}" if field else message)
        self.field = field
        self.detail = message


def parse_iso_date(value: Any, field: str, error: type[RecordError] = RecordError) -> dt.date:
    """``YYYY-MM-DD`` (or a date) → date; ``error`` (a ``RecordError`` class) naming ``field`` otherwise."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise error(f"{value!r} is not a date (YYYY-MM-DD)", field) from None


@dataclass(frozen=True)
class RecordKinds:
    """How a plugin's record dataclasses map to twin entities, one entity kind per class.

    A record's ``id`` is the entity's id; its ``name``/``name_en`` fields (when it has them) are the
    entity's names; ``lon``/``lat`` fields (when it has them, both set) are a Point geometry; every other
    field is a property. The entity's name is ``name_of(record)`` when that gives one, else the record's
    ``name``, else the first of its ``name_from`` attributes that is not empty, else its id. ``error`` is
    raised (naming the field) for an id that is not such a record.
    """

    #: the plugin the entities are tagged with
    plugin: str
    #: record class → entity kind, e.g. ``{Unit: "le_unit", Task: "le_task"}``
    kinds: Mapping[type, str]
    #: the plugin's RecordError subclass, raised by ``get``
    error: type[RecordError] = RecordError
    #: left off a kind where an error names it (``"le_"``: "no task 'x'")
    kind_prefix: str = ""
    #: attributes that name the entity of a record without a ``name`` field, the first non-empty wins
    name_from: tuple[str, ...] = ()
    #: a record's entity name when it is not the default (e.g. a task: ``"<enterprise> <year>-<month>"``), or None
    name_of: Callable[[Any], str | None] | None = None

    def load(self, cls: type, entity: Entity) -> Any:
        """The record of class ``cls`` an entity holds (properties that are not fields of ``cls`` are ignored)."""
        names = {f.name for f in fields(cls)}
        vals = {k: v for k, v in (entity.properties or {}).items() if k in names}
        vals["id"] = entity.id
        if "name" in names:
            vals["name"] = entity.name
        if "name_en" in names:
            vals["name_en"] = entity.name_en
        if "lon" in names and entity.geometry and entity.geometry.get("type") == "Point":
            vals["lon"], vals["lat"] = entity.geometry["coordinates"][:2]
        return cls(**vals)

    def to_entity(self, obj: Any) -> Entity:
        """The entity row of a record (named as the class says)."""
        props = asdict(obj)
        props.pop("id")
        own = props.pop("name", None)
        name = (self.name_of(obj) if self.name_of else None) or own \
            or next((v for v in (getattr(obj, a, "") for a in self.name_from) if v), "") or obj.id
        name_en = props.pop("name_en", "")
        geometry = None
        if "lon" in props:
            lon, lat = props.pop("lon"), props.pop("lat", None)
            if lon is not None and lat is not None:
                geometry = {"type": "Point", "coordinates": [lon, lat]}
        return Entity(id=obj.id, kind=self.kinds[type(obj)], name=name, name_en=name_en, plugin=self.plugin,
                      geometry=geometry, properties=props)

    def load_all(self, store: Store, cls: type) -> list[Any]:
        """Every stored record of class ``cls``, in the store's order."""
        return [self.load(cls, e) for e in store.entities(kind=self.kinds[cls], plugin=self.plugin)]

    def get(self, store: Store, cls: type, obj_id: str, field_name: str = "id") -> Any:
        """One record of class ``cls`` by id; ``error`` naming ``field_name`` when there is none."""
        kind = self.kinds[cls]
        e = store.entity(str(obj_id))
        if e is None or e.kind != kind or e.plugin != self.plugin:
            raise self.error(f"no {kind.removeprefix(self.kind_prefix)} {obj_id!r}", field_name)
        return self.load(cls, e)

    def save(self, store: Store, objs: Sequence[Any], actor: str, action: str, target: str, old: Any = None,
             new: Any = None) -> None:
        """Store ``objs`` (records or ready entities) and one audit entry in one transaction (all or nothing).

        The entry's action is ``<plugin>.<action>``; actor, action and target are cut to the audit log's sizes.
        """
        rows = [o if isinstance(o, Entity) else self.to_entity(o) for o in objs]
        store.upsert(rows, audit=AuditEntry(actor=actor[:64], action=f"{self.plugin}.{action}"[:64],
                                            target=target[:256], old=old, new=new))

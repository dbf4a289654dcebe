"""The plugin's records and how they are stored.

Like law_enforcement, every record is a twin **entity** tagged with this plugin whose properties hold its
state, written with its **audit entry in the same transaction** where a person changed something:

=================  ======================================================================================
``supply_store``   a store (物资库): location, capacity, the command-centre depot it is (``depot``)
``supply_item``    an item: category, unit, reserve norm per store (储备定额)
``supply_batch``   a batch: item, production and expiry dates, its RFID tags (EPC prefix, units per tag)
``supply_move``    one movement as the gateway or the dispatcher reported it (the ledger; never edited)
``supply_stock``   stock of one item in one store, **derived** from the movements (``ledger.refresh``)
``supply_tag``     a manager's decision on an unknown tag (discarded), kept so the review list stays short
``supply_hosted``  stock held by an enterprise or supplier under agreement (托管), with its call-ups
=================  ======================================================================================
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from core.api import Entity, RecordError, RecordKinds, Store, parse_iso_date  # noqa: F401 (Entity: model.Entity)

PLUGIN = "supplies"
STORE, ITEM, BATCH, MOVE, STOCK, TAG, HOSTED = ("supply_store", "supply_item", "supply_batch", "supply_move",
                                                "supply_stock", "supply_tag", "supply_hosted")
#: one writer at a time inside a process: a movement and the stock derived from it stay whole
LOCK = threading.RLock()
EPC_RE = re.compile(r"^[0-9A-F]{8,32}$")
CATEGORIES = {"medicine": ("药品医疗", "Medical"), "tent": ("帐篷", "Tents"), "living": ("生活保障", "Living"),
              "rescue": ("抢险救援", "Rescue"), "chemical": ("危化防护", "Chemical protection"),
              "flood": ("防汛", "Flood")}


class SupplyError(RecordError):
    """Bad input or a step that is not allowed; ``field`` names the field (``reads[3].epc``)."""


def parse_date(value: Any, field_name: str) -> dt.date:
    """``YYYY-MM-DD`` → date; SupplyError naming the field otherwise."""
    return parse_iso_date(value, field_name, SupplyError)


@dataclass
class SupplyStore:
    """A store: where it is, how many pallet places it has, the command-centre depot it is (if any)."""

    id: str
    name: str
    name_en: str
    lon: float
    lat: float
    capacity: int                  # pallet places
    town: str = ""
    manager: str = ""
    depot: str | None = None       # the command centre's material_depot entity id it stands for
    demo: bool = False


@dataclass
class Item:
    """An item kind (救灾帐篷, 重型防化服...) with its reserve norm per store."""

    id: str
    name: str
    name_en: str
    sku: str
    category: str
    unit: str
    norms: dict[str, int] = field(default_factory=dict)   # store id → minimum stock
    demo: bool = False


@dataclass
class Batch:
    """A batch of one item; its tags are the EPCs starting with ``epc_prefix`` plus ``tags`` assigned in review."""

    id: str
    item: str                      # item id
    code: str
    produced: str                  # YYYY-MM-DD
    expiry: str | None             # YYYY-MM-DD, None: does not expire
    epc_prefix: str
    per_tag: int = 1               # units one tag stands for (a case, a pallet)
    tags: list[str] = field(default_factory=list)
    supplier: str = ""
    demo: bool = False

    def expires_in(self, today: dt.date) -> int | None:
        return None if not self.expiry else (dt.date.fromisoformat(self.expiry) - today).days


@dataclass
class Hosted:
    """Stock held by an enterprise or supplier under agreement (托管), and its call-ups (调用)."""

    id: str
    name: str                      # the holder
    name_en: str
    item: str                      # item id
    quantity: int
    contract_no: str
    contract_start: str
    contract_end: str
    terms: str
    callup_hours: float            # agreed time from call-up to delivery
    last_check: str                # YYYY-MM-DD
    lon: float | None = None
    lat: float | None = None
    contact: str = ""
    callups: list[dict[str, Any]] = field(default_factory=list)
    demo: bool = False


#: the records as twin entities: a store's or hosted holder's lon/lat is its Point, a batch is named by its code
KINDS = RecordKinds(PLUGIN, {SupplyStore: STORE, Item: ITEM, Batch: BATCH, Hosted: HOSTED}, SupplyError, "supply_",
                    ("code",))
#: a record from its entity; the entity row of a store, item, batch or hosted agreement; one record by id
#: (SupplyError naming the field when there is none); records (or ready entities) stored with one audit entry in
#: one transaction (all or nothing)
load, to_entity, get, save = KINDS.load, KINDS.to_entity, KINDS.get, KINDS.save


def stores(store: Store) -> list[SupplyStore]:
    return sorted(KINDS.load_all(store, SupplyStore), key=lambda s: s.id)


def items(store: Store) -> list[Item]:
    return sorted(KINDS.load_all(store, Item), key=lambda i: i.id)


def batches(store: Store) -> list[Batch]:
    return sorted(KINDS.load_all(store, Batch), key=lambda b: b.id)


def hosted(store: Store) -> list[Hosted]:
    return sorted(KINDS.load_all(store, Hosted), key=lambda h: h.id)

"""Demo data on the real district: four stores (the command centre's two depots among them, read through the
store), items with reserve norms, batches with tags, their receipts as RFID reads, hosted agreements.

Stock is not typed in here either: the receipts are gateway messages (``rfid.receive``), replayed like any other.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import Any

from core.api import Store

from . import ledger, rfid
from .model import MOVE, PLUGIN, Batch, Hosted, Item, SupplyStore, items, save, stores

#: id, zh, en, depot, fallback lon/lat, capacity (pallet places), town, manager
STORES = [("sp.store.district", "区应急物资储备库", "District emergency store", "cc.depot.district", 121.462, 28.658,
           1200, "白云街道", "周某某"),
          ("sp.store.chem", "化工园区应急物资库", "Chemical park emergency store", "cc.depot.chem", 121.471, 28.655,
           400, "三甲街道", "吴某某"),
          ("sp.store.zhangan", "章安街道应急物资储备点", "Zhang'an street supplies point", None, 121.362, 28.727,
           260, "章安街道", "林某某"),
          ("sp.store.xiachen", "下陈街道应急物资储备点", "Xiachen street supplies point", None, 121.474, 28.622,
           220, "下陈街道", "王某某")]
#: sku, zh, en, category, unit, norms {store suffix: norm}, batches [(code, produced, expiry days from today or
#: None, per tag, {store suffix: tags})]
ITEMS: list[tuple[Any, ...]] = [
    ("tent", "救灾帐篷", "Relief tents", "tent", "顶", {"district": 300, "zhangan": 40},
     [("T2023A", "2023-04-10", None, 10, {"district": 32, "zhangan": 5})]),
    ("quilt", "棉被", "Quilts", "living", "床", {"district": 2000, "xiachen": 300},
     [("Q2024A", "2024-09-01", None, 100, {"district": 24, "xiachen": 4})]),
    ("water", "瓶装水", "Bottled water", "living", "瓶", {"district": 15000, "zhangan": 2000},
     [("W2025A", "2025-01-20", 40, 600, {"district": 12, "zhangan": 4}),
      ("W2025B", "2025-06-15", 400, 600, {"district": 18})]),
    ("food", "方便食品", "Ready meals", "living", "份", {"district": 10000},
     [("F2025A", "2025-03-01", 75, 300, {"district": 30})]),
    ("lifejacket", "救生衣", "Life jackets", "flood", "件", {"district": 1200, "zhangan": 200, "xiachen": 150},
     [("L2022A", "2022-05-01", None, 50, {"district": 30, "zhangan": 5, "xiachen": 3})]),
    ("pump", "移动排涝泵", "Mobile pumps", "flood", "台", {"district": 20, "xiachen": 4},
     [("P2021A", "2021-06-01", None, 1, {"district": 24, "xiachen": 5})]),
    ("sandbag", "编织袋(沙袋)", "Sandbags", "flood", "条", {"zhangan": 5000, "xiachen": 4000},
     [("S2024A", "2024-03-01", None, 500, {"zhangan": 12, "xiachen": 7})]),
    ("medkit", "急救药箱", "First-aid kits", "medicine", "箱", {"district": 300, "zhangan": 60},
     [("M2024A", "2024-02-01", 25, 20, {"district": 8, "zhangan": 3}),
      ("M2025A", "2025-05-01", 600, 20, {"district": 12})]),
    ("scba", "正压式空气呼吸器", "SCBA sets", "chemical", "套", {"chem": 50},
     [("B2023A", "2023-05-01", 700, 2, {"chem": 30})]),
    ("suit", "重型防化服", "Gas-tight suits", "chemical", "套", {"chem": 40},
     [("C2022A", "2022-03-15", 300, 1, {"chem": 40})]),
    ("absorbent", "吸附棉", "Absorbent pads", "chemical", "kg", {"chem": 600},
     [("A2024A", "2024-07-01", None, 30, {"chem": 30})]),
    ("foam", "泡沫灭火剂", "Foam concentrate", "chemical", "吨", {"chem": 10},
     [("X2023A", "2023-12-15", 60, 1, {"chem": 12})]),
    ("detector", "便携式气体检测仪", "Portable gas detectors", "chemical", "台", {"chem": 30},
     [("D2024A", "2024-08-01", 500, 1, {"chem": 35})]),
]
#: hosted agreements: id, holder zh/en, sku, qty, contract no, months left, call-up hours, lon, lat, contact
HOSTED = [("sp.hosted.haimen-market", "海门农贸市场(商超协议)", "Haimen market (retail agreement)", "food", 20000,
           "JJYJ-TG-2024-01", 14, 4.0, 121.437, 28.679, "陈某 139****3301"),
          ("sp.hosted.jk-logistics", "椒江某物流公司(仓储代储)", "Jiaojiang logistics firm (stored for us)", "tent", 500,
           "JJYJ-TG-2024-02", 8, 6.0, 121.41, 28.655, "郑某 139****3302"),
          ("sp.hosted.waisha-chem", "外沙化工企业(防化器材代储)", "Waisha chemical firm (protective gear)", "suit", 30,
           "JJYJ-TG-2023-05", 2, 2.0, 121.466, 28.669, "钱某 139****3303"),
          ("sp.hosted.hongjia-mill", "洪家粮油企业(代储)", "Hongjia grain and oil firm", "water", 30000,
           "JJYJ-TG-2024-03", 20, 8.0, 121.368, 28.626, "孙某 139****3304")]


def epc_prefix(code: str) -> str:
    """A batch's EPC prefix: SGTIN-like header + the batch code's bytes (hex)."""
    return ("3034" + code.encode().hex().upper())[:18]


def tag(code: str, n: int) -> str:
    return f"{epc_prefix(code)}{n:06X}"


def seed(store: Store, bus: Any = None, today: dt.date | None = None, now: float | None = None) -> bool:
    """Seed once (nothing when this plugin has any movement). Returns True when it seeded."""
    if store.entities(kind=MOVE, plugin=PLUGIN):
        return False
    today, now = today or dt.date.today(), now or time.time()
    recs: list[Any] = []
    for sid, zh, en, depot, lon, lat, cap, town, mgr in STORES:
        ent = store.entity(depot) if depot else None
        if ent is not None and ent.geometry and ent.geometry.get("type") == "Point":
            lon, lat = ent.geometry["coordinates"][:2]
        recs.append(SupplyStore(sid, zh, en, lon, lat, cap, town, mgr, depot, demo=True))
    receipts: dict[str, list[dict[str, Any]]] = {}
    for sku, zh, en, cat, unit, norms, bts in ITEMS:
        item_id = f"sp.item.{sku}"
        recs.append(Item(item_id, zh, en, sku, cat, unit, {f"sp.store.{k}": v for k, v in norms.items()}, demo=True))
        for code, produced, days, per_tag, where in bts:
            expiry = (today + dt.timedelta(days=days)).isoformat() if days is not None else None
            recs.append(Batch(f"sp.batch.{code}", item_id, code, produced, expiry, epc_prefix(code), per_tag, demo=True))
            n = 0
            for suffix, count in where.items():
                for _ in range(count):
                    n += 1
                    receipts.setdefault(f"sp.store.{suffix}", []).append(
                        {"id": f"demo-{code}-{n}", "epc": tag(code, n), "ts": now - 86400 * 20 + n})
    for hid, zh, en, sku, qty, no, months, hours, lon, lat, contact in HOSTED:
        stop = today + dt.timedelta(days=30 * months)
        recs.append(Hosted(hid, zh, en, f"sp.item.{sku}", qty, no, (stop - dt.timedelta(days=730)).isoformat(),
                           stop.isoformat(), "协议储备,接调用指令后按约定时限送达指定地点;每季度查验一次",
                           hours, (today - dt.timedelta(days=30 + months)).isoformat(), lon, lat, contact, demo=True))
    save(store, recs, "demo", "demo.seed", "supplies", None, {"records": len(recs)})
    for sid, reads in receipts.items():
        rfid.receive(store, {"store": sid, "gateway": "demo-gw", "event": "in", "reads": reads}, None, source="demo",
                     now=now)
    # today: some goods out for rotation and back, and a foreign tag at the Zhang'an gate
    rfid.receive(store, {"store": "sp.store.district", "gateway": "demo-gw", "event": "out",
                         "reads": [{"id": "demo-today-1", "epc": tag("Q2024A", 3), "ts": now - 3600}]}, None,
                 source="demo", now=now)
    rfid.receive(store, {"store": "sp.store.zhangan", "gateway": "demo-gw", "event": "in",
                         "reads": [{"id": "demo-today-2", "epc": "E2801160600002084F3C1A77", "ts": now - 1800}]},
                 None, source="demo", now=now)
    ledger.refresh(store, bus)
    return True


class DemoGateway:
    """In the demo a store's gate reader now and then sees a tagged case leave for rotation or come back."""

    def __init__(self, seed_: int = 7) -> None:
        self.rng = random.Random(seed_)

    def step(self, store: Store, bus: Any = None) -> dict[str, Any] | None:
        d, all_stores, _, all_batches = ledger.current(store)
        if not all_stores or not all_batches:
            return None
        st = self.rng.choice(all_stores)
        idx = ledger.TagIndex(all_batches)
        norms = {i.id: int(i.norms.get(st.id, 0)) for i in items(store)}

        def spare(epc: str) -> bool:  # rotation never takes an item below its norm
            b = idx.batch(epc)
            return b is not None and d.stock.get((st.id, b.item), 0) - b.per_tag >= norms.get(b.item, 0)
        here = [e for e, at in d.tags_at.items() if at == st.id and spare(e)]
        if away := [m for m in store.entities(kind=MOVE, plugin=PLUGIN)
                    if m.properties.get("kind") == "out" and m.properties.get("store") == st.id
                    and m.properties.get("epc") not in d.tags_at and m.properties.get("source") == "demo-gw"]:
            if not here or self.rng.random() < 0.6:
                return rfid.receive(store, {"store": st.id, "gateway": "demo-gw", "event": "in",
                                            "reads": [{"epc": away[0].properties["epc"]}]}, bus, source="demo-gw")
        if not here:
            return None
        epc = self.rng.choice(sorted(here))
        return rfid.receive(store, {"store": st.id, "gateway": "demo-gw", "event": "out", "reads": [{"epc": epc}]},
                            bus, source="demo-gw")


def stores_known(store: Store) -> bool:
    return bool(stores(store))

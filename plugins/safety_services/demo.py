"""Demo only (演示数据, every row ``demo: true`` and named 演示): four invented agencies with qualifications
(one expiring soon, one expired) and staff, contracts with most park enterprises, and a year of service
records signed off by the enterprises — including one copied-looking pair (the same findings text at two
enterprises) and a finding repeated at the same enterprise. Seeded once, when the store has no agency."""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from typing import Any

from core.api import Store

from . import services as sv
from .model import ServiceError, agencies, save, services
from .photos import DEMO_URL

log = logging.getLogger(__name__)
ACTOR = "demo:区应急管理局"

AGENCIES = (  # key, name, name_en, [(qualification, expiry in days)], [(name, title)]
    ("anheng", "台州安恒安全技术咨询有限公司(演示)", "Anheng Safety Consulting (demo)",
     [("assessment", 700), ("consulting", 520)],
     [("陈立军", "reg_engineer"), ("王海燕", "reg_engineer"), ("李斌", "assessor"), ("周敏", "technician")]),
    ("jiaoan", "椒江安达安全服务有限公司(演示)", "Jiaoan Safety Services (demo)",
     [("consulting", 40), ("training", 400)],
     [("林志强", "reg_engineer"), ("郑丽", "trainer"), ("黄涛", "technician")]),
    ("huaxin", "浙江华信安全评价中心(演示)", "Huaxin Safety Assessment (demo)",
     [("assessment", 900), ("consulting", -20)],
     [("吴建国", "reg_engineer"), ("徐静", "assessor")]),
    ("kangping", "台州康平应急咨询有限公司(演示)", "Kangping Emergency Consulting (demo)",
     [("consulting", 365), ("training", 300)],
     [("蒋伟", "reg_engineer"), ("孙悦", "trainer"), ("马超", "technician")]),
)
CONTRACTS = (  # agency, enterprise, services
    ("anheng", "ep.ent.hm-plastic", ["hazard_check", "assessment"]),
    ("anheng", "ep.ent.sj-pharma", ["hazard_check", "assessment"]),
    ("anheng", "cp.ent.e2", ["assessment"]),
    ("jiaoan", "ep.ent.hy-pump", ["hazard_check", "training"]),
    ("jiaoan", "ep.ent.jk-sewing", ["hazard_check", "training"]),
    ("jiaoan", "ep.ent.mh-toilet", ["hazard_check"]),
    ("huaxin", "ep.ent.tz-mould", ["assessment"]),
    ("kangping", "ep.ent.jj-autoparts", ["hazard_check", "emergency_plan"]),
    ("kangping", "ep.ent.xl-crafts", ["emergency_plan", "training"]),
    ("kangping", "cp.ent.e1", ["emergency_plan"]),
)
#: (contract index, service, days ago, {item: (note, level, note in English)}, photo?, decision)
RECORDS = (
    (0, "hazard_check", 200, {"hc_exits": ("成品仓库安全出口前堆放纸箱,疏散通道宽度不足一米", "general",
                               "Cartons stacked at the finished-goods store's exit; escape route under 1 m wide"),
                              "hc_fire": ("二楼车间两具灭火器压力不足", "general",
                               "Two extinguishers in the 2nd-floor workshop low on pressure")}, True, "accept"),
    (0, "hazard_check", 60, {"hc_exits": ("成品仓库安全出口再次被纸箱堵塞,上次整改未保持", "major",
                               "Finished-goods store's exit blocked by cartons again; last fix not kept")}, True, "accept"),
    (0, "assessment", 150, {"as_electrical": ("注塑车间配电箱未接地,线路老化", "general",
                               "Moulding shop's distribution box not earthed; wiring aged")}, True, "accept"),
    (1, "hazard_check", 120, {"hc_gas": ("研发楼可燃气体报警器两台故障未修复", "major",
                               "Two gas detectors in the R&D building faulty, not repaired"),
                              "hc_storage": ("危化品暂存间甲醇与盐酸混存未隔离", "major",
                               "Methanol and hydrochloric acid stored together in the chemicals room")}, True, "accept"),
    (1, "assessment", 90, {}, False, "accept"),
    (3, "hazard_check", 170, {"hc_electric": ("车间内电线私拉乱接,插线板串联使用", "general",
                               "Makeshift wiring in the workshop; power strips chained"),
                              "hc_machine": ("冲床防护罩缺失,未设双手操作按钮", "general",
                               "Punch press guard missing; no two-hand control"),
                              "hc_ledger": ("隐患排查台账缺失,上月隐患未闭环", "general",
                               "No hazard ledger; last month's hazards still open")}, False, "accept"),
    (4, "hazard_check", 165, {"hc_electric": ("车间内电线私拉乱接,插线板串联使用", "general",
                               "Makeshift wiring in the workshop; power strips chained"),
                              "hc_machine": ("冲床防护罩缺失,未设双手操作按钮", "general",
                               "Punch press guard missing; no two-hand control"),
                              "hc_ledger": ("隐患排查台账缺失,上月隐患未闭环", "general",
                               "No hazard ledger; last month's hazards still open")}, False, "accept"),
    (3, "training", 140, {"tr_three_level": ("新入职员工五人未经三级安全教育", "general",
                               "Five new hires without the three-level safety induction")}, False, "accept"),
    (5, "hazard_check", 80, {"hc_fire": ("喷淋系统末端试水压力不足", "general",
                               "Sprinkler end-of-line test pressure too low")}, True, "reject"),
    (6, "assessment", 110, {"as_hazmat": ("切削液及稀释剂与成品同库存放", "general",
                               "Cutting fluid and thinner stored with finished goods")}, True, "accept"),
    (7, "hazard_check", 130, {"hc_storage": ("喷漆房内存放稀释剂超过一昼夜用量", "major",
                               "Paint booth holds more than a day's thinner")}, True, "accept"),
    (7, "emergency_plan", 100, {"ep_drill": ("本年度未组织火灾事故专项预案演练", "general",
                               "No fire plan drill held this year")}, True, "accept"),
    (8, "emergency_plan", 75, {"ep_cards": ("岗位应急处置卡未发放到班组", "general",
                               "Emergency response cards not issued to the shifts")}, True, "accept"),
    (8, "training", 40, {}, False, "accept"),
    (9, "emergency_plan", 50, {"ep_risk": ("未开展储罐区泄漏事故风险评估", "major",
                               "No leak risk assessment of the tank farm")}, True, "accept"),
    (1, "hazard_check", 30, {"hc_gas": ("研发楼可燃气体报警器仍有一台故障,未按期修复", "major",
                               "One gas detector in the R&D building still faulty, past its fix date")}, True, "accept"),
    (7, "hazard_check", 10, {"hc_exits": ("喷漆车间东侧安全出口上锁", "major",
                               "Paint shop's east exit locked")}, True, None),
)


def seed(store: Store, settings: Any, bus: Any, today: dt.date | None = None) -> int:
    """Seed the demo once (no agencies yet, enterprises present); the number of records filed."""
    today = today or dt.date.today()
    if agencies(store):
        return 0
    if not any(store.entity(e) for _, e, _ in CONTRACTS):
        return 0                       # the enterprises' plugins are not loaded (yet)
    staff_of: dict[str, list[str]] = {}
    for key, name, name_en, quals, people in AGENCIES:
        a = sv.add_agency(store, {"key": key, "name": name, "name_en": name_en, "uscc": "DEMO-" + key.upper(),
                                  "phone": "0576-8800-0000 (演示)", "demo": True,
                                  "qualifications": [{"kind": k, "no": f"演示-{k[:2].upper()}-{i + 1:03d}",
                                                      "expiry": (today + dt.timedelta(days=d)).isoformat()}
                                                     for i, (k, d) in enumerate(quals)]}, ACTOR)
        staff_of[a.id] = [sv.add_staff(store, a.id, {"name": n, "title": t, "demo": True,
                                                     "cert_no": f"演示{zlib.crc32(n.encode()) % 10 ** 8:08d}",
                                                     "cert_expiry": (today + dt.timedelta(days=500)).isoformat()},
                                       ACTOR).id for n, t in people]
    made: list[tuple[Any, str] | None] = []
    start = today - dt.timedelta(days=330)
    for key, ent, kinds in CONTRACTS:
        try:
            made.append(sv.add_contract(store, settings, {"agency": f"ss.agency.{key}", "enterprise": ent,
                                                          "services": kinds, "start": start.isoformat(),
                                                          "end": (start + dt.timedelta(days=730)).isoformat(),
                                                          "demo": True}, ACTOR, today=today))
        except ServiceError as exc:     # that enterprise's plugin is off
            log.info("safety_services demo: contract %s → %s skipped: %s", key, ent, exc)
            made.append(None)
    n = 0
    for ci, service, ago, found, photo, decision in RECORDS:
        if made[ci] is None:
            continue
        c, code = made[ci]
        day = today - dt.timedelta(days=ago)
        items = {it["key"]: ({"result": "finding", "note": found[it["key"]][0], "level": found[it["key"]][1],
                              "note_en": found[it["key"]][2]}
                             if it["key"] in found else {"result": "ok"}) for it in services()[service]["items"]}
        rec = sv.file_record(store, settings, {"contract": c.id, "service": service, "date": day.isoformat(),
                                               "staff": staff_of[c.agency][:2], "items": items, "demo": True,
                                               "summary": f"演示:{services()[service]['zh']}共检查"
                                                          f"{len(items)}项,发现问题{len(found)}项。"},
                             ACTOR, None, None, today=today)
        if photo and found:             # the demo's evidence: one picture shipped with the plugin
            for f in rec.findings():
                f["photos"] = [DEMO_URL]
            save(store, [rec], ACTOR, "demo.photos", f"record:{rec.id}", None, {"photos": len(found)})
        if decision:
            # only the last quarter's findings go to the hazard loop: older ones were dealt with before it ran
            sv.sign_off(store, settings, bus if ago <= 90 else None, rec.id, {"code": code, "signer": "企业安全负责人(演示)",
                                                       "decision": decision,
                                                       "comment": "部分问题描述与现场不符,请复核" if decision == "reject"
                                                       else ""}, ACTOR, None, today=day)
        n += 1
    return n

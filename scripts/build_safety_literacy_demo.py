"""Write the safety_literacy plugin's DEMO files (plugins/safety_literacy/demo/): rosters, training
records and 五进 outreach events, as CSV and .xlsx, the way a district would fill them in.

Everything is invented (names, units' staff, certificate numbers); only the streets and towns, the
demonstration bases and the enterprises of the demo twin are the project's. Deterministic (seeded), so
running it again gives the same files. Run: ``.venv/bin/python scripts/build_safety_literacy_demo.py``.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import sys
from pathlib import Path

import openpyxl
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from core.geo.basemap import contains_district, is_on_land, town_labels  # noqa: E402

OUT = ROOT / "plugins" / "safety_literacy" / "demo"
NOTE = "演示数据"
TODAY = dt.date(2026, 11, 30)      # the newest date in the demo files
TOWNS = ["海门", "葭沚", "白云", "洪家", "下陈", "前所", "章安", "三甲", "大陈"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁郑谢宋唐许韩冯邓曹彭曾蔡潘田董袁於余叶蒋杜苏"
GIVEN = "建国志强海波立新晓明丽华秀英国平春燕伟东红梅军辉文静浩然子涵雨欣佳怡宇航俊杰思远振宇明哲嘉豪雅琴玉兰"
# high-risk enterprises of the demo twin: id, name, workers; (trained share, principal ok, manager ok, expired certs)
ENTERPRISES = [
    ("cp.ent.e1", "演示甲药业有限公司", 260, 0.96, True, True, 0),
    ("cp.ent.e2", "演示乙化工有限公司", 180, 1.0, True, True, 0),
    ("cp.ent.e3", "演示丙氟化学有限公司", 150, 0.8, True, False, 1),
    ("cp.ent.e4", "演示丁新材料有限公司", 210, 1.0, True, True, 0),
    ("cp.ent.e5", "园区储运有限公司(演示)", 85, 1.0, True, True, 1),
    ("cp.ent.e6", "园区公用工程有限公司(演示)", 60, 0.87, True, True, 0),
    ("ep.ent.sj-pharma", "三甲医药中间体研发中心", 45, 0.89, True, True, 0),
    ("sl.fw.hongjia", "洪家烟花爆竹批发仓储有限公司(演示)", 28, 1.0, True, True, 0),
    ("sl.fw.qiansuo", "前所烟花爆竹配送站(演示)", 14, 0.71, False, True, 0),
]
SME_THREE = [("ep.ent.hy-pump", "海跃泵业有限公司"), ("ep.ent.jj-autoparts", "江嘉汽摩配件有限公司"),
             ("ep.ent.mh-toilet", "美华智能卫浴有限公司")]
SPECIAL_OPS = ["电工作业", "焊接与热切割作业", "危险化学品安全作业", "高处作业", "制冷与空调作业"]


class Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng, self.used = rng, set()

    def new(self) -> str:
        while True:
            n = self.rng.choice(SURNAMES) + "".join(self.rng.sample(GIVEN, self.rng.choice((1, 2))))
            if n not in self.used:
                self.used.add(n)
                return n


def day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def write_xlsx(path: Path, sheet: str, header: list[str], rows: list[list]) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(header)
    for r in rows:
        ws.append(r)
    for col in ws.columns:
        ws.column_dimensions[col[0].column_letter].width = 16
    wb.save(path)


def government(rng: random.Random, names: Names) -> tuple[list[list], list[list]]:
    """Rosters of cadres, inspectors and grid workers, and their training records (a few missing)."""
    roster, train = [], []
    units = [("区应急管理局", "", 12)] + [(f"{t}{'镇' if t == '大陈' else '街道'}应急管理办公室", t, 4) for t in TOWNS]
    for unit, town, n in units:
        for k in range(n):
            who = names.new()
            roster.append([who, unit, "干部", town, "是", NOTE])
            if (unit, k) in {("下陈街道应急管理办公室", 3), ("大陈镇应急管理办公室", 2), ("区应急管理局", 11)}:
                continue
            d = day(rng, dt.date(2026, 3, 1), dt.date(2026, 11, 20))
            train.append([who, unit, "干部轮训", rng.choice(["集中轮训", "网络课堂", "实战演练"]), rng.choice([16, 24, 32]),
                          d.isoformat(), "", "", town, NOTE])
    units = [("区应急管理局执法大队", "", 10)] + [(f"{t}{'镇' if t == '大陈' else '街道'}安监站", t, 2) for t in TOWNS]
    for unit, town, n in units:
        for k in range(n):
            who = names.new()
            roster.append([who, unit, "执法人员", town, "是", NOTE])
            if (unit, k) in {("洪家街道安监站", 1), ("区应急管理局执法大队", 9)}:
                continue
            d = day(rng, dt.date(2026, 4, 1), dt.date(2026, 10, 31))
            train.append([who, unit, "执法人员复训", "安全生产执法资格复训", 40, d.isoformat(),
                          (d + dt.timedelta(days=365 * 3)).isoformat(), f"演示JF{d:%Y}{len(train):04d}", town, NOTE])
    for town in TOWNS:
        unit = f"{town}{'镇' if town == '大陈' else '街道'}网格"
        for k in range(8 if town != "大陈" else 4):
            who = names.new()
            roster.append([who, unit, "网格员", town, "是", NOTE])
            if rng.random() < 0.12:
                continue
            d = day(rng, dt.date(2026, 2, 1), dt.date(2026, 11, 25))
            train.append([who, unit, "网格员培训", "应急管理网格员业务培训", rng.choice([8, 12, 16]), d.isoformat(),
                          "", "", town, NOTE])
    return roster, train


def enterprises(rng: random.Random, names: Names) -> list[list]:
    rows = []
    serial = 0

    def cert(prefix: str) -> str:
        nonlocal serial
        serial += 1
        return f"演示{prefix}{serial:05d}"

    for eid, name, workers, share, principal, manager, expired in ENTERPRISES:
        for k in range(round(workers * share)):
            d = day(rng, dt.date(2026, 1, 5), dt.date(2026, 11, 28))
            rows.append([names.new(), name, "一线员工", "高危行业一线员工安全素养提升培训", rng.choice([8, 12, 16, 24]),
                         d, None, None, None, NOTE])
        if principal:
            d = day(rng, dt.date(2024, 3, 1), dt.date(2026, 6, 30))
            rows.append([names.new(), name, "主要负责人", "主要负责人安全生产知识和管理能力考核", 48, d,
                         d + dt.timedelta(days=365 * 3), cert("ZF"), None, NOTE])
        if manager:
            for _ in range(2):
                d = day(rng, dt.date(2024, 3, 1), dt.date(2026, 6, 30))
                rows.append([names.new(), name, "安全管理人员", "安全生产管理人员考核", 48, d,
                             d + dt.timedelta(days=365 * 3), cert("AG"), None, NOTE])
        else:          # its only safety manager's certificate ran out in May
            rows.append([names.new(), name, "安全管理人员", "安全生产管理人员考核", 48, dt.date(2023, 5, 10),
                         dt.date(2026, 5, 9), cert("AG"), None, NOTE])
        for m in range(3 + workers // 60):
            d = day(rng, dt.date(2021, 6, 1), dt.date(2026, 9, 30))
            exp = d + dt.timedelta(days=365 * 6)
            if m < expired:
                exp = dt.date(2026, 10, 15)
            elif m == expired and workers > 100:
                exp = TODAY + dt.timedelta(days=20 + 9 * len(rows) % 30)     # expiring within 60 days
            rows.append([names.new(), name, "特种作业人员", rng.choice(SPECIAL_OPS), 40, d, exp, cert("TZ"), None, NOTE])
    for eid, name in SME_THREE:
        for cat, prefix in (("主要负责人", "ZF"), ("安全管理人员", "AG")):
            d = day(rng, dt.date(2024, 1, 1), dt.date(2026, 8, 31))
            rows.append([names.new(), name, cat, "", 32, d, d + dt.timedelta(days=365 * 3), cert(prefix), None, NOTE])
    return rows


def outreach(rng: random.Random) -> list[list]:
    bases = yaml.safe_load((ROOT / "plugins" / "safety_literacy" / "twin" / "bases.yaml").read_text("utf-8"))["entities"]
    bases = [b for b in bases if b["kind"] == "safety_literacy_base"]
    seats = {t["name_zh"]: (t["lon"], t["lat"]) for t in town_labels()}
    kinds = {  # channel: (zh, places, audiences, count range, weight)
        "进企业": (["{t}工业园区", "{t}小微企业园", "外沙岩头化工园区"], ["企业员工", "企业负责人", "特种作业人员"], (30, 260), 5),
        "进农村": (["{t}文化礼堂", "{t}村委会"], ["村民", "村(居)应急志愿者"], (40, 180), 3),
        "进社区": (["{t}社区服务中心", "{t}社区广场"], ["社区居民", "楼道长"], (50, 300), 4),
        "进学校": (["{t}中心小学", "{t}中学"], ["学生", "教职工"], (120, 800), 4),
        "进家庭": (["{t}社区入户", "{t}网格入户"], ["家庭户"], (10, 60), 2),
    }
    titles = {"进企业": ["安全生产月宣讲", "危化品事故警示教育", "消防疏散演练", "有限空间作业安全培训"],
              "进农村": ["防汛防台避险转移宣讲", "农村消防安全宣传", "森林防火宣传"],
              "进社区": ["电动自行车消防安全宣传", "燃气安全进社区", "防灾减灾日宣传"],
              "进学校": ["防溺水安全教育", "地震应急疏散演练", "应急安全第一课"],
              "进家庭": ["家庭应急包发放", "燃气安全入户检查", "家庭防火指导"]}
    channels = [c for c, v in kinds.items() for _ in range(v[3])]
    rows = []
    base_channel = {"community": "进社区", "school": "进学校", "enterprise": "进企业"}
    for month in range(12):
        y, m = (2025, 12) if month == 0 else (2026, month)
        for _ in range(rng.randint(7, 13)):
            ch = rng.choice(channels)
            places, audiences, (lo, hi), _ = kinds[ch]
            town = rng.choice(TOWNS[:8])
            d = dt.date(y, m, rng.randint(1, 28))
            base = ""
            cands = [b for b in bases if base_channel.get(b["properties"]["base_type"]) == ch
                     or b["properties"]["base_type"] in ("experience_hall", "training_base") and ch in ("进学校", "进企业")]
            if cands and rng.random() < 0.35:
                b = rng.choice(cands)
                base, town, place, (lon, lat) = b["name"], b["properties"]["town"], b["name"], (b["lon"], b["lat"])
            else:
                place = rng.choice(places).format(t=town)
                while True:
                    lon = seats[town][0] + rng.uniform(-0.012, 0.012)
                    lat = seats[town][1] + rng.uniform(-0.01, 0.01)
                    lon, lat = round(lon, 5), round(lat, 5)     # as written to the file
                    if is_on_land(lon, lat) and contains_district(lon, lat):
                        break
            rows.append([ch, rng.choice(titles[ch]), place, rng.choice(audiences), rng.randint(lo, hi), d, town, base,
                         round(lon, 5), round(lat, 5), NOTE])
    rows.sort(key=lambda r: r[5])
    return rows


def main() -> None:
    rng = random.Random(15)
    names = Names(rng)
    OUT.mkdir(parents=True, exist_ok=True)
    roster, train = government(rng, names)
    write_csv(OUT / "demo_rosters.csv", ["姓名", "单位", "类别", "所属街道", "在岗", "备注"], roster)
    write_csv(OUT / "demo_training_government.csv",
              ["姓名", "单位", "类别", "培训项目", "学时", "培训日期", "有效期至", "证书编号", "所属街道", "备注"], train)
    write_xlsx(OUT / "demo_training_enterprises.xlsx", "培训记录(演示)",
               ["姓名", "单位", "类别", "培训项目", "学时", "培训日期", "有效期至", "证书编号", "所属街道", "备注"],
               enterprises(rng, names))
    write_xlsx(OUT / "demo_outreach.xlsx", "五进活动(演示)",
               ["渠道", "活动名称", "地点", "对象", "人数", "日期", "所属街道", "示范基地", "经度", "纬度", "备注"], outreach(rng))
    for p in sorted(OUT.iterdir()):
        print(p.relative_to(ROOT), p.stat().st_size)


if __name__ == "__main__":
    main()

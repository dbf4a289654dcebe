"""English forms of Chinese place and company names: the known suffixes in English, the rest in pinyin.

``name_en("海门街道")`` is ``"Haimen Subdistrict"``; ``name_en("台州华达化工有限公司")`` is
``"Taizhou Huada Chemical Co., Ltd."``. A name with no Chinese in it is returned as it is. The English
screens (``?lang=en``) use it where the twin gives no ``name_en`` (issue 19).
"""

from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

#: company suffixes and their English words
_COMPANY: tuple[tuple[str, str], ...] = (
    ("股份有限公司", "Co., Ltd."), ("有限责任公司", "Co., Ltd."), ("有限公司", "Co., Ltd."), ("集团", "Group"),
    ("公司", "Company"), ("厂", "Factory"))
#: place suffixes (longest first) and their English words; one is taken from the end of a name
_PLACE: tuple[tuple[str, str], ...] = (
    ("经济开发区", "Economic Development Zone"), ("避灾安置点", "Shelter"), ("化工园区", "Chemical Park"),
    ("工业园区", "Industrial Park"), ("村委会", "Village Committee"), ("开发区", "Development Zone"),
    ("自治县", "Autonomous County"), ("储备库", "Reserve Depot"), ("消防站", "Fire Station"), ("派出所", "Police Station"),
    ("安置点", "Shelter"), ("产业园", "Industrial Park"), ("街道", "Subdistrict"), ("社区", "Community"),
    ("园区", "Park"), ("新区", "New Area"), ("林区", "Forest Area"), ("罐区", "Tank Farm"), ("沿海", "Coast"),
    ("潮位站", "Tide Station"), ("水文站", "Hydrological Station"), ("水位站", "Water-level Station"),
    ("雨量站", "Rain Gauge"), ("水库", "Reservoir"), ("水闸", "Sluice"), ("泵站", "Pumping Station"), ("海塘", "Seawall"), ("大桥", "Bridge"),
    ("码头", "Wharf"), ("仓库", "Warehouse"), ("医院", "Hospital"), ("中学", "Middle School"), ("小学", "Primary School"),
    ("学校", "School"), ("广场", "Square"), ("公园", "Park"), ("市", "City"), ("县", "County"), ("镇", "Town"),
    ("乡", "Township"), ("村", "Village"), ("港", "Port"), ("岛", "Island"), ("湾", "Bay"), ("湖", "Lake"),
)
#: suffixes that name a district only after a two-character name (椒江区, not 罐区)
_SHORT_PLACE: tuple[tuple[str, str], ...] = (("区", "District"),)
#: trade words inside company names
_TRADES: tuple[tuple[str, str], ...] = (
    ("化工", "Chemical"), ("化学", "Chemical"), ("制药", "Pharmaceutical"), ("医药", "Pharmaceutical"), ("药业", "Pharmaceutical"),
    ("新材料", "New Materials"), ("材料", "Materials"), ("科技", "Technology"), ("机械", "Machinery"),
    ("电子", "Electronics"), ("物流", "Logistics"), ("能源", "Energy"), ("塑业", "Plastics"), ("塑料", "Plastics"),
    ("纺织", "Textile"), ("食品", "Food"), ("印染", "Dyeing"), ("鞋业", "Footwear"), ("五金", "Hardware"),
    ("汽车", "Automotive"), ("电器", "Electrical Appliances"), ("包装", "Packaging"), ("建材", "Building Materials"),
    ("实业", "Industrial"), ("工贸", "Industry & Trade"), ("贸易", "Trading"), ("危化品", "Hazardous Chemicals"),
)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def has_chinese(text: str) -> bool:
    """True when ``text`` holds a Chinese character."""
    return bool(_HAN.search(text or ""))


def pinyin(text: str) -> str:
    """``text``'s Chinese in pinyin without tones, in capitalised words of two syllables (``"外沙岩头"`` →
    ``"Waisha Yantou"``; an odd count stays one word)."""
    def words(run: str) -> str:
        syl = lazy_pinyin(run, style=Style.NORMAL)
        if len(syl) >= 4 and len(syl) % 2 == 0:
            return " " + " ".join("".join(syl[i:i + 2]).capitalize() for i in range(0, len(syl), 2)) + " "
        return " " + "".join(syl).capitalize() + " "
    return re.sub(r"\s+", " ", _HAN.sub(lambda m: words(m.group(0)), text)).strip()


def _cut(rest: str, table: tuple[tuple[str, str], ...], min_left: int = 1) -> tuple[str, str]:
    for zh, en in table:
        if rest.endswith(zh) and len(rest) - len(zh) >= min_left:
            return rest[: -len(zh)], en
    return rest, ""


@lru_cache(maxsize=4096)
def name_en(name: str) -> str:
    """The English form of a Chinese place or company name: its suffixes in English, the rest in pinyin."""
    rest = (name or "").strip()
    if not has_chinese(rest):
        return rest
    tail: list[str] = []
    rest, company = _cut(rest, _COMPANY)
    if company:
        tail.append(company)
        while True:  # trade words before the company suffix: 化工 → Chemical
            rest, trade = _cut(rest, _TRADES)
            if not trade:
                break
            tail.insert(0, trade)
    else:
        rest, place = _cut(rest, _PLACE)
        if not place and len(rest) == 3:
            rest, place = _cut(rest, _SHORT_PLACE, 2)
        if place:
            tail.append(place)
    words = [pinyin(rest)] + tail
    return re.sub(r"\s+", " ", " ".join(w for w in words if w)).replace(" ,", ",").strip()


#: two-character surnames (复姓): the rest of a name is the given name
_COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "令狐", "慕容", "夏侯", "长孙", "宇文",
                      "司徒", "轩辕", "端木", "南宫", "西门", "独孤", "申屠")
#: surnames read otherwise than the character's usual reading
_SURNAME_READING = {"曾": "zeng", "单": "shan", "仇": "qiu", "解": "xie", "区": "ou", "查": "zha", "朴": "piao",
                    "乐": "yue", "覃": "qin", "缪": "miao", "翟": "zhai", "盖": "ge", "种": "chong", "秘": "bi",
                    "长孙": "zhangsun", "尉迟": "yuchi", "万俟": "moqi"}


def person_en(name: str) -> str:
    """A Chinese person's name in pinyin, surname first as written in English: ``"罗佳琪"`` → ``"Luo Jiaqi"``,
    ``"欧阳明"`` → ``"Ouyang Ming"``. An anonymised name (``"胡某某"``, ``"王某"``) keeps the surname only:
    ``"Hu X."``. Several names joined by 、 , or ， come back joined by ", ". A name with no
    Chinese in it is returned as it is."""
    parts = [p.strip() for p in re.split(r"[、,，]", name or "") if p.strip()]
    if len(parts) > 1:
        return ", ".join(person_en(p) for p in parts)
    name = (name or "").strip()
    if not has_chinese(name) or not _HAN.fullmatch(name):
        return name if not has_chinese(name) else pinyin(name)
    cut = 2 if (name[:2] in _COMPOUND_SURNAMES or name[:2] in _SURNAME_READING) and len(name) > 2 else 1
    surname, given = name[:cut], name[cut:]
    sur = (_SURNAME_READING.get(surname) or "".join(lazy_pinyin(surname, style=Style.NORMAL))).capitalize()
    if not given or set(given) <= {"某"}:
        return f"{sur} X." if given else sur
    return f"{sur} {''.join(lazy_pinyin(given, style=Style.NORMAL)).capitalize()}"

#!/usr/bin/env python3
"""Generate the civgrid demo district (呼和浩特市新城区, code 150102) into data/demo/.

Usage: python scripts/make_demo.py [--out DIR] [--end-date YYYY-MM-DD] [--seed N]

Deterministic: every random draw comes from one numpy Generator seeded with --seed (default
20261127) and nothing is read from the network, so the same arguments give byte-identical files.
Metric work happens in EPSG:4546; files are written in lon/lat EPSG:4490 (no "crs" member),
UTF-8 without BOM, LF line endings.

Files:
  district.geojson  FeatureCollection with one Feature {code: 150102000000000, name: 新城区}
  grids.geojson     FeatureCollection of all streets, communities and grids (MultiPolygon,
                    vertices rounded to 7 decimals) with properties code, name, leader,
                    departments ("、"-separated), population; level and parent follow from code
  issues.csv        ~20,000 problem points, columns ISSUE_COLUMNS, lon/lat 6 decimals,
                    times ISO 8601 with +08:00 inside the 90 days ending --end-date
  toilets.csv       600 dry latrines + 80 public flush toilets, columns TOILET_COLUMNS
  blocks.geojson    FeatureCollection of the blocks: each face of the road network cut along
                    straight internal lanes (demo_lanes.py) into pieces of about 5 ha in the
                    centre to 10-20 ha at the edge, with property ref (B0001-1, B0001-2, ...
                    the pieces of face 1; B0001 for a face left whole); every grid is the
                    union of whole blocks and the blocks share the grids' vertices (same
                    rounding). The lanes draw no random numbers.

Codes are 15 digits: 150102 + SSS street + CCC community + GGG grid, lower parts zero for
streets (150102SSS000000) and communities (150102SSSCCC000).

Sequence rule (SSS within the district, CCC within its street, GGG within its community):
take the written geometry (lon/lat rounded to 7 decimals) of each unit and of its parent,
project both to EPSG:4546, let N = the parent's maximum northing (bbox maxy) and (x, y) the
unit's polygon centroid; row = floor((N - y) / H) with H = 4000 m for streets, 2000 m for
communities, 1000 m for grids; sort by (row, x) and number 001, 002, ... in that order
(north -> south rows, west -> east within a row).

Grid boundaries follow a synthetic road network (see demo_shapes.py): blocks between roads are
the grids, streets are split along arterials, communities are groups of adjacent blocks.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Point
from shapely.geometry.polygon import orient
from shapely.ops import unary_union

sys.path.insert(0, str(Path(__file__).resolve().parent))
import demo_lanes as lanes  # noqa: E402
import demo_shapes as ds  # noqa: E402

DISTRICT_CODE, DISTRICT_NAME = "150102", "新城区"
SEED = 20261127
TARGET_GRIDS, TARGET_COMMUNITIES = 150, 40
ROW_HEIGHT = {"street": 4000.0, "community": 2000.0, "grid": 1000.0}
VILLAGE_RHO = 0.72            # communities farther out than this are villages (村/嘎查)
ISSUE_COLUMNS = ["ref", "category", "lon", "lat", "reported_at", "source", "status",
                 "description", "address", "closed_at"]
TOILET_COLUMNS = ["code", "kind", "name", "lon", "lat", "address", "original_type", "action",
                  "status", "planned_at", "started_at", "accepted_at", "heating", "power",
                  "water", "sewage", "ventilation", "sanitary_type", "photos"]
FACILITIES = ["heating", "power", "water", "sewage", "ventilation"]
# category -> (time limit in hours or None = per plan, weight in the background mix)
CATEGORIES = {
    "06010": (24, 18), "06036": (24, 14), "06041": (48, 6), "07001": (24, 16),
    "07008": (72, 4), "08016": (360, 3), "09009": (24, 16), "09010": (24, 8),
    "09020": (48, 0), "02001": (72, 5), "10002": (120, 3), "03001": (24, 0),
    "91001": (None, 0), "91002": (None, 0), "91003": (360, 0), "92001": (24, 5),
    "93001": (120, 2), "93002": (48, 0), "93003": (120, 0), "93004": (None, 1)}
HOTSPOT_MIX = {  # hotspot kind -> (issue count, {category: weight})
    "market": (2800, {"09020": 45, "06010": 15, "09009": 10, "09010": 8, "06036": 10,
                      "07001": 7, "06041": 5}),
    "alley": (3600, {"93002": 35, "06010": 20, "06036": 15, "07001": 12, "10002": 8,
                     "09010": 5, "92001": 5}),
    "compound": (3200, {"93003": 30, "06036": 15, "08016": 10, "10002": 8, "93004": 7,
                        "09009": 10, "06041": 10, "92001": 5, "07001": 5})}
TOILET_ISSUES = {"03001": 260, "91003": 90, "91001": 60, "91002": 90}
N_ISSUES, N_OUTSIDE, N_EDGE = 20000, 100, 12
SOURCES = {"patrol": 34, "sweep": 28, "citizen": 13, "leader": 6, "joint": 8, "city": 7,
           "other": 4}
HOUR_WEIGHTS = [2, 1, 1, 1, 2, 5, 12, 25, 50, 70, 75, 65, 40, 35, 55, 65, 60, 50, 30, 20,
                15, 12, 8, 4]
OPEN_STATES = ["reported", "filed", "dispatched", "processing", "fed_back", "checking"]
MISSING_WEIGHTS = {"heating": 40, "ventilation": 25, "sewage": 15, "water": 15, "power": 5}
LATRINE_ACTIONS = {"household": {"convert": 55, "demolish": 30, "new_build": 15},
                   "public": {"demolish": 40, "new_build": 40, "convert": 20}}
SANITARY = {"three_compartment": 40, "double_urn": 15, "biogas": 8, "urine_diverting": 7,
            "double_pit": 10, "sewer_flush": 20}

# ---------------------------------------------------------------- vocabulary
NS_NAMES = ("西把栅路 东影北路 锡林北路 艺术厅北街 通道北路 兴安北路 新城西街 公园东路 "
            "新城东街 丁香路 呼伦北路 东二环路 海东路 塔布板路 毫沁营路 讨号板路 东三环路").split()
EW_NAMES = ("新华东街 中山东路 满都海路 东风路 北垣东街 海拉尔东路 成吉思汗大街 赛马场北路 "
            "二环北路 保合少路 大青山路 水磨路 奎素路").split()      # south -> north
DIAG_NAMES = ["腾飞大道", "呼武公路"]
STREET_NAMES = ("海东路街道 东风路街道 迎新路街道 锡林北路街道 成吉思汗大街街道 东街街道 "
                "西街街道 中山东路街道").split()
COMMUNITY_STEMS = ("光明 新华 团结 和平 幸福 友谊 民族 胜利 青城 锦绣 阳光 东影 公园 桥华 兴安 "
                   "如意 满都海 北垣 文化 健康 朝阳 东瓦窑 园林 滨河 长乐 康乐 富康 怡园 建设 "
                   "育才 丁香 紫薇 春华 祥和 金桥 松园 翠苑 海东 惠民 安泰").split()
VILLAGE_STEMS = ("讨号板 水磨 毫沁营 新营子 恼包 奎素 石人湾 大窑 坡根底 前不塔气 后不塔气 "
                 "面铺窑 保合少 东把栅 西把栅 古路板 哈拉沁 乌素图 陶卜齐 边墙").split()
GACHA_STEMS = ["巴彦", "乌兰", "额尔敦"]
COMPOUND_NAMES = ("电业局家属院 纺织厂宿舍 铁路小区 机械厂家属院 师范小区 粮食局小区 东影小区 "
                  "化肥厂小区 毛纺厂小区 园林小区 邮电小区 水利小区 物资局家属院 民航小区 "
                  "光华小区 糖厂家属院").split()
SURNAMES = ("王 李 张 刘 陈 杨 赵 黄 周 吴 徐 孙 胡 朱 高 林 何 郭 马 罗 梁 宋 郑 谢 韩 唐 冯 于 "
            "董 程 曹 袁 邓 许 沈 曾 彭 吕 苏 卢 蒋 蔡 贾 丁 魏 薛 叶 阎 潘 杜 戴 夏 田 任 姜 "
            "范 方 石 姚 白 崔 康 郝 孟 乔 贺 武 常 云 奇").split()
GIVEN_NAMES = ("建国 志强 秀英 丽华 海军 玉兰 晓东 永平 春梅 立新 文杰 红梅 国庆 卫东 桂英 "
               "振华 德明 淑珍 俊峰 慧敏 宏伟 雪梅 少华 建军 明辉 凤英 瑞祥 云飞 宝山 晓燕 "
               "伟 静 磊 敏 军 勇 杰 娟 涛 斌 艳 刚 平 霞 鹏 辉 丹 琳 旭 峰").split()
MONGOLIAN_NAMES = ("巴特尔 其木格 乌云毕力格 斯琴高娃 额尔德尼 阿拉坦仓 朝鲁门 苏日娜 那仁满都拉 "
                   "敖登格日勒 宝音图 萨仁 乌日娜 呼和 图雅 哈斯").split()
STREET_LEADER_TITLES = ["区委副书记", "副区长", "区人大常委会副主任", "区政协副主席",
                        "区委常委、宣传部部长", "区委常委、组织部部长", "区委常委、政法委书记",
                        "区委常委、常务副区长", "区人大常委会主任", "区政协主席"]
DEPARTMENTS = {"区住建局": "局长", "区城管局": "局长", "区市场监管局": "局长", "区卫健委": "主任",
               "区交管大队": "大队长", "区生态环境分局": "局长", "区文旅局": "局长",
               "区农牧局": "局长", "区水务局": "局长", "区民政局": "局长", "区教育局": "局长",
               "区商务局": "局长", "区应急管理局": "局长", "区自然资源分局": "局长",
               "区发改委": "主任", "区财政局": "局长", "区司法局": "局长", "区人社局": "局长",
               "区统计局": "局长", "区医保局": "局长", "区融媒体中心": "主任", "区总工会": "主席"}
PLACE_WORDS = ["路口", "人行道", "沿街商铺门前", "公交站旁", "绿化带", "辅路", "小区门口",
               "学校周边", "桥下"]
CATEGORY_TEXT = {  # variants appended to the place (road, market gate, alley, building, toilet)
    "06010": "暴露垃圾未及时清运|存在卫生死角，积存垃圾|垃圾桶满溢，周边散落垃圾|建筑垃圾未清理",
    "06036": "乱堆杂物|堆放废旧家具|杂物占用消防通道|堆放纸箱等废品",
    "06041": "垃圾未分类投放|分类垃圾桶混投|厨余垃圾与其他垃圾混放",
    "07001": "墙面张贴小广告|电线杆上有办证小广告|喷涂牛皮癣广告",
    "07008": "公益广告破损|公益广告褪色脱落|围挡公益广告破损",
    "08016": "违法搭建彩钢房|私搭乱建棚舍|楼顶违建",
    "09009": "机动车乱停放|车辆占用人行道停放|机动车占用盲道|僵尸车长期停放",
    "09010": "共享单车乱停乱放|非机动车无序停放|电动车占道停放",
    "09020": "占道经营，摊位外溢|流动摊贩聚集|地面污水横流|出店经营|生熟不分、卫生较差",
    "02001": "交通护栏损坏|交通标志牌倾斜|斑马线磨损不清|信号灯故障",
    "10002": "架空线缆凌乱|私拉飞线充电|线缆垂落",
    "03001": "堵塞无法使用|无人保洁，异味大|照明损坏|未按时开放",
    "91001": "尚未拆除|仍在使用，待拆除",
    "91002": "待改造为水冲厕|改造进度滞后",
    "91003": "|，群众反映使用不便",
    "92001": "遛狗未牵绳|犬只粪便未清理|大型犬未拴养",
    "93001": "公益广告数量不足|公益广告占比不达标",
    "93002": "路面破损坑洼|垃圾杂物堆积|墙面脏污破损|私接管线杂乱",
    "93003": "楼道堆物|化粪池满溢|路面破损积水|绿地荒芜",
    "93004": "线缆未入地|通信线缆杂乱未入地"}
MISSING_TEXT = {"heating": "无取暖设施", "power": "未通电", "water": "无上水",
                "sewage": "排污不畅", "ventilation": "无通风设施"}
ORDINALS = "一二三四五六七八九十"


def pick(rng, weights: dict, size=None):
    """Weighted choice among the keys of ``weights``."""
    keys = list(weights)
    p = np.array([weights[k] for k in keys], float)
    idx = rng.choice(len(keys), size=size, p=p / p.sum())
    return keys[idx] if size is None else [keys[i] for i in idx]


# ---------------------------------------------------------------- grids

def build_blocks(rng):
    """Outline -> roads -> blocks -> streets -> communities (metric).

    Returns (roads, faces, blocks, tree): ``faces`` are the areas between roads, ``blocks``
    the grids, each a union of adjacent faces, and tree[street][community] lists indices
    into ``blocks``."""
    outline = ds.make_outline(rng)
    roads, arterials = ds.make_roads(rng, outline, NS_NAMES, EW_NAMES, DIAG_NAMES)
    faces = ds.faces([r.line for r in roads], outline)
    labels = ds.street_labels(faces, arterials, outline)
    diagonals = unary_union([r.line for r in roads if r.name in DIAG_NAMES])
    blocks, labels = ds.merge_blocks(faces, labels, TARGET_GRIDS, keep=diagonals)
    adj = ds.adjacency(blocks)
    tree = []
    for lab in sorted(set(labels)):
        members = [i for i, s in enumerate(labels) if s == lab]
        k = max(2, round(len(members) * TARGET_COMMUNITIES / len(blocks)))
        tree.append(ds.grow_communities(blocks, members, k, adj))
    return roads, faces, blocks, tree


def sequence_order(children, parent, level: str) -> list[int]:
    """Indices of ``children`` (lon/lat geometries) in sequence order (module docstring)."""
    north = ds.to_metric(parent).bounds[3]
    cents = [ds.to_metric(g).centroid for g in children]
    return sorted(range(len(children)),
                  key=lambda i: (math.floor((north - cents[i].y) / ROW_HEIGHT[level]),
                                 cents[i].x))


def number_units(blocks, tree):
    """Codes and lon/lat geometries of all units; returns (district_ll, units in code order)."""
    district = ds.to_lonlat(unary_union(blocks))
    s_metric = [unary_union([blocks[i] for grp in st for i in grp]) for st in tree]
    s_ll = [ds.to_lonlat(m) for m in s_metric]
    units = []
    for s_seq, si in enumerate(sequence_order(s_ll, district, "street"), 1):
        s_code = f"{DISTRICT_CODE}{s_seq:03d}"
        units.append(dict(level="street", code=s_code + "000000", geom=s_ll[si],
                          metric=s_metric[si]))
        groups = tree[si]
        c_metric = [unary_union([blocks[i] for i in grp]) for grp in groups]
        c_ll = [ds.to_lonlat(m) for m in c_metric]
        for c_seq, ci in enumerate(sequence_order(c_ll, s_ll[si], "community"), 1):
            c_code = f"{s_code}{c_seq:03d}"
            units.append(dict(level="community", code=c_code + "000", geom=c_ll[ci],
                              metric=c_metric[ci]))
            g_ll = [ds.to_lonlat(blocks[i]) for i in groups[ci]]
            for g_seq, gi in enumerate(sequence_order(g_ll, c_ll[ci], "grid"), 1):
                units.append(dict(level="grid", code=f"{c_code}{g_seq:03d}", seq=g_seq,
                                  geom=g_ll[gi], metric=blocks[groups[ci][gi]]))
    return district, sorted(units, key=lambda u: u["code"])


class People:
    """Unique Chinese (and some Mongolian) personal names."""

    def __init__(self, rng):
        self.rng, self.used = rng, set()

    def __call__(self) -> str:
        while True:
            if self.rng.random() < 0.08:
                name = str(self.rng.choice(MONGOLIAN_NAMES))
            else:
                name = str(self.rng.choice(SURNAMES)) + str(self.rng.choice(GIVEN_NAMES))
            if name not in self.used:
                self.used.add(name)
                return name


def describe_units(rng, units):
    """Fill name, leader, departments, population and the village flag, in code order."""
    person = People(rng)
    urban = list(rng.permutation(COMMUNITY_STEMS))
    village = list(rng.permutation(VILLAGE_STEMS))
    gacha = list(rng.permutation(GACHA_STEMS))
    titles = list(rng.permutation(STREET_LEADER_TITLES))
    depts = list(DEPARTMENTS)
    by_code = {u["code"]: u for u in units}
    for u in units:
        c = u["metric"].centroid
        r = float(ds.rho(c.x, c.y))
        if u["level"] == "street":
            u["name"] = STREET_NAMES[len([v for v in units if v["level"] == "street"
                                          and v["code"] < u["code"]])]
            u["leader"] = f"{person()}（{titles.pop()}）"
            office = u["name"][:-2] + "街道办事处"
            u["departments"] = "、".join([office, *rng.choice(depts[:6], 1)])
        elif u["level"] == "community":
            u["village"] = r > VILLAGE_RHO
            if u["village"] and gacha and rng.random() < 0.2:
                u["name"] = gacha.pop() + "嘎查"
            else:
                u["name"] = village.pop() + "村" if u["village"] else urban.pop() + "社区"
            lead = depts[int(rng.integers(len(depts)))]
            u["lead"] = lead
            u["leader"] = f"{person()}（{lead}{DEPARTMENTS[lead]}）"
            u["departments"] = lead
        else:
            parent = by_code[u["code"][:12] + "000"]
            u["name"] = f"{parent['name']}第{u['seq']}网格"
            lead = parent["lead"]
            extra = [d for d in rng.permutation(depts) if d != lead][:int(rng.integers(0, 3))]
            if parent["village"] and "区农牧局" not in (lead, *extra) and rng.random() < 0.5:
                extra = (extra + ["区农牧局"])[-2:]
            u["departments"] = "、".join([lead, *extra])
            street = by_code[u["code"][:9] + "000000"]["name"]
            title = pick(rng, {f"{lead}副{DEPARTMENTS[lead]}": 5, f"{parent['name']}党委书记": 3,
                               f"{street}办事处副主任": 2})
            u["leader"] = f"{person()}（{title}）"
            density = 16000 * math.exp(-r * r / 0.2) + 250
            u["population"] = int(round(u["metric"].area / 1e6 * density
                                        * rng.lognormal(0, 0.3)))
    for level in ("community", "street"):
        n = 12 if level == "community" else 9
        for u in units:
            if u["level"] == level:
                u["population"] = sum(v["population"] for v in units if v["level"] == "grid"
                                      and v["code"].startswith(u["code"][:n]))


def geojson_geometry(geom) -> dict:
    """MultiPolygon GeoJSON dict with counter-clockwise exterior rings (RFC 7946)."""
    polys = [orient(p, 1.0) for p in shapely.get_parts(geom)]
    rings = [[[list(c) for c in r.coords] for r in (p.exterior, *p.interiors)] for p in polys]
    return {"type": "MultiPolygon", "coordinates": rings}


def write_geojson(path: Path, features: list[dict]) -> None:
    """FeatureCollection with one feature per line."""
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8", newline="\n")


def feature(props: dict, geom) -> dict:
    """GeoJSON Feature dict."""
    return {"type": "Feature", "properties": props, "geometry": geojson_geometry(geom)}


def block_features(faces) -> list[dict]:
    """The blocks: every face of the road network cut along its lanes, in face order; a
    piece's ref is its face's number and its own (B0001-2), a face left whole keeps B0001."""
    out = []
    for k, face in enumerate(faces, 1):
        pieces = lanes.split_face(face, lanes.target_area(face))
        refs = [f"B{k:04d}"] if len(pieces) == 1 else [f"B{k:04d}-{j}" for j in
                                                        range(1, len(pieces) + 1)]
        out += [feature({"ref": ref}, ds.to_lonlat(p)) for ref, p in zip(refs, pieces)]
    return out


# ---------------------------------------------------------------- toilets

def renovation(rng, status: str, action: str) -> dict:
    """Dates (ISO, 2025-01-01 .. 2026-12-31, empty where not reached, planned <= started <=
    accepted <= 2026-11-27 once reached) and the five facility flags (1/0): all 0 for
    demolitions and plans, random while in progress, all 1 once accepted except about one
    in eight lacking one facility."""
    def day(n) -> str:
        return (date(2025, 1, 1) + timedelta(days=int(n))).isoformat()
    if status == "accepted":
        p = int(rng.integers(0, 546))
        s = p + int(rng.integers(7, 91))
        dates = [day(p), day(s), day(s + rng.integers(10, 61))]
    elif status == "in_progress":
        p = int(rng.integers(150, 650))
        dates = [day(p), day(p + rng.integers(7, 41)), ""]
    else:
        dates = [day(rng.integers(424, 730)), "", ""]
    flags = dict.fromkeys(FACILITIES, 0)
    if action != "demolish" and status == "in_progress":
        flags = {f: int(rng.random() < 0.5) for f in FACILITIES}
    elif action != "demolish" and status == "accepted":
        flags = dict.fromkeys(FACILITIES, 1)
        if rng.random() < 0.12:
            flags[pick(rng, MISSING_WEIGHTS)] = 0
    return dict(zip(("planned_at", "started_at", "accepted_at"), dates)) | flags


def make_toilets(rng, units, district_m, sampler, namer) -> list[dict]:
    """600 dry latrines (540 around 2-3 settlement cores per village community, 60 in the
    urban fringe) and 80 public flush toilets over the urban centre, >= 450 m apart."""
    comms = [u for u in units if u["level"] == "community"]
    tree = shapely.STRtree([u["metric"] for u in comms])
    cores = [ds.random_point_in(rng, v["metric"].buffer(-150))
             for v in comms if v["village"] for _ in range(int(rng.integers(2, 4)))]
    xs, ys = [], []
    for c, k in zip(cores, rng.multinomial(540, np.full(len(cores), 1 / len(cores)))):
        x, y = sampler.draw(lambda m, c=c: (c.x + rng.normal(0, 130, m),
                                            c.y + rng.normal(0, 130, m)), int(k))
        xs, ys = xs + list(x), ys + list(y)
    fringe = ds.zone(district_m, 0.55, VILLAGE_RHO)
    for p in (ds.random_point_in(rng, fringe) for _ in range(60)):
        xs, ys = xs + [p.x], ys + [p.y]
    rows, pics, seq = [], "photos/{0}-1.jpg;photos/{0}-2.jpg", {}
    for x, y, road, num in zip(xs, ys, *namer(xs, ys)):
        comm = comms[int(tree.query(Point(x, y), predicate="intersects")[0])]["name"]
        code = f"CS-{DISTRICT_CODE}-{len(rows) + 1:04d}"
        kind = "public" if rng.random() < 0.12 else "household"
        action = pick(rng, LATRINE_ACTIONS[kind])
        status = pick(rng, {"accepted": 55, "in_progress": 25, "planned": 20})
        seq[comm] = seq.get(comm, 0) + (kind == "public")
        name = (f"{comm}{rng.choice(SURNAMES)}宅户厕" if kind == "household"
                else f"{comm}{seq[comm]}号公共厕所")
        address = (f"新城区{comm}{rng.integers(1, 9)}组{rng.integers(1, 121)}号"
                   if comm.endswith(("村", "嘎查")) else f"新城区{road}{num}号")
        photo = status == "accepted" or (status == "in_progress" and rng.random() < 0.3)
        rows.append(dict(code=code, kind=kind, name=name, x=x, y=y, address=address,
                         original_type="dry_latrine", action=action, status=status,
                         sanitary_type="" if action == "demolish" else pick(rng, SANITARY),
                         photos=pics.format(code) if photo else "",
                         **renovation(rng, status, action)))
    flush = ds.spaced_points(rng, ds.zone(district_m, 0, 0.6), 80, 450, margin=50)
    fx, fy, seen = [p.x for p in flush], [p.y for p in flush], {}
    for x, y, road, num in zip(fx, fy, *namer(fx, fy)):
        seen[road] = seen.get(road, 0) + 1
        code = f"CS-{DISTRICT_CODE}-{len(rows) + 1:04d}"
        rows.append(dict(code=code, kind="public", x=x, y=y, address=f"新城区{road}{num}号",
                         name=f"{road}公厕" if seen[road] == 1 else f"{road}{seen[road]}号公厕",
                         original_type="flush", action="", status="accepted",
                         sanitary_type="sewer_flush", photos=pics.format(code),
                         **renovation(rng, "accepted", "new_build")))
    lon, lat = sampler.lonlat([t["x"] for t in rows], [t["y"] for t in rows])
    for t, a, b in zip(rows, lon, lat):
        t["lon"], t["lat"] = f"{a:.6f}", f"{b:.6f}"
    return rows


# ---------------------------------------------------------------- issues

def name_hotspots(rng, spots, namer) -> dict[str, list[str]]:
    """Markets after their nearest road, alleys as <road><ordinal>巷, compounds from a list."""
    names: dict[str, list[str]] = {"market": [], "alley": [], "compound": []}
    for geom, _ in spots["market"]:
        road = namer(geom.x, geom.y)[0][0]
        names["market"].append(next(road + k for k in ("农贸市场", "菜市场", "综合市场")
                                    if road + k not in names["market"]))
    for geom, _ in spots["alley"]:
        road = namer(*geom.coords[0])[0][0]
        n = sum(a.startswith(road) for a in names["alley"])
        names["alley"].append(f"{road}{ORDINALS[n]}巷")
    names["compound"] = [str(c) for c in rng.permutation(COMPOUND_NAMES)[:len(spots["compound"])]]
    return names


def report_seconds(rng, n: int, end: date) -> np.ndarray:
    """Seconds after the window start (00:00 of end - 89 days, +08:00): weekdays weigh 1,
    weekends 0.55 (times day-to-day noise); hours follow HOUR_WEIGHTS."""
    start = end - timedelta(days=89)
    w = np.array([(1.0 if (start + timedelta(d)).weekday() < 5 else 0.55) for d in range(90)])
    w *= rng.uniform(0.85, 1.15, 90)
    hw = np.array(HOUR_WEIGHTS, float)
    days = rng.choice(90, n, p=w / w.sum())
    hours = rng.choice(24, n, p=hw / hw.sum())
    return days * 86400 + hours * 3600 + rng.integers(0, 3600, n)


def settle(rng, cat: str, t0: int, now: int):
    """(status, closed seconds or None) for an issue reported t0 s into the window, ``now``
    being the window end.  A resolution time is drawn from the category limit: 24 h
    categories mostly close the same day (next morning if reported after 18:00), others
    mostly within the limit, some late, per-plan ones take weeks.  If it lies beyond ``now``
    the issue gets an open state by progress; 2 % are void, some long-term ones suspended."""
    limit, u = CATEGORIES[cat][0], rng.random()
    if limit is None:
        hours = rng.uniform(20, 150) * 24
    elif limit == 24:
        left = 24 - (t0 % 86400) / 3600               # hours to midnight
        if u < 0.8:                                    # same day, or next morning if late
            hours = rng.uniform(0.5, min(left - 0.5, 9)) if left > 6 else left + rng.uniform(7, 11)
        else:
            hours = rng.uniform(min(left, 20), 24) if u < 0.94 else 24 * rng.uniform(1.05, 4)
    else:
        hours = limit * (rng.uniform(0.15, 0.98) if u < 0.85 else rng.uniform(1.05, 3))
    r = rng.random()
    if r < 0.02:
        return "void", None
    if r < 0.02 + (0.12 if limit is None or limit >= 360 else 0.004):
        return "suspended", None
    if t0 + hours * 3600 <= now:
        return "closed", t0 + int(hours * 3600)
    state = OPEN_STATES[min(5, int((now - t0) / (hours * 3600) * 6))]
    if state in ("dispatched", "processing") and rng.random() < 0.05:
        return "returned", None
    return ("rework" if state == "checking" and rng.random() < 0.15 else state), None


def shared_vertices(units) -> list[tuple[float, float]]:
    """Grid vertices shared by 2+ grids, off the district boundary, exactly representable
    with 6 decimals (so a 6-decimal issue point lies exactly on the shared edge)."""
    owners: dict[tuple, set] = {}
    for u in units:
        if u["level"] == "grid":
            for c in shapely.get_coordinates(u["geom"]):
                owners.setdefault(tuple(c), set()).add(u["code"])
    edge = unary_union([u["geom"] for u in units if u["level"] == "street"]).boundary
    return sorted(c for c, s in owners.items() if len(s) > 1 and edge.distance(Point(c)) > 1e-9
                  and all(float(f"{v:.6f}") == v for v in c))


def make_issues(rng, end: date, units, toilets, sampler, namer, district_m) -> list[dict]:
    """Issue rows sorted by reported_at: clusters at hotspots and toilets, a centre-weighted
    background, N_OUTSIDE points just outside the boundary and N_EDGE on shared vertices."""
    cats, xs, ys, places, addrs = [], [], [], [], []

    def add(c, x, y, p, a):
        for acc, vals in zip((cats, xs, ys, places, addrs), (c, x, y, p, a)):
            acc.extend(vals)
    spots = ds.make_hotspots(rng, district_m)
    names = name_hotspots(rng, spots, namer)
    for kind, (total, mix) in HOTSPOT_MIX.items():
        w = np.array([wt for _, wt in spots[kind]])
        for (geom, _), name, n in zip(spots[kind], names[kind],
                                      rng.multinomial(total, w / w.sum())):
            x, y = sampler.draw(ds.around(rng, kind, geom), int(n))
            if kind == "market":
                p = [name + g for g in rng.choice(["东门", "西门", "南门", "北门", "内", "周边"], n)]
                a = [f"新城区{r}{k}号{name}" for r, k in zip(*namer(x, y))]
            elif kind == "alley":
                p = [name + g for g in rng.choice(["内", "口", "中段", ""], n)]
                a = [f"新城区{name}{int(geom.project(Point(q)) // 15) + 1}号" for q in zip(x, y)]
            else:
                b = rng.integers(1, 31, n)
                p = [f"{name}{k}号楼{g}" for k, g in zip(b, rng.choice(["前", "旁", "楼道内", ""], n))]
                a = [f"新城区{name}{k}号楼" for k in b]
            add(pick(rng, mix, int(n)), x, y, p, a)
    pools = {"03001": [t for t in toilets if t["original_type"] == "flush"],
             "91003": [t for t in toilets if t["status"] == "accepted"
                       and t["action"] != "demolish" and not all(t[f] for f in FACILITIES)],
             "91001": [t for t in toilets if t["action"] == "demolish"
                       and t["status"] != "accepted"],
             "91002": [t for t in toilets if t["action"] == "convert"
                       and t["status"] != "accepted"]}
    for cat, n in TOILET_ISSUES.items():
        chosen = [pools[cat][i] for i in rng.choice(len(pools[cat]), n)]
        tx, ty = np.array([t["x"] for t in chosen]), np.array([t["y"] for t in chosen])
        x, y = sampler.draw(lambda m: (tx[-m:] + rng.normal(0, 12, m),
                                       ty[-m:] + rng.normal(0, 12, m)), n)
        lack = [next((MISSING_TEXT[f] for f in FACILITIES if not t[f]), "") for t in chosen]
        add([cat] * n, x, y, [t["name"] + (m if cat == "91003" else "") for t, m in
                              zip(chosen, lack)], [t["address"] for t in chosen])
    cx, cy = ds.centre_xy()
    x0, y0, x1, y1 = district_m.bounds

    def spread(m):
        c = rng.random(m) < 0.75
        return (np.where(c, rng.normal(cx, 0.38 * ds.HALF_W, m), rng.uniform(x0, x1, m)),
                np.where(c, rng.normal(cy, 0.38 * ds.HALF_H, m), rng.uniform(y0, y1, m)))
    x, y = sampler.draw(spread, N_ISSUES - len(cats) - N_OUTSIDE - N_EDGE)
    ox, oy = sampler.just_outside(rng, N_OUTSIDE)
    shared = shared_vertices(units)
    edge = np.array([shared[i] for i in sorted(rng.choice(len(shared), N_EDGE, replace=False))])
    ex, ey = ds.TO_METRIC.transform(edge[:, 0], edge[:, 1])
    x, y = np.concatenate([x, ox, ex]), np.concatenate([y, oy, ey])
    background = {c: w for c, (_, w) in CATEGORIES.items() if w}
    roads, nums = namer(x, y)
    add(pick(rng, background, len(x)), x, y, [r + str(w) for r, w in zip(
        roads, rng.choice(PLACE_WORDS, len(x)))], [f"新城区{r}{k}号附近" for r, k in zip(roads, nums)])

    lon, lat = sampler.lonlat(xs, ys)
    lon[-N_EDGE:], lat[-N_EDGE:] = edge[:, 0], edge[:, 1]       # exact shared vertices
    secs = report_seconds(rng, len(cats), end)
    sources = pick(rng, SOURCES, len(cats))
    start = datetime.combine(end - timedelta(days=89), datetime.min.time())

    def stamp(s) -> str:
        return (start + timedelta(seconds=int(s))).isoformat() + "+08:00"
    rows = []
    for k, i in enumerate(np.argsort(secs, kind="stable"), 1):
        status, closed = settle(rng, cats[i], int(secs[i]), 90 * 86400)
        rows.append(dict(ref=f"XC{end.year}-{k:06d}", category=cats[i], lon=f"{lon[i]:.6f}",
                         lat=f"{lat[i]:.6f}", reported_at=stamp(secs[i]), source=sources[i],
                         status=status, address=addrs[i],
                         description=places[i] + str(rng.choice(CATEGORY_TEXT[cats[i]].split("|"))),
                         closed_at="" if closed is None else stamp(closed)))
    return rows


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    """UTF-8 CSV, LF line endings, minimal quoting."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data/demo")
    ap.add_argument("--end-date", type=date.fromisoformat, default=date(2026, 11, 27))
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    roads, faces, blocks, tree = build_blocks(rng)
    district, units = number_units(blocks, tree)
    describe_units(rng, units)
    district_m = unary_union(blocks)
    sampler, namer = ds.Sampler(district), ds.Namer(roads, district_m)
    toilets = make_toilets(rng, units, district_m, sampler, namer)
    issues = make_issues(rng, args.end_date, units, toilets, sampler, namer, district_m)
    args.out.mkdir(parents=True, exist_ok=True)
    write_geojson(args.out / "district.geojson", [feature(
        {"code": DISTRICT_CODE + "0" * 9, "name": DISTRICT_NAME}, district)])
    write_geojson(args.out / "grids.geojson", [feature(
        {k: u[k] for k in ("code", "name", "leader", "departments", "population")}, u["geom"])
        for u in units])
    write_csv(args.out / "issues.csv", ISSUE_COLUMNS, issues)
    write_csv(args.out / "toilets.csv", TOILET_COLUMNS, toilets)
    blocks = block_features(faces)
    write_geojson(args.out / "blocks.geojson", blocks)
    levels = [u["level"] for u in units]
    print(f"{args.out}: {levels.count('street')} streets, {levels.count('community')} "
          f"communities, {levels.count('grid')} grids, {len(issues)} issues, "
          f"{len(toilets)} toilets, {len(blocks)} blocks in {len(faces)} road-network faces")
    return 0


if __name__ == "__main__":
    sys.exit(main())

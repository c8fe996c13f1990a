"""A synthetic city of units and people for the reference-data files (SPEC REF).

Deterministic for a seed, fast enough for a city (6,000,000 people) in pure Python, and realistic
where the rules look: valid 18-character resident IDs of Shanghai districts (SPEC ROS-3), ages 18–70
on the coverage start, sexes balanced, ~2 % 退休 (mostly over the age limits, VAL-1/VAL-2), ~3 % in
service over the age limit, ~5 % without an SS unit code (职退状态 "-", VAL-5), heavy-tailed unit sizes
from 1 to 20,000, SS unit codes whose paying headcount is at least the people matched to them (VAL-4),
union members with a few names spelt differently and a previous-year enrolment with leavers (ROS-1,
ROS-5, VAL-3).

Speed comes from drawing whole columns at once (`random.choices` with cumulative weights over
precomputed tables) and from computing the ID check character from precomputed partial sums:
area, birth date and sequence each contribute a fixed part of the weighted sum (GB 11643).
IDs are unique by construction (a counter per area, birth date and sex), so no set of millions of
IDs is kept, and people are streamed unit by unit, so memory stays flat whatever the city's size.

    units = generate_city(people=10_000, units=300, year=2025, seed=1)      # iterator of CityUnit
    paths = write_city_files(people=6_000_000, units=150_000, year=2025, out_dir=path, seed=1)
    ids = resident_ids(50_000, seed=1)                                        # list of unique IDs
"""
import bisect
import csv
import datetime as dt
import itertools
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

from enrollment.services import CODE_ALPHABET, CODE_LENGTH
from mutualaid.validators import RESIDENT_ID_CHECK, RESIDENT_ID_WEIGHTS, uscc_check_character

DEFAULT_SEED = 20230701
MIN_AGE, MAX_AGE = 18, 70
# The handbook's age limits (SPEC YEAR-1: women under 55, men under 60); the generator needs no
# database, so it uses these rather than the CoverageYear record.
FEMALE_AGE_LIMIT, MALE_AGE_LIMIT = 55, 60
UNIT_SIZE_MIN, UNIT_SIZE_MAX = 1, 20_000

RETIRED_SHARE = 0.02  # 职退状态 退休
NO_SS_CODE_SHARE = 0.05  # 职退状态 "-", no SS unit code, 医保享受在职待遇 否
OVER_AGE_IN_SERVICE_SHARE = 0.03  # 在职 past the age limit (VAL-2's 在职超龄 tab)
DOT_NAME_SHARE = 0.003  # names with "·"
UNION_UNIT_SHARE = 0.60
UNION_MEMBER_SHARE = 0.90  # of the people of a unit that has a union
NAME_VARIANT_SHARE = 0.02  # member or previous-year names spelt differently (ROS-5)
PREVIOUS_UNIT_SHARE = 0.90  # units that enrolled last year under the same code
PREVIOUS_PEOPLE_SHARE = 0.85  # of this year's people, enrolled last year
LEAVER_SHARE = 0.08  # people enrolled last year who have left, relative to those who stayed
NON_RESIDENT_LEAVER_SHARE = 0.02  # of the leavers: 非身份证 (passports) in the previous-year list
OUT_OF_BAND_UNIT_SHARE = 0.12  # units whose SS ratio falls below 75 % (VAL-4 outside the band)

CHUNK = 65_536  # people drawn at a time

FILE_HEADERS = {
    "suggested": ("证件号码", "社保姓名", "单位社保编码", "个人社保登记号", "职退状态", "医保享受在职待遇"),
    "ss_units": ("单位社保编码", "单位名称", "社保在职人数"),
    "members": ("参保编码", "统一社会信用代码", "姓名", "证件号码"),
    "previous": ("参保编码", "姓名", "证件号码", "证件类型"),
    "units": ("参保编码", "单位名称", "统一社会信用代码"),
}
FILE_NAMES = {kind: f"{kind}.csv" for kind in FILE_HEADERS}

# --- Tables ----------------------------------------------------------------------------------------

# Area codes of Shanghai's districts with rough weights by population (浦东 largest).
AREA_CODES = (
    ("310101", 6), ("310104", 8), ("310105", 5), ("310106", 7), ("310107", 8), ("310109", 6),
    ("310110", 9), ("310112", 18), ("310113", 16), ("310114", 13), ("310115", 45), ("310116", 6),
    ("310117", 15), ("310118", 10), ("310120", 9), ("310151", 5),
)
DISTRICT_NAMES = ("黄浦", "徐汇", "长宁", "静安", "普陀", "虹口", "杨浦", "闵行", "宝山", "嘉定", "浦东", "金山",
                  "松江", "青浦", "奉贤", "崇明")

# Common surnames with their approximate shares (per mille) of the population.
SURNAMES = (
    ("王", 71), ("李", 70), ("张", 67), ("刘", 54), ("陈", 46), ("杨", 31), ("黄", 24), ("赵", 23), ("吴", 20),
    ("周", 20), ("徐", 17), ("孙", 15), ("马", 14), ("朱", 13), ("胡", 13), ("郭", 12), ("何", 12), ("林", 11),
    ("罗", 11), ("高", 11), ("郑", 10), ("梁", 10), ("谢", 9), ("宋", 8), ("唐", 8), ("许", 7), ("韩", 7),
    ("冯", 7), ("邓", 7), ("曹", 7), ("彭", 6), ("曾", 6), ("肖", 6), ("田", 6), ("董", 5), ("袁", 5), ("潘", 5),
    ("于", 5), ("蒋", 5), ("蔡", 5), ("余", 5), ("杜", 5), ("叶", 5), ("程", 5), ("苏", 4), ("魏", 4), ("吕", 4),
    ("丁", 4), ("任", 4), ("沈", 6), ("姚", 4), ("卢", 4), ("姜", 4), ("崔", 4), ("钟", 4), ("谭", 3), ("陆", 5),
    ("汪", 3), ("范", 3), ("金", 3), ("石", 3), ("廖", 3), ("贾", 3), ("夏", 3), ("韦", 3), ("付", 3), ("方", 3),
    ("白", 2), ("邹", 2), ("孟", 2), ("熊", 2), ("秦", 2), ("邱", 2), ("江", 2), ("尹", 2), ("薛", 2), ("闫", 2),
    ("段", 2), ("雷", 2), ("侯", 2), ("龙", 2), ("史", 2), ("陶", 2), ("黎", 2), ("贺", 2), ("顾", 3), ("毛", 2),
    ("郝", 2), ("龚", 2), ("邵", 2), ("万", 2), ("钱", 3), ("严", 2), ("武", 1), ("戴", 1), ("莫", 1), ("孔", 1),
    ("汤", 1), ("倪", 1), ("施", 1), ("欧阳", 0.5), ("司马", 0.1), ("上官", 0.1), ("诸葛", 0.1),
)
GIVEN_NAME_CHARACTERS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞建国文辉力婷雪琳晶浩宇轩博文欣怡子涵梓"
    "俊佳颖思雨嘉豪昊然晨阳志海亮斌波宁波健斌凯峰林丹秋云燕玲慧瑶倩蕾莉春梅凤荣晓东立新永庆德成宏彬颖琪"
    "蕊彤瑞泽铭睿航旭毅诚翔天宸一诺安逸雅琴珊翠颖楠雯菲璐瑾昕悦妍蓓洁鑫森"
)
# Names written with "·" (transliterated given name · father's name), e.g. 买买提·艾力.
DOT_NAME_FIRST = ("买买提", "艾力", "阿卜杜拉", "古丽", "阿依古丽", "热依拉", "努尔", "帕提古丽", "迪丽娜尔", "米热古丽", "艾尔肯", "伊力哈木")
DOT_NAME_SECOND = ("艾力", "买买提", "吐尔逊", "阿不都", "库尔班", "热合曼", "依明", "司马义", "沙吾提", "托合提")
# Characters a clerk or a member swaps for one that sounds the same (ROS-5's name mismatches).
SOUND_ALIKE = {
    "伟": "玮", "丽": "莉", "明": "铭", "华": "骅", "静": "婧", "杰": "洁", "军": "君", "英": "瑛", "玲": "琳",
    "峰": "锋", "芳": "方", "红": "虹", "燕": "艳", "云": "芸", "琳": "林", "婷": "亭", "涛": "滔", "斌": "彬",
    "晶": "静", "霞": "侠", "娟": "鹃", "敏": "民", "勇": "永", "超": "潮", "洋": "阳", "辉": "晖", "欣": "馨",
}

UNIT_NAME_CHARACTERS = "华信达宏瑞丰金鑫盛隆昌泰恒博创源通安康健德嘉永兴远航海浦申东中新天利合和美诚益辰锦晨汇佳卓骏凯亿荣耀宇峰润泽晟钧弘立光明悦宸景"
UNIT_NAME_TRADES = (
    "科技", "信息技术", "网络科技", "电子", "机械", "贸易", "商贸", "物流", "餐饮管理", "建设工程", "建筑装饰",
    "房地产开发", "物业管理", "人力资源", "投资管理", "医药", "生物科技", "食品", "服饰", "文化传播", "广告",
    "教育科技", "企业管理咨询", "汽车销售", "环保科技", "新能源", "化工", "新材料", "印刷", "家具", "酒店管理",
    "旅行社", "保安服务", "保洁服务", "电气", "软件", "实业", "国际贸易", "供应链管理", "智能科技",
)
UNIT_NAME_SUFFIXES = (("有限公司", 85), ("股份有限公司", 5), ("有限责任公司", 6), ("（集团）有限公司", 2), ("发展有限公司", 2))
SUFFIXES = [suffix for suffix, _ in UNIT_NAME_SUFFIXES]
SUFFIX_CUM = list(itertools.accumulate(weight for _, weight in UNIT_NAME_SUFFIXES))
# Names the demo accounts use (accounts/demo.py): never drawn for a synthetic unit.
RESERVED_UNIT_NAMES = frozenset({"上海演示科技有限公司", "上海未建会演示商贸有限公司"})

# GB 11714 organisation code (the 9th–17th characters of a USCC): 8 characters and a check.
ORGANISATION_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# Categories of people.
IN_SERVICE, OVER_AGE, RETIRED, NO_SS_CODE = range(4)
WORK_STATUS = {IN_SERVICE: "在职", OVER_AGE: "在职", RETIRED: "退休", NO_SS_CODE: "-"}


# --- What the generator yields -------------------------------------------------------------------


class CityPerson(NamedTuple):
    """One person of a unit as the four files see them ("" where a file has no value)."""

    id_number: str
    name: str  # 社保姓名
    ss_unit_code: str  # "" without one (职退状态 "-")
    personal_ss_number: str  # 个人社保登记号, "" without one
    work_status: str  # 在职 / 退休 / -
    medical_active: bool  # 医保享受在职待遇
    member_name: str | None  # name in the 会员库, None if not a member
    previous_name: str | None  # name in last year's enrolment, None if not enrolled then


class SsUnitRow(NamedTuple):
    code: str
    unit_name: str
    paying_headcount: int


class PreviousOnly(NamedTuple):
    """Someone the code enrolled last year who has left since."""

    id_number: str
    name: str
    id_type: str  # 身份证 / 非身份证


@dataclass
class CityUnit:
    code: str  # 参保编码
    name: str
    uscc: str
    ss_units: list[SsUnitRow]
    has_union: bool
    member_key: str  # how the 会员库 knows the unit: "code", "uscc" or "both"
    enrolled_last_year: bool
    people: list[CityPerson]
    leavers: list[PreviousOnly] = field(default_factory=list)


# --- The ID machinery ----------------------------------------------------------------------------


def _weighted_digits(digits: str, first_position: int) -> int:
    return sum(int(d) * RESIDENT_ID_WEIGHTS[first_position + i] for i, d in enumerate(digits))


def coverage_start_of(year: int) -> dt.date:
    """The handbook's coverage start (SPEC YEAR-1: 07-01 of the year that names it)."""
    return dt.date(year, 7, 1)


def _age_weight(age: int) -> float:
    """The relative number of people of an age at work: few at 18, most 25–45, fewer towards 60."""
    if age < 25:
        return 0.25 + 0.75 * (age - MIN_AGE) / 7
    if age <= 45:
        return 1.0
    if age <= 60:
        return 1.0 - 0.5 * (age - 45) / 15
    return 0.5 - 0.4 * (age - 60) / 10


def _shift_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class _DateTable:
    """Cumulative weights over the birth dates of an age range, for random.choices."""

    def __init__(self, population: range, cum_weights: list[float]):
        self.population = population
        self.cum_weights = cum_weights

    def draw(self, rng: random.Random, k: int) -> list[int]:
        return rng.choices(self.population, cum_weights=self.cum_weights, k=k)


class _Builder:
    """Holds the random stream, the tables and the counters that keep every identifier unique."""

    def __init__(self, *, seed: int, coverage_start: dt.date):
        self.rng = random.Random(seed)
        self.coverage_start = coverage_start
        # Birth dates, oldest first: index 0 is a person who turns MAX_AGE + 1 the day after the start.
        first_birthday = _shift_years(coverage_start, -(MAX_AGE + 1)) + dt.timedelta(days=1)
        last_birthday = _shift_years(coverage_start, -MIN_AGE)
        self.first_ordinal = first_birthday.toordinal()
        day_count = last_birthday.toordinal() - self.first_ordinal + 1
        self.date_text = []
        self.date_sum = []
        self.date_age = []
        for offset in range(day_count):
            day = dt.date.fromordinal(self.first_ordinal + offset)
            text = day.strftime("%Y%m%d")
            self.date_text.append(text)
            self.date_sum.append(_weighted_digits(text, 6))
            age = coverage_start.year - day.year - ((coverage_start.month, coverage_start.day) < (day.month, day.day))
            self.date_age.append(age)
        self.day_count = day_count
        self.area_text = [code for code, _ in AREA_CODES]
        self.area_sum = [_weighted_digits(code, 0) for code in self.area_text]
        self.area_cum = list(itertools.accumulate(weight for _, weight in AREA_CODES))
        self.sequence_text = [f"{n:03d}" for n in range(1000)]
        self.sequence_sum = [_weighted_digits(text, 14) for text in self.sequence_text]
        # Sequences used per (area, birth date, sex): 500 odd (men) and 500 even (women) each.
        self.sequence_count = [0] * (len(AREA_CODES) * day_count * 2)
        self.tables = self._date_tables()
        self.surname_population = [name for name, _ in SURNAMES]
        self.surname_cum = list(itertools.accumulate(weight for _, weight in SURNAMES))
        self.ss_code_counter = 0
        self.ss_code_offset = self.rng.randrange(10**8)
        self.personal_counter = 0
        self.personal_offset = self.rng.randrange(10**10)
        self.organisation_counter = 0
        self.organisation_offset = self.rng.randrange(10**8)
        self.codes_used: set[str] = set()
        self.names_used: set[str] = set(RESERVED_UNIT_NAMES)
        self.passport_counter = self.rng.randrange(10**7)

    def _date_tables(self) -> dict[tuple[int, int], _DateTable]:
        """One table per (category, sex bit: 1 man, 0 woman)."""
        tables = {}
        for sex in (0, 1):
            limit = MALE_AGE_LIMIT if sex else FEMALE_AGE_LIMIT
            age_weights = {
                IN_SERVICE: lambda age, limit=limit: _age_weight(age) if age < limit else 0.0,
                OVER_AGE: lambda age, limit=limit: _age_weight(age) if age >= limit else 0.0,
                # Mostly over the limit; some retire early (women at 50, some jobs earlier).
                RETIRED: lambda age, limit=limit: (1.0 if age >= limit else 0.15 if age >= limit - 10 else 0.0),
                NO_SS_CODE: _age_weight,
            }
            for category, weight_of in age_weights.items():
                weights = [weight_of(age) for age in self.date_age]
                nonzero = [i for i, w in enumerate(weights) if w > 0]
                first, last = nonzero[0], nonzero[-1] + 1
                tables[(category, sex)] = _DateTable(
                    range(first, last), list(itertools.accumulate(weights[first:last]))
                )
        return tables

    # People --------------------------------------------------------------------------------------

    def categories(self, n: int) -> list[int]:
        """Positions 0..n-1 → category, with shares exact up to one person (stochastic rounding),
        so that 200 demo people hold 4 retired and 10 without SS code, not "about"."""
        rng = self.rng
        shares = ((RETIRED, RETIRED_SHARE), (NO_SS_CODE, NO_SS_CODE_SHARE), (OVER_AGE, OVER_AGE_IN_SERVICE_SHARE))
        counts = [(category, int(n * share + rng.random())) for category, share in shares]
        categories = [IN_SERVICE] * n
        positions = rng.sample(range(n), sum(count for _, count in counts))
        start = 0
        for category, count in counts:
            for position in positions[start : start + count]:
                categories[position] = category
            start += count
        return categories

    def people(self, n: int, categories: list[int] | None = None) -> list[tuple[str, str, int]]:
        """n people as (resident ID, name, category), IDs unique across the builder's life."""
        categories = categories if categories is not None else self.categories(n)
        return list(zip(self.resident_ids(categories), self._names(n), categories))

    def resident_ids(self, categories: list[int]) -> list[str]:
        """One resident ID per category given: its birth date drawn from the category's ages."""
        rng = self.rng
        n = len(categories)
        sexes = [byte & 1 for byte in rng.randbytes(n)]
        keys = [category * 2 + sex for category, sex in zip(categories, sexes)]
        draws = {}
        for key, count in Counter(keys).items():
            draws[key] = iter(self.tables[(key >> 1, key & 1)].draw(rng, count)).__next__
        dates = [draws[key]() for key in keys]
        areas = rng.choices(range(len(AREA_CODES)), cum_weights=self.area_cum, k=n)
        return self._resident_ids(areas, dates, sexes)

    def _resident_ids(self, areas: list[int], dates: list[int], sexes: list[int]) -> list[str]:
        counts = self.sequence_count
        day_count = self.day_count
        area_count = len(AREA_CODES)
        area_text, area_sum = self.area_text, self.area_sum
        date_text, date_sum = self.date_text, self.date_sum
        sequence_text, sequence_sum = self.sequence_text, self.sequence_sum
        check = RESIDENT_ID_CHECK
        ids = []
        append = ids.append
        for area, day, sex in zip(areas, dates, sexes):
            bucket = ((area * day_count) + day) * 2 + sex
            used = counts[bucket]
            first_area = area
            while used >= 500:  # this area, day and sex are full: the next district
                area = (area + 1) % area_count
                if area == first_area:
                    raise ValueError("同一出生日期、同一性别的人数超过全部区的顺序码容量（8000人）")
                bucket = ((area * day_count) + day) * 2 + sex
                used = counts[bucket]
            counts[bucket] = used + 1
            # 313 is prime to 500, so the n-th use of a bucket is a distinct, scattered sequence.
            sequence = ((used * 313 + bucket * 7) % 500) * 2 + sex
            append(
                area_text[area]
                + date_text[day]
                + sequence_text[sequence]
                + check[(area_sum[area] + date_sum[day] + sequence_sum[sequence]) % 11]
            )
        return ids

    def _names(self, n: int) -> list[str]:
        rng = self.rng
        surnames = rng.choices(self.surname_population, cum_weights=self.surname_cum, k=n)
        characters = rng.choices(GIVEN_NAME_CHARACTERS, k=2 * n)
        # One in five given names has one character.
        lengths = rng.choices((1, 2), cum_weights=(20, 100), k=n)
        names = [
            surname + characters[2 * i] + (characters[2 * i + 1] if length == 2 else "")
            for i, (surname, length) in enumerate(zip(surnames, lengths))
        ]
        for position in rng.sample(range(n), int(n * DOT_NAME_SHARE + rng.random())):
            names[position] = rng.choice(DOT_NAME_FIRST) + "·" + rng.choice(DOT_NAME_SECOND)
        return names

    def name_variant(self, name: str) -> str:
        """The same person's name spelt a little differently (ROS-5)."""
        if "·" in name:
            return name.replace("·", ".")
        for position in range(len(name) - 1, 0, -1):
            if name[position] in SOUND_ALIKE:
                return name[:position] + SOUND_ALIKE[name[position]] + name[position + 1 :]
        replacement = self.rng.choice(GIVEN_NAME_CHARACTERS)
        if replacement == name[-1]:
            replacement = "文" if name[-1] != "文" else "武"
        return name[:-1] + replacement

    def personal_ss_number(self) -> str:
        # The multiplier is prime to 10**10: distinct, scattered numbers for the first 10**10 people.
        self.personal_counter += 1
        return f"{(self.personal_counter * 6_180_339_887 + self.personal_offset) % 10**10:010d}"

    def passport_number(self) -> str:
        self.passport_counter += 1
        return f"E{self.passport_counter % 10**8:08d}"

    # Units ---------------------------------------------------------------------------------------

    def enrollment_code(self) -> str:
        """6 characters from digits and capitals without I and O (SPEC CODE-8), unique."""
        while True:
            code = "".join(self.rng.choices(CODE_ALPHABET, k=CODE_LENGTH))
            if code not in self.codes_used:
                self.codes_used.add(code)
                return code

    def unit_name(self) -> str:
        rng = self.rng
        while True:
            length = 2 if rng.random() < 0.7 else 3
            brand = "".join(rng.sample(UNIT_NAME_CHARACTERS, length))
            name = "上海" + brand + rng.choice(UNIT_NAME_TRADES) + rng.choices(SUFFIXES, cum_weights=SUFFIX_CUM)[0]
            if name not in self.names_used:
                self.names_used.add(name)
                return name

    def uscc(self) -> str:
        """A USCC of a Shanghai enterprise: 9 (market regulator) 1 (enterprise), the district, a
        GB 11714 organisation code with its own check, and the GB 32100 check character."""
        self.organisation_counter += 1
        body = f"{(self.organisation_counter * 61_803_399 + self.organisation_offset) % 10**8:08d}"
        remainder = 11 - sum(int(d) * w for d, w in zip(body, ORGANISATION_CODE_WEIGHTS)) % 11
        organisation = body + ("X" if remainder == 10 else "0" if remainder == 11 else str(remainder))
        first17 = "91" + self.rng.choice(self.area_text) + organisation
        return first17 + uscc_check_character(first17)

    def ss_unit_code(self) -> str:
        # The multiplier is prime to 10**8: distinct, scattered 8-digit codes.
        self.ss_code_counter += 1
        return f"{(self.ss_code_counter * 61_803_399 + self.ss_code_offset) % 10**8:08d}"

    def unit(
        self,
        *,
        code: str,
        name: str,
        uscc: str,
        people: list[tuple[str, str, int]],
        has_union: bool,
        enrolled_last_year: bool,
        ss_code_count: int | None = None,
        in_band: bool | None = None,
    ) -> CityUnit:
        """A unit with its people: SS unit codes and headcounts, members, last year's enrolment."""
        rng = self.rng
        size = len(people)
        if ss_code_count is None:
            ss_code_count = 1 if size < 300 else min(8, 1 + size // 2000 + (rng.random() < 0.3))
        ss_codes = [self.ss_unit_code() for _ in range(ss_code_count)]
        ss_names = [name] + [f"{name}{district}分公司" for district in rng.sample(DISTRICT_NAMES, ss_code_count - 1)]
        # The first code (the head office) has the most people.
        code_weights = [3.0] + [rng.random() + 0.2 for _ in range(ss_code_count - 1)]
        with_code = [person for person in people if person[2] != NO_SS_CODE]
        assigned = iter(rng.choices(range(ss_code_count), weights=code_weights, k=len(with_code))).__next__
        member_variant = NAME_VARIANT_SHARE
        matched = [0] * ss_code_count
        result = []
        for id_number, person_name, category in people:
            if category == NO_SS_CODE:
                ss_code, personal, status, medical = "", "", "-", False
            else:
                index = assigned()
                matched[index] += 1
                ss_code, personal = ss_codes[index], self.personal_ss_number()
                status, medical = WORK_STATUS[category], category != RETIRED
            member_name = previous_name = None
            if has_union and rng.random() < UNION_MEMBER_SHARE:
                member_name = self.name_variant(person_name) if rng.random() < member_variant else person_name
            if enrolled_last_year and rng.random() < PREVIOUS_PEOPLE_SHARE:
                previous_name = self.name_variant(person_name) if rng.random() < member_variant else person_name
            result.append(
                CityPerson(id_number, person_name, ss_code, personal, status, medical, member_name, previous_name)
            )
        if in_band is None:
            in_band = rng.random() >= OUT_OF_BAND_UNIT_SHARE
        ss_units = [
            SsUnitRow(ss_code, ss_name, self._paying_headcount(count, size=size, in_band=in_band))
            for ss_code, ss_name, count in zip(ss_codes, ss_names, matched)
        ]
        leavers = []
        if enrolled_last_year:
            stayed = sum(person.previous_name is not None for person in result)
            leaver_count = int(stayed * LEAVER_SHARE + rng.random())
            if leaver_count:
                for id_number, person_name, _ in self.people(leaver_count, categories=[IN_SERVICE] * leaver_count):
                    if rng.random() < NON_RESIDENT_LEAVER_SHARE:
                        leavers.append(PreviousOnly(self.passport_number(), person_name, "非身份证"))
                    else:
                        leavers.append(PreviousOnly(id_number, person_name, "身份证"))
        member_key = rng.choices(("both", "code", "uscc"), cum_weights=(70, 90, 100))[0]
        return CityUnit(code, name, uscc, ss_units, has_union, member_key, enrolled_last_year, result, leavers)

    def _paying_headcount(self, matched: int, *, size: int, in_band: bool) -> int:
        """社保在职人数 at least the people matched to the code: so the ratio (VAL-4) is at most 100 %,
        between 80 % and 100 % for most units, below 75 % for some; a small unit (≤ 10, which must
        be at 100 %) mostly has exactly its people."""
        rng = self.rng
        if size <= 10:
            extra = 0 if in_band else rng.randint(1, 2)
            return max(1, matched + extra)
        factor = rng.uniform(1.0, 1.25) if in_band else rng.uniform(1.4, 3.0)
        return max(1, math.ceil(matched * factor))


# --- Unit sizes ----------------------------------------------------------------------------------


def unit_sizes(*, people: int, units: int, rng: random.Random, alpha: float = 1.2) -> list[int]:
    """`units` sizes from 1 to 20,000 summing to `people`, heavy-tailed (Pareto with shape `alpha`,
    shifted towards 0 so that small units are common: for 6,000,000 people in 150,000 units about
    one in ten has a single person, the median has 8, and a third of the people work in units of
    more than 1,000).

    Weights are scaled by the factor c for which Σ clamp(c·w, 1, 20000) = people (found by
    bisection over sorted weights and their prefix sums, so each step is a few look-ups), then
    rounded down, the remainder going to the largest fractions.
    """
    if units < 1 or people < units:
        raise ValueError("每个单位至少1人：人数须不少于单位数")
    if people > units * UNIT_SIZE_MAX:
        raise ValueError(f"单位人数上限为{UNIT_SIZE_MAX}：人数须不超过单位数×{UNIT_SIZE_MAX}")
    weights = [rng.paretovariate(alpha) - 0.9 for _ in range(units)]
    ordered = sorted(weights)
    prefix = [0.0, *itertools.accumulate(ordered)]

    def total(scale: float) -> float:
        low = bisect.bisect_right(ordered, UNIT_SIZE_MIN / scale)  # these stay at 1
        high = bisect.bisect_left(ordered, UNIT_SIZE_MAX / scale)  # these are capped
        return low * UNIT_SIZE_MIN + scale * (prefix[high] - prefix[low]) + (units - high) * UNIT_SIZE_MAX

    low_scale, high_scale = 0.0, UNIT_SIZE_MAX / ordered[0]
    for _ in range(200):
        middle = (low_scale + high_scale) / 2
        if total(middle) < people:
            low_scale = middle
        else:
            high_scale = middle
    scale = high_scale
    exact = [min(UNIT_SIZE_MAX, max(UNIT_SIZE_MIN, weight * scale)) for weight in weights]
    sizes = [int(value) for value in exact]
    remainder = people - sum(sizes)
    if remainder > 0:
        by_fraction = sorted(
            (i for i in range(units) if sizes[i] < UNIT_SIZE_MAX), key=lambda i: exact[i] - sizes[i], reverse=True
        )
        for i in by_fraction[:remainder]:
            sizes[i] += 1
    elif remainder < 0:  # only from float rounding at the caps: take from the largest below the cap
        for i in sorted(range(units), key=lambda i: sizes[i], reverse=True):
            if remainder == 0:
                break
            if sizes[i] > UNIT_SIZE_MIN:
                sizes[i] -= 1
                remainder += 1
    return sizes


# --- Public API ----------------------------------------------------------------------------------


def _people_stream(builder: _Builder, count: int) -> Iterator[tuple[str, str, int]]:
    for start in range(0, count, CHUNK):
        yield from builder.people(min(CHUNK, count - start))


def generate_city(
    *, people: int, units: int, year: int, seed: int = DEFAULT_SEED, coverage_start: dt.date | None = None
) -> Iterator[CityUnit]:
    """The units of a synthetic city for coverage year `year`, one at a time, `people` people in
    all. Ages are taken on `coverage_start` (default 07-01 of `year`). Raises ValueError if the
    people cannot be spread over the units (1 to 20,000 each)."""
    builder = _Builder(seed=seed, coverage_start=coverage_start or coverage_start_of(year))
    sizes = unit_sizes(people=people, units=units, rng=builder.rng)
    stream = _people_stream(builder, people)
    rng = builder.rng
    for size in sizes:
        yield builder.unit(
            code=builder.enrollment_code(),
            name=builder.unit_name(),
            uscc=builder.uscc(),
            people=list(itertools.islice(stream, size)),
            has_union=rng.random() < UNION_UNIT_SHARE,
            enrolled_last_year=rng.random() < PREVIOUS_UNIT_SHARE,
        )


def generate_unit(
    *,
    code: str,
    name: str,
    uscc: str,
    people: int,
    year: int,
    seed: int = DEFAULT_SEED,
    coverage_start: dt.date | None = None,
    ss_code_count: int = 1,
) -> CityUnit:
    """One unit of a known code, name and USCC with `people` people (the demo's unit): with a
    union, enrolled last year, its SS ratio inside the band, shares exact up to one person."""
    builder = _Builder(seed=seed, coverage_start=coverage_start or coverage_start_of(year))
    builder.codes_used.add(code)
    return builder.unit(
        code=code,
        name=name,
        uscc=uscc,
        people=builder.people(people),
        has_union=True,
        enrolled_last_year=True,
        ss_code_count=ss_code_count,
        in_band=True,
    )


def resident_ids(n: int, seed: int = DEFAULT_SEED, *, year: int = 2025) -> list[str]:
    """n unique, valid resident IDs of Shanghai districts, of people 18–70 on 07-01 of `year`."""
    builder = _Builder(seed=seed, coverage_start=coverage_start_of(year))
    ids = []
    for start in range(0, n, CHUNK):
        ids.extend(builder.resident_ids(builder.categories(min(CHUNK, n - start))))
    return ids


def unit_rows(unit: CityUnit) -> dict[str, list[tuple]]:
    """The rows one unit contributes to each file (FILE_HEADERS' order of columns)."""
    member_code = unit.code if unit.member_key in ("both", "code") else ""
    member_uscc = unit.uscc if unit.member_key in ("both", "uscc") else ""
    people = unit.people
    return {
        "suggested": [
            (p.id_number, p.name, p.ss_unit_code, p.personal_ss_number, p.work_status, "是" if p.medical_active else "否")
            for p in people
        ],
        "ss_units": [tuple(row) for row in unit.ss_units],
        "members": [
            (member_code, member_uscc, p.member_name, p.id_number) for p in people if p.member_name is not None
        ],
        "previous": [(unit.code, p.previous_name, p.id_number, "身份证") for p in people if p.previous_name is not None]
        + [(unit.code, leaver.name, leaver.id_number, leaver.id_type) for leaver in unit.leavers],
        "units": [(unit.code, unit.name, unit.uscc)],
    }


class CityFiles(dict):
    """kind → Path of each file written, with `rows`: kind → number of data rows."""

    rows: dict[str, int]


def write_units(units, *, out_dir: Path, progress: Callable[[int], None] | None = None) -> CityFiles:
    """Write `units` (CityUnit objects) as the five CSV files (UTF-8, header row) in `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = CityFiles((kind, out_dir / FILE_NAMES[kind]) for kind in FILE_HEADERS)
    paths.rows = dict.fromkeys(FILE_HEADERS, 0)
    handles = {kind: open(path, "w", encoding="utf-8", newline="") for kind, path in paths.items()}
    try:
        writers = {kind: csv.writer(handle) for kind, handle in handles.items()}
        for kind, writer in writers.items():
            writer.writerow(FILE_HEADERS[kind])
        people_done = 0
        reported = 0
        for unit in units:
            for kind, rows in unit_rows(unit).items():
                writers[kind].writerows(rows)
                paths.rows[kind] += len(rows)
            people_done += len(unit.people)
            if progress is not None and people_done - reported >= 100_000:
                reported = people_done
                progress(people_done)
        if progress is not None:
            progress(people_done)
    finally:
        for handle in handles.values():
            handle.close()
    return paths


def write_city_files(
    *,
    people: int,
    units: int,
    year: int,
    out_dir: Path,
    seed: int = DEFAULT_SEED,
    progress: Callable[[int], None] | None = None,
) -> CityFiles:
    """Generate a city (generate_city) and write suggested.csv, ss_units.csv, members.csv (year
    `year`), previous.csv (the codes' enrolment of year - 1) and units.csv into `out_dir`.
    `progress` is called with the number of people written so far. Returns kind → Path."""
    city = generate_city(people=people, units=units, year=year, seed=seed)
    return write_units(city, out_dir=out_dir, progress=progress)

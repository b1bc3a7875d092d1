"""The directory of Hanoi's units and the city departments that handle reports.

Loaded from ``data/directory.json`` (built by ``scripts/build_boundaries.py``): the 126
commune-level units (wards "phường" and communes "xã") and the departments and utilities that
own some report categories (power, water, traffic lights ...). A unit owns every category no
department owns.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from domain.text import fold

__all__ = ["Directory", "Unit", "UnitKind"]

UnitKind = Literal["ward", "commune", "department"]

DEFAULT_PACKAGE = "data"
DEFAULT_RESOURCE = "directory.json"

# Words people add around a unit's name: "Phường Ba Đình", "P. Ba Đình", "UBND xã Sóc Sơn",
# "Ba Dinh ward", "Soc Son commune". At most one of each group is stripped, so "Phường Phương
# Liệt" keeps its own "Phương".
_BODIES = ("uy ban nhan dan", "ubnd", "people s committee of")
_KIND_WORDS: dict[str, UnitKind] = {"phuong": "ward", "p": "ward", "xa": "commune", "x": "commune"}
_TRAILING: dict[str, UnitKind | None] = {
    "ward": "ward",
    "commune": "commune",
    "people s committee": None,
}
# Where a unit is, written after its name (folded): the city ("Hà Nội", "TP Hà Nội", "Hanoi
# city", "HN") and, out of habit since the districts went in July 2025, the old district
# ("quận Hoàn Kiếm", "Q. Ba Đình", "huyện Sóc Sơn", "thị xã Sơn Tây").
_CITY_AFTER = re.compile(r" (?:(?:thanh pho|tp|thu do) )?(?:ha noi|hanoi|hn)(?: city)?$")
_OLD_DISTRICT_AFTER = re.compile(r" (?:quan|huyen|thi xa|q|h|tx) \w+(?: \w+){0,3}$")


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit of government a report can go to: a ward, a commune or a city department."""

    code: str
    name_vi: str
    name_en: str
    kind: UnitKind
    lat: float | None = None
    lon: float | None = None
    categories: tuple[str, ...] = ()
    code_vau: str | None = None  # the unit's code in vietnamadminunits, when it differs
    aliases: tuple[str, ...] = ()

    @property
    def is_department(self) -> bool:
        return self.kind == "department"

    def name(self, lang: str) -> str:
        """The Vietnamese name for ``"vi"`` (or ``"vi-VN"``), the English one otherwise."""
        return self.name_vi if lang.lower().startswith("vi") else self.name_en


@dataclass(frozen=True, slots=True)
class _SearchKey:
    unit: Unit
    names: tuple[str, ...]  # folded names (with and without qualifiers), words space-separated
    position: int


def _strip_qualifiers(folded: str) -> tuple[str, UnitKind | None]:
    """Drop "UBND", "phường"/"xã" and "ward"/"commune" around a folded name.

    Returns the bare name and the kind the words hint at (None without a hint).
    """
    hint: UnitKind | None = None
    trailing_hint: UnitKind | None = None
    for body in _BODIES:
        if folded.startswith(body + " "):
            folded = folded[len(body) + 1 :]
            break
    for word, kind in _KIND_WORDS.items():
        if folded.startswith(word + " "):
            folded, hint = folded[len(word) + 1 :], kind
            break
    for word, word_kind in _TRAILING.items():
        if folded.endswith(" " + word):
            folded, trailing_hint = folded[: -len(word) - 1], word_kind
            break
    return folded, hint or trailing_hint


def _without_place(folded: str) -> str:
    """A folded name without the city and the old district written after it."""
    return _OLD_DISTRICT_AFTER.sub("", _CITY_AFTER.sub("", folded))


def _needles(query: str) -> tuple[list[str], UnitKind | None]:
    """The folded forms of ``query`` to look for, and the kind its words hint at.

    The query as typed, its part before the first comma ("Phường Hoàn Kiếm, Hà Nội"), that
    part without the city or old district after it ("UBND phường Hoàn Kiếm quận Hoàn
    Kiếm"), each with and without "UBND"/"phường"/"ward". The city stays in the query as
    typed: some departments' names hold it ("Sở Xây dựng Hà Nội").
    """
    head = fold(query.split(",", 1)[0])
    needles: list[str] = []
    hint: UnitKind | None = None
    for form in dict.fromkeys((_without_place(head), head, fold(query))):
        stripped, form_hint = _strip_qualifiers(form)
        hint = hint or form_hint
        needles += [stripped, form]
    return [n for n in dict.fromkeys(needles) if n], hint


def _unit_names(unit: Unit) -> tuple[str, ...]:
    names = [unit.name_vi, unit.name_en, *unit.aliases]
    if unit.is_department:
        names.append(unit.code)
    folded: list[str] = []
    for name in names:
        full = fold(name)
        for key in (_strip_qualifiers(full)[0], full):
            if key and key not in folded:
                folded.append(key)
    return tuple(folded)


def _match_rank(name: str, needle: str) -> tuple[int, int] | None:
    """(group, within group): 0 exact, 1 starts with, 2 contains; words before letters."""
    name_c, needle_c = name.replace(" ", ""), needle.replace(" ", "")
    if name_c == needle_c:
        return (0, 0)
    if name_c.startswith(needle_c):
        return (1, 0 if (name + " ").startswith(needle + " ") else 1)
    if needle_c in name_c:
        return (2, 0 if f" {needle} " in f" {name} " else 1)
    return None


class Directory:
    """All units and departments, with lookup by code, name search and category owners."""

    def __init__(
        self,
        units: Iterable[Unit],
        *,
        legacy_wards: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._units: tuple[Unit, ...] = tuple(units)
        self._by_code: dict[str, Unit] = {}
        for unit in self._units:
            if unit.code in self._by_code:
                raise ValueError(f"duplicate code {unit.code!r} in the directory")
            self._by_code[unit.code] = unit
        self._by_vau_code = {u.code_vau: u for u in self._units if u.code_vau}
        self._retired: dict[str, tuple[str, str]] = {}  # code -> (name_vi, name_en)
        self._owners: dict[str, Unit] = {}
        for unit in self._units:
            if unit.is_department:
                for category in unit.categories:
                    self._owners.setdefault(category, unit)
        self._legacy: dict[str, tuple[str, ...]] = {
            old: tuple(codes) for old, codes in (legacy_wards or {}).items()
        }
        self._index = [
            _SearchKey(unit, _unit_names(unit), position)
            for position, unit in enumerate(self._units)
        ]

    # -- loading --------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Directory:
        """Build from the parsed ``directory.json`` structure."""
        categories = data.get("categories") or {}
        all_categories: list[str] = [
            *categories.get("on_site", []),
            *categories.get("administrative", []),
        ]
        departments = [
            Unit(
                code=d["code"],
                name_vi=d["name_vi"],
                name_en=d["name_en"],
                kind="department",
                categories=tuple(d.get("categories", ())),
                aliases=tuple(d.get("aliases", ())),
            )
            for d in data.get("departments", [])
        ]
        owned = {c for d in departments for c in d.categories}
        local_categories = tuple(c for c in all_categories if c not in owned)
        units = []
        for u in data["units"]:
            kind = u["kind"]
            if kind not in ("ward", "commune"):
                raise ValueError(f"unit {u['code']}: unknown kind {kind!r}")
            units.append(
                Unit(
                    code=u["code"],
                    name_vi=u["name_vi"],
                    name_en=u["name_en"],
                    kind=kind,
                    lat=u.get("lat"),
                    lon=u.get("lon"),
                    categories=local_categories,
                    code_vau=u.get("code_vau"),
                )
            )
        return cls([*units, *departments], legacy_wards=data.get("legacy_wards"))

    @classmethod
    def load(cls, path: str | Path) -> Directory:
        with Path(path).open(encoding="utf-8") as fh:
            return cls.from_mapping(json.load(fh))

    @classmethod
    def load_default(cls) -> Directory:
        """The shipped ``data/directory.json``, loaded once per process."""
        return _load_default()

    # -- lookups --------------------------------------------------------------------------

    @property
    def units(self) -> tuple[Unit, ...]:
        """Every entry: the wards and communes, then the departments."""
        return self._units

    @property
    def local_units(self) -> tuple[Unit, ...]:
        """The wards and communes only."""
        return tuple(u for u in self._units if not u.is_department)

    @property
    def departments(self) -> tuple[Unit, ...]:
        return tuple(u for u in self._units if u.is_department)

    def __len__(self) -> int:
        return len(self._units)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def get(self, code: str) -> Unit | None:
        return self._by_code.get(code)

    def get_by_vau_code(self, code: str) -> Unit | None:
        """The unit with this vietnamadminunits ward code."""
        return self._by_vau_code.get(code)

    def legacy_units(self, old_ward_code: str) -> tuple[str, ...]:
        """Codes of the units formed from a pre-2025 ward, most likely first (see the data)."""
        return self._legacy.get(old_ward_code, ())

    def name(self, code: str, lang: str) -> str:
        """Display name of ``code`` in ``lang`` ("vi" or "en"). A unit the directory no longer
        lists (merged away, renamed: its tickets keep its code) has the name it was last known
        by (:meth:`with_retired`), or else its code: statistics, the digest and old cards
        name it without failing."""
        unit = self._by_code.get(code)
        if unit is not None:
            return unit.name(lang)
        names = self._retired.get(code)
        if names is None:
            return code
        return names[1] if lang == "en" and names[1] else names[0]

    def with_retired(self, names: Iterable[tuple[str, str, str]]) -> Directory:
        """This directory, knowing also the names (code, Vietnamese, English) of units it no
        longer lists, for :meth:`name` only (they are not found, routed to, or offered). A
        copy: the default, shared by the process, stays as shipped."""
        other = copy.copy(self)
        other._retired = dict(self._retired)
        for code, name_vi, name_en in names:
            if code not in self._by_code:
                other._retired[code] = (name_vi, name_en)
        return other

    def owner_for_category(self, category: str) -> Unit | None:
        """The department that owns ``category``, or None when the local unit handles it."""
        return self._owners.get(category)

    def search(self, query: str, limit: int = 8) -> list[Unit]:
        """Units and departments whose name matches ``query``, best first.

        Accents, case, punctuation and spaces do not matter; "phường"/"xã"/"P."/"UBND" before
        the name or "ward"/"commune" after it may be present or not, and so may the city or
        the old district after a name, as an office's address is written ("UBND phường Hoàn
        Kiếm, quận Hoàn Kiếm, TP Hà Nội"). Exact name matches come first, then names
        starting with the query, then names containing it; a "phường"/"xã" hint puts units of
        that kind first within each group.
        """
        if limit <= 0:
            return []
        needles, hint = _needles(query)
        if not needles:
            return []
        ranked: list[tuple[tuple[int, int], int, int, int, Unit]] = []
        for entry in self._index:
            ranks = [
                rank
                for name in entry.names
                for needle in needles
                if (rank := _match_rank(name, needle)) is not None
            ]
            if ranks:
                off_hint = int(hint is not None and entry.unit.kind != hint)
                ranked.append(
                    (min(ranks), off_hint, len(entry.names[0]), entry.position, entry.unit)
                )
        ranked.sort(key=lambda r: r[:4])
        return [r[4] for r in ranked[:limit]]


@functools.cache
def _load_default() -> Directory:
    text = resources.files(DEFAULT_PACKAGE).joinpath(DEFAULT_RESOURCE).read_text(encoding="utf-8")
    return Directory.from_mapping(json.loads(text))

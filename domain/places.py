"""Typed address -> Hanoi unit, offline.

Uses :func:`vietnamadminunits.parse_address` only (its ``convert_address`` geocodes online and is
never called here). A 2025-style address ("..., Phường Hoàn Kiếm, Hà Nội") is read with the
2025 units; a pre-2025 one ("..., Phường Văn Miếu, Quận Đống Đa, Hà Nội") is read with the old
wards and mapped to the new unit formed from the old ward (``legacy_wards`` in
``data/directory.json``: the unit that took the old ward whole, else the part that kept its name,
else the first part the 2025 merges list). The place is the unit's centroid, not the street:
ask the resident to confirm it or share a location.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.directory import Directory, Unit
from domain.text import compact, fold

__all__ = ["PlaceGuess", "resolve_typed_address"]

HANOI_CODE = "01"
HANOI_SUFFIX = ", Hà Nội"
MAX_ADDRESS_CHARS = 300

# "Quận Đống Đa", "Q. Đống Đa", "Huyện Gia Lâm", "H. Gia Lâm", "Thị xã Sơn Tây", "TX Sơn Tây":
# districts were abolished on 1 July 2025, so naming one marks a pre-2025 address.
_DISTRICT_WORDS = ("quan", "huyen", "thi xa", "q", "h", "tx")
_WARD_WORDS = ("phuong", "xa", "p", "x")
# "Tỉnh Hà Giang", "Thành phố Hải Phòng", "TP HCM", "TP.HCM": a province's name with its word
# (vietnamadminunits's keywords carry "tinh" and "thanhpho"; "tp" is added here).
_PROVINCE_WORDS = ("tinh", "thanhpho", "tp")
_COUNTRY = frozenset({"vietnam", "vn"})


@dataclass(frozen=True, slots=True)
class PlaceGuess:
    """Where a typed address points: a unit (and its centroid), not an exact spot."""

    unit_code: str
    lat: float
    lon: float
    street: str | None
    from_legacy_address: bool
    # Other units the old ward was split into (a pre-2025 address only): offer them when the
    # resident says the first guess is wrong.
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Parsed:
    province_code: str | None
    district_code: str | None
    district: str | None
    ward_code: str | None
    ward: str | None
    street: str | None


@functools.cache
def _parse_address() -> Callable[..., Any]:
    # Imported lazily: vietnamadminunits loads its dictionaries (about 0.5 s) on import.
    from vietnamadminunits import parse_address

    return parse_address  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=1024)
def _parse(text: str, mode: str) -> _Parsed:
    unit = _parse_address()(text, mode=mode, keep_street=True)
    return _Parsed(
        province_code=unit.province_code,
        district_code=getattr(unit, "district_code", None),
        district=getattr(unit, "short_district", None),
        ward_code=unit.ward_code,
        ward=unit.short_ward,
        street=(unit.street or "").strip(" ,") or None,
    )


@dataclass(frozen=True, slots=True)
class _Provinces:
    """Province names, compacted ("hagiang", "hcm"), from before and after 2025."""

    bare: dict[str, str]  # name -> province code
    worded: dict[str, str]  # name with its word ("tinhhagiang", "tphcm") -> province code


@functools.cache
def _provinces() -> _Provinces:
    # The parsers' own tables of the 63 provinces before 2025 and the 34 after, with the
    # keywords they match ("hochiminh", "hcm"): the same names, spelt as the parsers spell them.
    from vietnamadminunits.parser import parser_from_2025, parser_legacy

    bare: dict[str, str] = {}
    worded: dict[str, str] = {}
    for table in (parser_legacy.DICT_PROVINCE, parser_from_2025.DICT_PROVINCE):
        for province in table.values():
            code = province["provinceCode"]
            for keyword in province["provinceKeywords"]:
                if keyword.startswith(_PROVINCE_WORDS):
                    worded[keyword] = code
                else:
                    bare[keyword] = code
                    worded["tp" + keyword] = code
    return _Provinces(bare=bare, worded=worded)


def _last_part(text: str) -> str:
    """The address's last comma-separated part, a "Việt Nam" after it skipped."""
    parts = [part.strip() for part in text.split(",") if fold(part)]
    while parts and compact(parts[-1]) in _COUNTRY:
        parts.pop()
    return parts[-1] if parts else ""


def _province_in(part: str) -> tuple[str, bool] | None:
    """The province ``part`` names, and whether it names it bare (without "Tỉnh"/"TP").

    The whole part ("Hà Giang", "Thành phố Hồ Chí Minh", "TP HCM"), or the words it ends with
    when a province word leads them ("... Quận 1 TP HCM", typed without commas).
    """
    provinces = _provinces()
    words = fold(part).split()
    whole = "".join(words)
    if whole in provinces.bare:
        return provinces.bare[whole], True
    for start in range(len(words)):
        code = provinces.worded.get("".join(words[start:]))
        if code is not None:
            return code, False
    return None


def _is_hanoi_unit_name(part: str, directory: Directory) -> bool:
    """Is ``part`` the bare name of a Hanoi unit, with its accents or typed without any?"""
    typed = " ".join(unicodedata.normalize("NFC", part).casefold().split())
    for unit in directory.local_units:
        name = unicodedata.normalize("NFC", unit.name_vi.split(" ", 1)[-1]).casefold()
        if typed == name or (part.isascii() and compact(part) == compact(name)):
            return True
    return False


def _named_province(text: str, directory: Directory) -> str | None:
    """The province an address names itself, at its end, or None.

    Only the words count: vietnamadminunits guesses a province from any name it finds inside
    the text, often another province's ("Phường Vĩnh Tuy" read as Nghệ An's "Vinh"). A bare
    name that is also a Hanoi unit's is the unit: "Yên Bài", a commune of Hanoi (without
    accents, "Yen Bai" too), is not "Yên Bái", a former province.
    """
    part = _last_part(text)
    named = _province_in(part)
    if named is None:
        return None
    code, bare = named
    if bare and code != HANOI_CODE and _is_hanoi_unit_name(part, directory):
        return None
    return code


def _bare(name: str) -> str:
    """Folded name without a leading "phường"/"xã"/"quận"/... word."""
    folded = fold(name)
    for word in (*_WARD_WORDS, *_DISTRICT_WORDS):
        if folded.startswith(word + " "):
            return folded[len(word) + 1 :]
    return folded


def _names_district(folded_text: str, district: str) -> bool:
    """Does the address name ``district`` with a district word ("Quận Đống Đa", "Q.Đống Đa")?"""
    name = _bare(district)
    words = "|".join(re.escape(w) for w in _DISTRICT_WORDS)
    return re.search(rf"(?:^| )(?:{words}) ?{re.escape(name)}(?: |$)", folded_text) is not None


def _is_own_part(text: str, name: str) -> bool:
    """Is ``name`` written as a comma-separated part of its own ("..., Phường Văn Miếu, ...")?

    The part may carry a "phường"/"xã" word and may be a shorter form of the name ("Văn Miếu"
    for the 2025-merged "Văn Miếu - Quốc Tử Giám"); a part with a house number is a street.
    """
    whole = f" {_bare(name)} "
    for part in text.split(","):
        bare = _bare(part)
        if bare and not any(ch.isdigit() for ch in bare) and f" {bare} " in whole:
            return True
    return False


def _says_ward(folded_text: str, ward: str) -> bool:
    """Does the address name ``ward`` with a ward word ("Phường Hoàn Kiếm", "P.Hoàn Kiếm")?"""
    name = re.escape(_bare(ward))
    return any(re.search(rf"(?:^| ){w} ?{name}(?: |$)", folded_text) for w in _WARD_WORDS)


def _prefers_legacy(text: str, new: _Parsed, old: _Parsed) -> bool:
    """Is this a pre-2025 address that the 2025 parser misread?

    The 2025 parser reads the right-most unit name it knows, so in "Phường Văn Miếu, Quận Đống
    Đa" it finds the new Phường Đống Đa. Prefer the old reading when the old ward is written as
    a part of its own and the old district is named with a district word ("Quận Đống Đa") or
    is what the 2025 parser took for a ward (a bare "Đống Đa"). A 2025 ward named with a ward
    word ("Phường Hoàn Kiếm") beats an old ward read out of the street ("Số 1 Tràng Tiền").
    """
    if old.province_code != HANOI_CODE or not old.ward_code or not old.ward or not old.district:
        return False
    folded = fold(text)
    own_part = _is_own_part(text, old.ward)
    says_new_ward = new.ward is not None and _says_ward(folded, new.ward)
    if _names_district(folded, old.district):
        return own_part or not says_new_ward
    taken_for_ward = new.ward is not None and _bare(new.ward) == _bare(old.district)
    return taken_for_ward and own_part and not says_new_ward


def _guess(unit: Unit, street: str | None, legacy: bool, others: tuple[str, ...]) -> PlaceGuess:
    if unit.lat is None or unit.lon is None:
        raise ValueError(f"unit {unit.code} has no centroid in the directory")
    return PlaceGuess(
        unit_code=unit.code,
        lat=unit.lat,
        lon=unit.lon,
        street=street,
        from_legacy_address=legacy,
        alternatives=others,
    )


def _from_2025(parsed: _Parsed, directory: Directory) -> PlaceGuess | None:
    if parsed.province_code != HANOI_CODE or not parsed.ward_code:
        return None
    unit = directory.get_by_vau_code(parsed.ward_code) or directory.get(parsed.ward_code)
    return None if unit is None else _guess(unit, parsed.street, False, ())


def _from_legacy(
    text: str, parsed: _Parsed, directory: Directory, new_street: str | None
) -> PlaceGuess | None:
    if parsed.province_code != HANOI_CODE or not parsed.ward_code or not parsed.ward:
        return None
    codes = directory.legacy_units(parsed.ward_code)
    units = [u for u in (directory.get(c) for c in codes) if u is not None]
    if not units:
        return None
    # An old ward read out of the street ("15 Phố Huế": old Phường Phố Huế) was cut from the
    # street by the parser; the 2025 reading keeps it whole.
    street = parsed.street if _is_own_part(text, parsed.ward) else new_street or parsed.street
    return _guess(units[0], street, True, tuple(u.code for u in units[1:]))


def resolve_typed_address(text: str, directory: Directory) -> PlaceGuess | None:
    """The Hanoi unit a typed address is in, or None.

    None when the address names another province, or names no ward or commune that can be
    recognised. An address that does not end with a province is read as a Hanoi one (the
    parsers' own guess of a province is not asked for). Offline and cached;
    the first call loads vietnamadminunits (about half a second), later ones take well under
    a few milliseconds.
    """
    text = " ".join(text.split())[:MAX_ADDRESS_CHARS]
    if not fold(text):
        return None
    province = _named_province(text, directory)
    if province is None:
        # Residents of a Hanoi bot often leave the city out: "12 Kim Mã, Ba Đình".
        text += HANOI_SUFFIX
    elif province != HANOI_CODE:
        return None
    new = _parse(text, "FROM_2025")
    if new.province_code != HANOI_CODE:
        return None
    old = _parse(text, "LEGACY")
    if new.ward_code and not _prefers_legacy(text, new, old):
        return _from_2025(new, directory)
    return _from_legacy(text, old, directory, new.street) or _from_2025(new, directory)

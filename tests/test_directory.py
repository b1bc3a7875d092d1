"""The directory of units and departments: search, names, category owners."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.directory import Directory, Unit

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def directory() -> Directory:
    return Directory.load_default()


def names(units: list[Unit]) -> list[str]:
    return [u.name_vi for u in units]


def test_the_directory_has_hanoi_s_51_wards_and_75_communes(directory: Directory) -> None:
    local = directory.local_units
    assert len(local) == 126
    assert sum(u.kind == "ward" for u in local) == 51
    assert sum(u.kind == "commune" for u in local) == 75
    assert len({u.code for u in directory.units}) == len(directory.units)
    for unit in local:
        assert unit.lat is not None and 20.5 < unit.lat < 21.4, unit
        assert unit.lon is not None and 105.2 < unit.lon < 106.1, unit
        prefix, kind_en = ("Phường ", "Ward") if unit.kind == "ward" else ("Xã ", "Commune")
        assert unit.name_vi.startswith(prefix)
        assert unit.name_en == f"{unit.name_vi.removeprefix(prefix)} {kind_en}"


@pytest.mark.parametrize(
    "query", ["ba dinh", "Phường Ba Đình", "Ba Dinh ward", "BA ĐÌNH", "badinh", "P. Ba Đình"]
)
def test_searching_for_ba_dinh_however_typed_finds_it_first(
    directory: Directory, query: str
) -> None:
    assert names(directory.search(query))[0] == "Phường Ba Đình"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Phường Hoàn Kiếm, Hà Nội", "Phường Hoàn Kiếm"),
        ("UBND phường Hoàn Kiếm, TP Hà Nội", "Phường Hoàn Kiếm"),
        ("UBND phường Hoàn Kiếm, quận Hoàn Kiếm", "Phường Hoàn Kiếm"),
        ("UBND phường Hoàn Kiếm quận Hoàn Kiếm", "Phường Hoàn Kiếm"),
        ("Phuong Hoan Kiem Ha Noi", "Phường Hoàn Kiếm"),
        ("P. Ba Đình, Q. Ba Đình, TP. Hà Nội", "Phường Ba Đình"),
        ("Ba Dinh ward, Hanoi", "Phường Ba Đình"),
        ("xã Sóc Sơn huyện Sóc Sơn", "Xã Sóc Sơn"),
        ("Phường Sơn Tây, thị xã Sơn Tây", "Phường Sơn Tây"),
    ],
)
def test_unit_name_with_the_city_or_old_district_is_found(
    directory: Directory, query: str, expected: str
) -> None:
    # As an office's address is written: the city, or the old district out of habit.
    assert names(directory.search(query))[0] == expected


def test_a_department_named_with_the_city_is_still_found_by_it(directory: Directory) -> None:
    assert names(directory.search("Sở Xây dựng Hà Nội")) == ["Sở Xây dựng Hà Nội"]
    assert directory.search("Điện lực Hà Nội")[0].code == "evn-hanoi"
    assert {u.code for u in directory.search("Hà Nội")} == {"evn-hanoi", "hawaco", "so-xay-dung"}


def test_searching_xa_soc_son_finds_the_commune(directory: Directory) -> None:
    assert names(directory.search("xa soc son")) == ["Xã Sóc Sơn"]
    assert names(directory.search("Soc Son commune")) == ["Xã Sóc Sơn"]


def test_searching_for_something_that_is_not_a_unit_finds_nothing(directory: Directory) -> None:
    assert directory.search("nonexistent") == []
    assert directory.search("") == []
    assert directory.search("  -- ") == []


def test_exact_matches_come_before_prefix_and_substring_matches(directory: Directory) -> None:
    found = names(directory.search("son", limit=20))
    assert found[:2] == ["Phường Sơn Tây", "Xã Sơn Đồng"]  # start with "Sơn"
    assert {"Xã Sóc Sơn", "Xã Hương Sơn"} <= set(found[2:])  # contain "Sơn"
    assert names(directory.search("Phương Liệt"))[0] == "Phường Phương Liệt"
    assert len(directory.search("phuong", limit=3)) == 3


def test_a_department_can_be_found_by_its_name_or_acronym(directory: Directory) -> None:
    for query in ("EVN", "điện lực", "Hanoi Power"):
        assert directory.search(query)[0].code == "evn-hanoi", query
    assert directory.search("hawaco")[0].code == "hawaco"
    assert directory.search("so xay dung")[0].code == "so-xay-dung"


def test_power_reports_go_to_evn_hanoi_and_road_reports_to_the_local_unit(
    directory: Directory,
) -> None:
    owner = directory.owner_for_category("power")
    assert owner is not None and owner.code == "evn-hanoi" and owner.is_department
    water = directory.owner_for_category("water")
    traffic = directory.owner_for_category("traffic")
    assert water is not None and water.code == "hawaco"
    assert traffic is not None and traffic.code == "so-xay-dung"
    assert directory.owner_for_category("roads") is None
    assert directory.owner_for_category("procedure") is None
    ba_dinh = directory.get("00004")
    assert ba_dinh is not None
    assert "roads" in ba_dinh.categories and "power" not in ba_dinh.categories


def test_names_are_shown_in_the_user_s_language(directory: Directory) -> None:
    assert directory.name("00004", "vi") == "Phường Ba Đình"
    assert directory.name("00004", "en") == "Ba Đình Ward"
    assert directory.name("evn-hanoi", "en") == "Hanoi Power Corporation (EVNHANOI)"
    assert directory.name("evn-hanoi", "vi") == "Tổng công ty Điện lực TP Hà Nội"
    # A unit no longer listed: its code, or the names it was last known by; never offered.
    assert directory.name("99999", "vi") == "99999"
    own = directory.with_retired(
        [("99999", "Phường Cũ", "Old Ward"), ("00004", "Tên khác", "Other name")]
    )
    assert (own.name("99999", "vi"), own.name("99999", "en")) == ("Phường Cũ", "Old Ward")
    assert own.name("00004", "vi") == "Phường Ba Đình"  # listed: its own names stay
    assert own.get("99999") is None
    assert directory.name("99999", "vi") == "99999"  # the shared one is as shipped


def test_every_old_ward_leads_to_existing_new_units(directory: Directory) -> None:
    data = json.loads((REPO_ROOT / "data" / "directory.json").read_text(encoding="utf-8"))
    legacy = data["legacy_wards"]
    assert len(legacy) == 526  # Hanoi's wards and communes before 1 July 2025
    for old, codes in legacy.items():
        assert codes and len(set(codes)) == len(codes), old
        assert all(c in directory for c in codes), old
        assert directory.legacy_units(old) == tuple(codes)
    # Every new unit was formed from at least one old ward.
    assert {c for codes in legacy.values() for c in codes} == {
        u.code for u in directory.local_units
    }


def test_a_split_old_ward_leads_first_to_the_part_that_kept_its_name(
    directory: Directory,
) -> None:
    # Old Phường Văn Miếu - Quốc Tử Giám (00181) was split between two new units; the merges
    # file lists Ô Chợ Dừa first, but the Temple of Literature is in the namesake.
    assert [directory.name(c, "vi") for c in directory.legacy_units("00181")] == [
        "Phường Văn Miếu - Quốc Tử Giám",
        "Phường Ô Chợ Dừa",
    ]
    # Old Phường Hàng Mã went whole into Phường Hoàn Kiếm.
    assert [directory.name(c, "vi") for c in directory.legacy_units("00043")] == [
        "Phường Hoàn Kiếm"
    ]
    assert directory.legacy_units("99999") == ()

"""Typed addresses -> Hanoi unit, offline."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from domain.directory import Directory
from domain.places import PlaceGuess, resolve_typed_address


@pytest.fixture(scope="module")
def directory() -> Directory:
    return Directory.load_default()


def unit_name(guess: PlaceGuess | None, directory: Directory) -> str | None:
    return None if guess is None else directory.name(guess.unit_code, "vi")


def test_a_2025_address_finds_its_ward_and_keeps_the_street(directory: Directory) -> None:
    guess = resolve_typed_address("Số 1 Tràng Tiền, Phường Hoàn Kiếm, Hà Nội", directory)
    assert guess is not None
    assert unit_name(guess, directory) == "Phường Hoàn Kiếm"
    assert guess.street == "Số 1 Tràng Tiền"
    assert not guess.from_legacy_address
    unit = directory.get(guess.unit_code)
    assert unit is not None
    assert (guess.lat, guess.lon) == (unit.lat, unit.lon)
    assert 21.0 < guess.lat < 21.1
    assert 105.8 < guess.lon < 105.9


def test_an_old_address_with_its_district_goes_to_the_new_unit(directory: Directory) -> None:
    guess = resolve_typed_address(
        "12 Quốc Tử Giám, Phường Văn Miếu, Quận Đống Đa, Hà Nội", directory
    )
    assert guess is not None
    assert unit_name(guess, directory) == "Phường Văn Miếu - Quốc Tử Giám"
    assert guess.from_legacy_address
    assert guess.street == "12 Quốc Tử Giám"
    # The old ward was split: the other part is offered if the resident says no.
    assert [directory.name(c, "vi") for c in guess.alternatives] == ["Phường Ô Chợ Dừa"]


def test_an_old_address_without_district_words_is_still_read_as_old(
    directory: Directory,
) -> None:
    # Read with the 2025 units, the bare "Đống Đa" would be the new Phường Đống Đa.
    guess = resolve_typed_address("12 Quốc Tử Giám, Văn Miếu, Đống Đa, Hà Nội", directory)
    assert unit_name(guess, directory) == "Phường Văn Miếu - Quốc Tử Giám"
    assert guess is not None and guess.from_legacy_address


def test_a_new_ward_named_like_an_old_district_is_read_as_new(directory: Directory) -> None:
    guess = resolve_typed_address("10 Tây Sơn, Phường Đống Đa, Hà Nội", directory)
    assert unit_name(guess, directory) == "Phường Đống Đa"
    assert guess is not None and not guess.from_legacy_address


def test_a_new_ward_with_the_old_district_out_of_habit_is_read_as_new(
    directory: Directory,
) -> None:
    # "Tràng Tiền" is also an old ward, but here it is the street.
    text = "Số 1 Tràng Tiền, Phường Hoàn Kiếm, Quận Hoàn Kiếm, Hà Nội"
    guess = resolve_typed_address(text, directory)
    assert unit_name(guess, directory) == "Phường Hoàn Kiếm"
    assert guess is not None and not guess.from_legacy_address
    assert guess.street == "Số 1 Tràng Tiền"


@pytest.mark.parametrize(
    ("text", "expected", "legacy"),
    [
        ("So 1 Trang Tien, phuong Hoan Kiem, Ha Noi", "Phường Hoàn Kiếm", False),
        (
            "12 quoc tu giam, phuong van mieu, quan dong da, ha noi",
            "Phường Văn Miếu - Quốc Tử Giám",
            True,
        ),
        ("thon 3, xa Phu Minh, huyen Soc Son, Ha Noi", "Xã Sóc Sơn", True),
        ("23 Láng Hạ, P.Thành Công, Q.Ba Đình", "Phường Giảng Võ", True),
    ],
)
def test_addresses_typed_without_accents_or_with_abbreviations_are_understood(
    directory: Directory, text: str, expected: str, legacy: bool
) -> None:
    guess = resolve_typed_address(text, directory)
    assert unit_name(guess, directory) == expected
    assert guess is not None and guess.from_legacy_address is legacy


def test_an_address_without_the_city_is_taken_as_hanoi(directory: Directory) -> None:
    guess = resolve_typed_address("12 Kim Mã, Ba Đình", directory)
    assert unit_name(guess, directory) == "Phường Ba Đình"
    assert guess is not None and guess.street == "12 Kim Mã"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Số 12 Minh Khai, phường Vĩnh Tuy", "Phường Vĩnh Tuy"),
        ("Ngõ 5 Tam Trinh, phường Hoàng Mai", "Phường Hoàng Mai"),
        ("Xã Trần Phú", "Xã Trần Phú"),
        ("Thôn 1, Yên Bài", "Xã Yên Bài"),  # a commune of Hanoi, not the province Yên Bái
        ("Thon 1, Yen Bai", "Xã Yên Bài"),
    ],
)
def test_a_typed_address_in_a_ward_whose_name_exists_elsewhere_is_found(
    directory: Directory, text: str, expected: str
) -> None:
    # Left without the city, these were read in another province: "Vĩnh Tuy" as Nghệ An's
    # "Vinh", "Hoàng Mai" as Quảng Trị's "Hướng Hóa", "Trần Phú" as An Giang's "An Phú".
    assert unit_name(resolve_typed_address(text, directory), directory) == expected


def test_every_unit_typed_plainly_is_found(directory: Directory) -> None:
    # One test over the 126 units rather than 126 tests: each test ends with a gc.collect()
    # (conftest) that costs more than the lookups, and the list says every unit missed.
    missed = []
    for unit in directory.local_units:
        kind, name = unit.name_vi.split(" ", 1)
        for text in (unit.name_vi, f"{kind.lower()} {name}", f"Số 3 ngõ 5, {unit.name_vi}"):
            if unit_name(resolve_typed_address(text, directory), directory) != unit.name_vi:
                missed.append(text)
    assert missed == []


def test_a_street_named_like_an_old_ward_keeps_its_name(directory: Directory) -> None:
    # "Phố Huế" is also the name of an old ward: the street must not lose it.
    guess = resolve_typed_address("15 Phố Huế, Q. Hai Bà Trưng, HN", directory)
    assert unit_name(guess, directory) == "Phường Hai Bà Trưng"
    assert guess is not None and guess.street == "15 Phố Huế"


@pytest.mark.parametrize(
    "text",
    [
        "12 Nguyễn Huệ, Phường Sài Gòn, Thành phố Hồ Chí Minh",
        "12 Nguyen Hue, Phuong Ben Nghe, Quan 1, TP HCM",
        "Phường Trần Phú, Thành phố Hà Giang, Hà Giang",
        "Số 5 Lạch Tray, Hải Phòng",
        "12 Nguyễn Huệ Quận 1 TP HCM",
        "Quận 1, TP.HCM, Việt Nam",
        "Thôn 1, Yên Bái",
        # Once read as Hanoi's Xã Quảng Bị and Xã Trần Phú:
        "Phường Trần Phú, Tỉnh Quảng Bình",
        "Phường Trần Phú, Tỉnh Nam Định",
    ],
)
def test_an_address_outside_hanoi_gives_no_place(directory: Directory, text: str) -> None:
    assert resolve_typed_address(text, directory) is None


@pytest.mark.parametrize("text", ["asdkjh qwe zzz", "", "   ", "?!", "Hà Nội", "x" * 5000])
def test_gibberish_or_no_ward_gives_no_place(directory: Directory, text: str) -> None:
    assert resolve_typed_address(text, directory) is None


def test_resolving_never_touches_the_network(
    directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    guess = resolve_typed_address(
        "7 Hàng Bài, Phường Tràng Tiền, Quận Hoàn Kiếm, Hà Nội", directory
    )
    assert guess is not None and guess.from_legacy_address

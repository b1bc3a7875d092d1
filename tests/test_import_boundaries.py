"""``python -m bot import-boundaries FILE``: a city replaces the approximate polygons."""

import json
from importlib import resources
from pathlib import Path

import pytest

from bot.__main__ import main


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def shipped() -> dict:  # type: ignore[type-arg]
    text = resources.files("data").joinpath("hanoi-units.geojson").read_text(encoding="utf-8")
    data: dict = json.loads(text)  # type: ignore[type-arg]
    return data


def test_a_complete_boundary_file_is_installed(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    official = shipped()
    official["approximate"] = False
    for feature in official["features"]:
        feature["properties"]["approximate"] = False
    source = tmp_path / "official.geojson"
    source.write_text(json.dumps(official), encoding="utf-8")
    assert main(["import-boundaries", str(source)]) == 0
    assert "Imported 126 unit boundaries" in capsys.readouterr().out
    from bot.boundaries import load_locator
    from bot.settings import Settings

    locator = load_locator(Settings(_env_file=None, data_dir=data_dir))
    assert not locator.is_approximate
    assert locator.locate(21.0288, 105.8522) == "00070"


def test_an_incomplete_file_is_refused_with_the_reasons(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    partial = shipped()
    partial["features"] = partial["features"][:10]
    partial["features"][0]["properties"]["code"] = "99999"
    source = tmp_path / "partial.geojson"
    source.write_text(json.dumps(partial), encoding="utf-8")
    assert main(["import-boundaries", str(source)]) == 1
    err = capsys.readouterr().err
    assert "99999" in err and "have no polygon" in err
    assert not (data_dir / "boundaries.geojson").exists()


def test_a_file_that_is_not_json_is_refused(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "broken.geojson"
    source.write_text("{not json", encoding="utf-8")
    assert main(["import-boundaries", str(source)]) == 1
    assert "not a JSON file" in capsys.readouterr().err
    assert main(["import-boundaries", str(tmp_path / "missing.geojson")]) == 1
    assert "No such file" in capsys.readouterr().err

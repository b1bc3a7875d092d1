"""``python -m bot import-boundaries FILE.geojson``: how a city loads its official polygons.

The shipped boundaries are an approximation (see data/README.md). An imported file is checked
against the directory of units and, when it passes, kept in DATA_DIR and used from then on.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from bot.settings import Settings
from domain.directory import Directory
from domain.routing import UnitLocator, validate_boundaries

IMPORTED_NAME = "boundaries.geojson"


def imported_path(settings: Settings) -> Path:
    return settings.data_dir / IMPORTED_NAME


def load_locator(settings: Settings) -> UnitLocator:
    """The imported official boundaries when there are some, else the shipped approximation."""
    path = imported_path(settings)
    return UnitLocator.from_geojson_file(path) if path.exists() else UnitLocator.default()


def import_boundaries(settings: Settings, file: str) -> int:
    source = Path(file)
    try:
        obj = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        print(f"No such file: {source}", file=sys.stderr)
        return 1
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        print(f"{source} is not a JSON file: {error}", file=sys.stderr)
        return 1
    directory = Directory.load_default()
    problems = validate_boundaries(obj, [u.code for u in directory.local_units])
    if problems:
        print(f"{source} cannot be imported:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    target = imported_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(target)
    count = len(UnitLocator.from_geojson_file(target))
    print(f"Imported {count} unit boundaries into {target}; restart the bot to use them.")
    return 0

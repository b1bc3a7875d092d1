"""The categories a resident chooses from, grouped as the city counts its reports.

Names live in ``locales/`` under ``category-<code>``; which unit or department handles a category
is in the directory (``data/directory.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Group(StrEnum):
    ON_SITE = "on-site"  # a problem at a place: needs a location
    ADMINISTRATIVE = "administrative"  # a procedure or an office: needs a unit, no pin


@dataclass(frozen=True)
class Category:
    code: str
    group: Group
    icon: str

    @property
    def needs_place(self) -> bool:
        return self.group is Group.ON_SITE


CATEGORIES: tuple[Category, ...] = (
    Category("roads", Group.ON_SITE, "🛣"),
    Category("lighting", Group.ON_SITE, "💡"),
    Category("waste", Group.ON_SITE, "🗑"),
    Category("drainage", Group.ON_SITE, "🌊"),
    Category("trees", Group.ON_SITE, "🌳"),
    Category("traffic", Group.ON_SITE, "🚦"),
    Category("water", Group.ON_SITE, "🚰"),
    Category("power", Group.ON_SITE, "⚡"),
    Category("pollution", Group.ON_SITE, "🔊"),
    Category("construction", Group.ON_SITE, "🏗"),
    Category("public-order", Group.ON_SITE, "👮"),
    Category("procedure", Group.ADMINISTRATIVE, "📄"),
    Category("conduct", Group.ADMINISTRATIVE, "🏛"),
)

_BY_CODE = {c.code: c for c in CATEGORIES}


def get(code: str) -> Category | None:
    return _BY_CODE.get(code)

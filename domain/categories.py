"""The categories a resident chooses from, grouped as the city counts its reports.

Names live in ``locales/`` under ``category-<code>``; which unit or department handles a category
is in the directory (``data/directory.json``). Each category carries its priority and the working
days its unit has to resolve a report (``domain/deadlines.py`` turns them into deadlines).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Priority(StrEnum):
    """How fast a report must be taken up (Hanoi: received within 8 working hours, 4 if urgent).

    URGENT is for problems where life, safety or a basic service is at stake right now; COMPLEX
    for those that need an inspection, measurements or several agencies before an answer. Their
    receipt deadline is the normal one; what makes them complex is their longer resolution.
    """

    URGENT = "urgent"
    NORMAL = "normal"
    COMPLEX = "complex"


class Group(StrEnum):
    ON_SITE = "on-site"  # a problem at a place: needs a location
    ADMINISTRATIVE = "administrative"  # a procedure or an office: needs a unit, no pin


@dataclass(frozen=True)
class Category:
    code: str
    group: Group
    icon: str
    priority: Priority
    resolve_days: int  # working days to resolve a report

    @property
    def needs_place(self) -> bool:
        return self.group is Group.ON_SITE


CATEGORIES: tuple[Category, ...] = (
    Category("roads", Group.ON_SITE, "🛣", Priority.NORMAL, 10),  # repair needs a contractor
    Category("lighting", Group.ON_SITE, "💡", Priority.NORMAL, 5),
    Category("waste", Group.ON_SITE, "🗑", Priority.NORMAL, 3),  # a collection round or two
    # Flooding cuts streets off and drowns people in Hanoi's rainy season.
    Category("drainage", Group.ON_SITE, "🌊", Priority.URGENT, 5),
    Category("trees", Group.ON_SITE, "🌳", Priority.NORMAL, 5),  # a fallen tree on a road: traffic
    # Dark signals and blocked junctions cause crashes.
    Category("traffic", Group.ON_SITE, "🚦", Priority.URGENT, 5),
    # A burst main or a household without water is a basic service lost.
    Category("water", Group.ON_SITE, "🚰", Priority.URGENT, 5),
    # Fallen lines electrocute; an outage stops lifts, pumps and medical devices.
    Category("power", Group.ON_SITE, "⚡", Priority.URGENT, 3),
    # Noise, smoke and dust need measurements, often at night, and an inspection.
    Category("pollution", Group.ON_SITE, "🔊", Priority.COMPLEX, 10),
    # Illegal building needs the permit file checked, an inspection and an enforcement decision.
    Category("construction", Group.ON_SITE, "🏗", Priority.COMPLEX, 15),
    # Fights, threats, gatherings: the police act at once.
    Category("public-order", Group.ON_SITE, "👮", Priority.URGENT, 5),
    Category("procedure", Group.ADMINISTRATIVE, "📄", Priority.NORMAL, 10),
    # A complaint about an official is verified and both sides are heard before an answer.
    Category("conduct", Group.ADMINISTRATIVE, "🏛", Priority.COMPLEX, 10),
)

_BY_CODE = {c.code: c for c in CATEGORIES}


def get(code: str) -> Category | None:
    return _BY_CODE.get(code)

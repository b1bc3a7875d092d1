"""Import aiogram with its Telegram types' validators built on first use, not all at import.

``import aiogram.types`` defines ~300 pydantic models with ``defer_build=True`` and then undoes
that: a loop at the end of the module calls ``model_rebuild`` on every one of them so that their
forward references resolve. Building every validator costs ~155 MB of RSS and several seconds at
start (aiogram issues #1513 and #1876), although a bot uses a few dozen of those types.

:func:`import_aiogram_lazily` imports ``aiogram.types`` and ``aiogram.methods`` with that loop
turned into a no-op that keeps the namespace it was given, then places the names each module
only imports under ``TYPE_CHECKING`` (those its classes' annotations mention, no more) into its
globals, which is where pydantic looks for them
when a model is built on first use (as the model itself or nested in another, a method or a
``Response[...]``). Validation is unchanged; only the moment each validator is built differs.
Idle RSS falls from ~170 to ~66 MB for aiogram alone.

Built lazily, the first update and the first answer of each result type would wait for their
validators (about half a second of CPU for a message and what it nests, once): :func:`build_now`
builds what the bot uses at start, before any update (bot.app): ~1 s of CPU and ~16 MB (measured).

It must run before anything imports ``aiogram.types``; when something already has, it does
nothing and says so (the models were built the usual way and everything still works).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from aiogram.methods.base import TelegramMethod

# pydantic keeps a generic class such as Response[Message] in a weak cache: held here, the
# answers' classes built at start live as long as the process, instead of being built again
# for an answer after each garbage collection.
_ANSWER_TYPES: set[type[BaseModel]] = set()
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def import_aiogram_lazily() -> bool:
    """Import aiogram's types and methods lazily; False if they had been imported already."""
    if "aiogram.types" in sys.modules:
        return False
    rebuild = BaseModel.__dict__["model_rebuild"]
    namespace: dict[str, Any] = {}

    def keep_namespace(
        cls: type[BaseModel], *, _types_namespace: dict[str, Any] | None = None, **kwargs: Any
    ) -> bool | None:
        if _types_namespace is None:  # someone else's rebuild during the import: as usual
            return rebuild.__func__(cls, **kwargs)  # type: ignore[no-any-return]
        namespace.update(_types_namespace)
        return None

    BaseModel.model_rebuild = classmethod(keep_namespace)  # type: ignore[method-assign,assignment,arg-type]
    try:
        import aiogram.methods
        import aiogram.types  # noqa: F401
    finally:
        BaseModel.model_rebuild = rebuild  # type: ignore[method-assign]
    if not namespace:  # aiogram changed how it resolves its types: leave it as it is
        return False
    prefixes = ("aiogram.types.", "aiogram.methods.")
    for name, module in list(sys.modules.items()):
        if module is not None and name.startswith(prefixes):
            globals_ = vars(module)
            for key in _annotated_names(name, globals_):
                if key in namespace:
                    globals_.setdefault(key, namespace[key])
    return True


def _annotated_names(module: str, globals_: dict[str, Any]) -> set[str]:
    """The names that the annotations of ``module``'s own classes and of their bases mention
    (aiogram writes them as strings: ``from __future__ import annotations``; pydantic may
    resolve an inherited field in the subclass's module). Only those go into its globals: the
    whole namespace in each of ~650 modules' globals held ~8 MB of dict entries (tracemalloc)."""
    names: set[str] = set()
    for value in list(globals_.values()):
        if isinstance(value, type) and value.__module__ == module:
            for cls in value.__mro__:
                for annotation in vars(cls).get("__annotations__", {}).values():
                    if isinstance(annotation, str):
                        names.update(_IDENTIFIER.findall(annotation))
    return names


def build_now(methods: Iterable[type[TelegramMethod[Any]]]) -> None:
    """Build now what the bot will use: updates, these methods and their answers.

    Otherwise the first update, and the first call of each method, would wait for it (about
    half a second each) — the first residents after a start would. Already built: nothing.
    """
    from aiogram.methods.base import Response
    from aiogram.types import Update

    Update.model_rebuild()
    for method in methods:
        method.model_rebuild()
        returning: Any = method.__returning__
        _ANSWER_TYPES.add(Response[returning])

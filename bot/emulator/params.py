"""Reading Bot API request parameters the way the Bot API server reads them.

A request may come as multipart/form-data (what aiogram sends), urlencoded form, JSON or query
string. Form values are strings; objects and arrays inside them are JSON text; files are parts
referenced as ``attach://<name>`` (or sent directly under the parameter's own name).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, bad_request

JSON = dict[str, Any]


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    data: bytes
    filename: str | None = None
    content_type: str | None = None

    def describe(self) -> JSON:
        return {"upload": self.filename, "size": len(self.data)}


# How the Bot API server fails to read a JSON-serialized parameter.
_JSON_ERRORS = {
    "reply_markup": "can't parse reply keyboard markup JSON object",
    "reply_parameters": "can't parse reply parameters JSON object",
    "link_preview_options": "can't parse link preview options JSON object",
    "entities": "can't parse entities JSON object",
    "caption_entities": "can't parse entities JSON object",
    "media": "can't parse media JSON object",
    "allowed_updates": "can't parse allowed updates JSON object",
    "commands": "can't parse commands JSON object",
    "scope": "can't parse BotCommandScope JSON object",
    "menu_button": "can't parse menu button JSON object",
    "message_ids": "can't parse message identifiers JSON object",
}

_TRUE = {"true", "yes", "1"}
_LEADING_INT = re.compile(r"\s*([+-]?\d+)")


def _leading_int(value: str) -> int:
    match = _LEADING_INT.match(value)
    return int(match.group(1)) if match else 0


class Params:
    """Typed access to one request's parameters (names are case-sensitive, as in the API)."""

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload] | None = None) -> None:
        self.values = values
        self.uploads = uploads or {}

    def __contains__(self, name: str) -> bool:
        value = self.values.get(name)
        return value is not None and value != ""

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return str(value)
        return json.dumps(value, ensure_ascii=False)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
        if isinstance(value, str):
            return _leading_int(value)
        return 0

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        try:
            return float(str(value))
        except ValueError:
            return 0.0

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, bool):
            return value
        if value is None:
            return False
        return str(value).strip().lower() in _TRUE

    def json(self, name: str) -> Any:
        """A JSON-serialized parameter, decoded; None when absent."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(
                    _JSON_ERRORS.get(name, f"can't parse {name} JSON object")
                ) from None
        return value

    def obj(self, name: str) -> JSON | None:
        value = self.json(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise bad_request(_JSON_ERRORS.get(name, f"can't parse {name} JSON object"))
        return value

    def array(self, name: str) -> list[Any] | None:
        value = self.json(name)
        if value is None:
            return None
        if not isinstance(value, list):
            raise bad_request(_JSON_ERRORS.get(name, f"can't parse {name} JSON object"))
        return value

    def file(self, name: str) -> str | Upload | None:
        """A file parameter: an Upload, or a file_id/URL string."""
        if name in self.uploads and not isinstance(self.values.get(name), str):
            return self.uploads[name]
        value = self.text(name)
        if not value:
            return self.uploads.get(name)
        return self.resolve_file(value)

    def resolve_file(self, value: str) -> str | Upload:
        if value.startswith("attach://"):
            key = value[len("attach://") :]
            upload = self.uploads.get(key)
            if upload is None:
                raise bad_request(f'file "{key}" must be uploaded as a multipart part')
            return upload
        return value

    def describe(self) -> JSON:
        """Parameters as recorded in ``calls``: JSON decoded, uploads summarised."""
        out: JSON = {}
        for name, value in self.values.items():
            if isinstance(value, str) and name in _JSON_ERRORS:
                try:
                    out[name] = json.loads(value)
                    continue
                except ValueError:
                    pass
            if isinstance(value, str) and value.startswith("attach://"):
                upload = self.uploads.get(value[len("attach://") :])
                out[name] = upload.describe() if upload else value
                continue
            out[name] = _coerce_for_record(name, value)
        for name, upload in self.uploads.items():
            if name not in self.values and not any(
                isinstance(v, str) and v == f"attach://{name}" for v in self.values.values()
            ):
                out.setdefault(name, upload.describe())
        return out


_INT_FIELDS = frozenset(
    {
        "message_id",
        "from_chat_id",
        "reply_to_message_id",
        "message_thread_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "cache_time",
        "live_period",
        "heading",
        "proximity_alert_radius",
        "max_connections",
        "duration",
        "width",
        "height",
    }
)
_FLOAT_FIELDS = frozenset({"latitude", "longitude", "horizontal_accuracy"})
_BOOL_VALUES = {"true": True, "false": False}


def _coerce_for_record(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if name == "chat_id" or name in _INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            return value
    if name in _FLOAT_FIELDS:
        try:
            return float(value)
        except ValueError:
            return value
    if value in _BOOL_VALUES:
        return _BOOL_VALUES[value]
    return value


def require(params: Params, name: str, message: str | None = None) -> str:
    value = params.text(name)
    if not value:
        raise bad_request(message or f"{name} is empty")
    return value


def parameter_error(name: str) -> ApiError:
    return bad_request(f'parameter "{name}" is required')

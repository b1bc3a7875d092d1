"""Stored files: uploads, photo sizes made with Pillow, file ids and placeholder media."""

from __future__ import annotations

import base64
import io
import mimetypes
import random
import threading
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import IMAGE_PROCESS_FAILED, PHOTO_INVALID_DIMENSIONS, bad_request

JSON = dict[str, Any]

# file_id prefixes shaped like Telegram's (the real ones encode the file type in the first bytes).
_PREFIX = {
    "photo": "AgACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "audio": "CQACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
    "animation": "CgACAgIAAxkBAAI",
    "video_note": "DQACAgIAAxkBAAI",
}
_FOLDER = {
    "photo": "photos",
    "document": "documents",
    "video": "videos",
    "voice": "voice",
    "audio": "music",
    "sticker": "stickers",
    "animation": "animations",
    "video_note": "video_notes",
}
# Telegram's names for file kinds in "can't use file of type X as Y".
KIND_NAMES = {
    "photo": "Photo",
    "document": "Document",
    "video": "Video",
    "voice": "VoiceNote",
    "audio": "Audio",
    "sticker": "Sticker",
    "animation": "Animation",
    "video_note": "VideoNote",
}

MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
THUMB_SIDES = (90, 320, 800)


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def to_file(self) -> JSON:
        """The Bot API File object (getFile)."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


class FileStore:
    """Every file the emulated Telegram knows, by file_id and by download path."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._counter = 0
        self.by_id: dict[str, StoredFile] = {}
        self.by_path: dict[str, StoredFile] = {}
        self.photo_sets: dict[str, list[JSON]] = {}  # any size's file_id -> all sizes
        self.extra: dict[str, JSON] = {}  # file_id -> media fields (duration, width, ...)

    def _token(self, length: int) -> str:
        raw = bytes(self._rng.getrandbits(8) for _ in range(length))
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def add(
        self,
        kind: str,
        data: bytes,
        *,
        mime_type: str | None = None,
        file_name: str | None = None,
        extension: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> StoredFile:
        self._counter += 1
        if extension is None:
            extension = _extension_for(kind, file_name, mime_type)
        path = f"{_FOLDER.get(kind, 'documents')}/file_{self._counter}.{extension}"
        stored = StoredFile(
            file_id=_PREFIX.get(kind, _PREFIX["document"]) + self._token(48),
            file_unique_id="AQAD" + self._token(9),
            kind=kind,
            data=data,
            file_path=path,
            mime_type=mime_type,
            file_name=file_name,
            width=width,
            height=height,
        )
        self.by_id[stored.file_id] = stored
        self.by_path[path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        return self.by_id.get(file_id)

    # --- Media objects ---------------------------------------------------------------------------

    def add_photo(self, data: bytes, decoded: DecodedPhoto | None = None) -> list[JSON]:
        """Decode an image (unless ``decoded`` is :func:`decode_photo`'s answer for it) and
        store its sizes; return the PhotoSize list, smallest first.

        The largest size is the uploaded file itself, byte for byte, so a download gives back
        what was sent; the smaller ones are JPEG thumbnails.
        """
        width, height, thumbs = decode_photo(data) if decoded is None else decoded
        sizes: list[JSON] = []
        for thumb_bytes, tw, th in thumbs:
            stored = self.add("photo", thumb_bytes, mime_type="image/jpeg", width=tw, height=th)
            sizes.append(photo_size(stored))
        stored = self.add(
            "photo", data, mime_type="image/jpeg", extension="jpg", width=width, height=height
        )
        sizes.append(photo_size(stored))
        for size in sizes:
            self.photo_sets[size["file_id"]] = sizes
        return sizes

    def photo_sizes(self, file_id: str) -> list[JSON]:
        sizes = self.photo_sets.get(file_id)
        if sizes is None:
            stored = self.by_id[file_id]
            sizes = [photo_size(stored)]
        return [dict(size) for size in sizes]

    def add_document(
        self, data: bytes, file_name: str | None, mime_type: str | None = None
    ) -> JSON:
        if mime_type is None or mime_type == "application/octet-stream":
            guessed = mimetypes.guess_type(file_name or "")[0]
            mime_type = guessed or mime_type or "application/octet-stream"
        stored = self.add("document", data, mime_type=mime_type, file_name=file_name)
        document: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        if file_name:
            document["file_name"] = file_name
        if mime_type:
            document["mime_type"] = mime_type
        return document

    def add_media(self, kind: str, data: bytes, **fields: Any) -> JSON:
        """Video, voice, audio, sticker, animation or video note object around stored bytes."""
        mime = fields.pop("mime_type", None) or _DEFAULT_MIME.get(kind)
        file_name = fields.get("file_name")
        stored = self.add(kind, data, mime_type=mime, file_name=file_name)
        media: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        if mime and kind not in {"sticker", "video_note"}:
            media["mime_type"] = mime
        extra = {k: v for k, v in fields.items() if v is not None}
        media.update(extra)
        self.extra[stored.file_id] = {k: v for k, v in extra.items() if k != "file_name"}
        return media


_DEFAULT_MIME = {
    "video": "video/mp4",
    "voice": "audio/ogg",
    "audio": "audio/mpeg",
    "animation": "video/mp4",
    "video_note": "video/mp4",
    "sticker": "image/webp",
}


def _extension_for(kind: str, file_name: str | None, mime_type: str | None) -> str:
    if kind == "photo":
        return "jpg"
    if kind == "voice":
        return "oga"
    if kind == "sticker":
        return "webp"
    if kind in {"video", "animation", "video_note"}:
        return "mp4"
    if file_name and "." in file_name:
        return file_name.rsplit(".", 1)[1].lower()[:10] or "bin"
    if mime_type:
        guessed = mimetypes.guess_extension(mime_type)
        if guessed:
            return guessed.lstrip(".")
    return "bin"


def photo_size(stored: StoredFile) -> JSON:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "width": stored.width,
        "height": stored.height,
    }


_WARNINGS_SWAPPED = threading.Lock()

# Width, height, and the JPEG thumbnails (bytes, width, height), smallest first.
DecodedPhoto = tuple[int, int, list[tuple[bytes, int, int]]]


def decode_photo(data: bytes) -> DecodedPhoto:
    """Width, height and JPEG thumbnails of an image, or the Bot API's photo errors."""
    try:
        # One decoding at a time in here: catch_warnings swaps the process's filters, and two
        # threads inside at once could leave the "ignore" behind for good (found by review).
        with _WARNINGS_SWAPPED, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                image = ImageOps.exif_transpose(opened)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise bad_request(IMAGE_PROCESS_FAILED) from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise bad_request(IMAGE_PROCESS_FAILED)
    if width + height > 10000 or max(width, height) > 20 * min(width, height):
        raise bad_request(PHOTO_INVALID_DIMENSIONS)
    rgb = image.convert("RGB")
    thumbs: list[tuple[bytes, int, int]] = []
    for side in THUMB_SIDES:
        fits = max(width, height) <= side
        if fits and thumbs:
            break
        # Telegram always sends a small size; for a tiny image it is the image itself.
        copy = rgb.copy()
        if not fits:
            copy.thumbnail((side, side))
        buffer = io.BytesIO()
        copy.save(buffer, format="JPEG", quality=80)
        thumbs.append((buffer.getvalue(), copy.width, copy.height))
        if fits:
            break
    return width, height, thumbs


def make_image(
    width: int = 640, height: int = 480, color: tuple[int, int, int] = (40, 120, 200)
) -> bytes:
    """A small JPEG for tests and demos."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def make_sticker() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (512, 512), (255, 200, 0, 255)).save(buffer, format="WEBP")
    return buffer.getvalue()

"""5. Photo pipeline: a 12-megapixel phone JPEG (with EXIF and GPS) to the stored, metadata-free
version (``domain.photos.clean_photo``), against a plain open-resize-save of the same bytes.

Also, without a target: a photo as Telegram hands it to a bot (1,280 px, here with EXIF and GPS
as well), which loses its metadata segments and keeps its pixels (``domain.jpeg``), against a
plain open-save of the same bytes, the decoding and re-encoding it took before; and the same
bytes sent as a file, which are always decoded and encoded again."""

from __future__ import annotations

import functools
import io
import statistics
import time
from collections.abc import Callable

import numpy as np
from PIL import ExifTags, Image

from bench.table import Result
from domain.photos import MAX_SIDE, clean_photo

TARGET_MS = 150.0
WIDTH, HEIGHT = 4000, 3000  # 12 MP, a phone camera's 4:3
SEED = 12


def phone_photo(width: int = WIDTH, height: int = HEIGHT, seed: int = SEED) -> bytes:
    """A JPEG that compresses like a photo: smooth gradients (sky, road), a few hard edges,
    sensor noise; with a camera's EXIF (make, model, orientation, time) and a GPS position."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    red = 90 + 110 * y + 20 * np.sin(6 * x)
    green = 110 + 60 * (1 - y) + 25 * np.cos(4 * x + 3 * y)
    blue = 200 - 120 * y + 15 * np.sin(9 * x * y)
    image = np.stack(np.broadcast_arrays(red, green, blue), axis=-1)
    for _ in range(40):  # kerbs, walls, a pothole: blocks of flat colour with hard edges
        top, left = rng.integers(0, height - 200), rng.integers(0, width - 200)
        h, w = rng.integers(50, 600), rng.integers(50, 900)
        image[top : top + h, left : left + w] = rng.uniform(20, 235, 3)
    image += rng.normal(0.0, 6.0, image.shape).astype(np.float32)  # sensor noise
    pixels = np.clip(image, 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phone maker"
    exif[ExifTags.Base.Model] = "Phone 12MP"
    exif[ExifTags.Base.Orientation] = 1
    exif[ExifTags.Base.DateTime] = "2026:03:14 08:30:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (21.0, 1.0, 43.68)  # Hoàn Kiếm Lake
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (105.0, 51.0, 7.92)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, format="JPEG", quality=92, exif=exif)
    return out.getvalue()


def open_resize_save(raw: bytes) -> bytes:
    """The baseline: open, resize to the same bound, save; nothing else."""
    with Image.open(io.BytesIO(raw)) as image:
        scale = MAX_SIDE / max(image.size)
        size = (round(image.width * scale), round(image.height * scale))
        out = io.BytesIO()
        image.resize(size).save(out, format="JPEG")
        return out.getvalue()


def open_save(raw: bytes) -> bytes:
    """The baseline for a photo within the cap: decoded and encoded again, nothing else."""
    with Image.open(io.BytesIO(raw)) as image:
        out = io.BytesIO()
        image.save(out, format="JPEG")
        return out.getvalue()


def decode_only(raw: bytes) -> None:
    with Image.open(io.BytesIO(raw)) as image:
        image.load()


def timings(call: Callable[[bytes], object], raw: bytes, times: int) -> list[float]:
    call(raw)  # warm up: first use loads codecs
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        call(raw)
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def run(quick: bool) -> list[Result]:
    raw = phone_photo()
    with Image.open(io.BytesIO(raw)) as original:
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo), "the test photo has no GPS"
    cleaned = clean_photo(raw)
    with Image.open(io.BytesIO(cleaned.data)) as stored:
        assert max(stored.size) <= MAX_SIDE
        assert not stored.getexif() and "exif" not in stored.info, "metadata survived"
    times = 5 if quick else 15
    ours = statistics.median(timings(clean_photo, raw, times))
    plain = statistics.median(timings(open_resize_save, raw, times))
    decoding = statistics.median(timings(decode_only, raw, times))
    return [
        Result(
            "5. photo: 12 MP JPEG -> stored (median)",
            ours,
            "ms",
            plain,
            "plain open-resize-save",
            f"< {TARGET_MS:.0f} ms",
            ours < TARGET_MS,
            f"{len(raw) / 1e6:.1f} MB in, {len(cleaned.data) / 1e3:.0f} kB "
            f"{cleaned.width}x{cleaned.height} out, EXIF/GPS gone; one thread; "
            f"decoding the 12 MP alone takes {decoding:.0f} ms",
        ),
        telegram_sized(times),
    ]


def telegram_sized(times: int) -> Result:
    raw = phone_photo(1280, 960)
    as_telegram = functools.partial(clean_photo, made_by_messenger=True)
    cleaned = as_telegram(raw)
    with Image.open(io.BytesIO(raw)) as original, Image.open(io.BytesIO(cleaned.data)) as kept:
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo), "the test photo has no GPS"
        assert not kept.getexif() and "exif" not in kept.info, "metadata survived"
        same = original.tobytes() == kept.tobytes()
    ours = statistics.median(timings(as_telegram, raw, 10 * times))
    as_file = statistics.median(timings(clean_photo, raw, 10 * times))
    plain = statistics.median(timings(open_save, raw, 10 * times))
    return Result(
        "5. photo: 1,280 px as Telegram hands it -> stored (median)",
        ours,
        "ms",
        plain,
        "plain open-save: decoded, encoded again",
        "",
        None,
        f"{len(raw) / 1e3:.0f} kB in, {len(cleaned.data) / 1e3:.0f} kB out, EXIF/GPS gone, "
        + ("every pixel kept" if same else "PIXELS CHANGED")
        + f"; one thread; the same sent as a file, encoded again: {as_file:.1f} ms",
    )

"""Sample photos for the playground, drawn with Pillow at start-up: no file from anywhere.

Each is a plain JPEG of a typical report (a pothole, a dark street, a rubbish pile, a flooded
street with a blocked drain), so a visitor can send a "photo" with one click.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageChops, ImageDraw, ImageFilter

WIDTH, HEIGHT = 800, 600
Colour = tuple[int, int, int]


@dataclass(frozen=True)
class Sample:
    name: str
    title_vi: str
    title_en: str
    data: bytes


def _vertical_gradient(
    draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], top: Colour, bottom: Colour
) -> None:
    x0, y0, x1, y1 = box
    span = max(y1 - y0, 1)
    for y in range(y0, y1):
        f = (y - y0) / span
        colour = tuple(round(a + (b - a) * f) for a, b in zip(top, bottom, strict=True))
        draw.line((x0, y, x1, y), fill=colour)


def _texture(image: Image.Image, box: tuple[int, int, int, int], seed: int, spread: int) -> None:
    """Speckle an area so asphalt and pavement do not look like flat paint."""
    rng = random.Random(seed)
    pixels = image.load()
    assert pixels is not None
    x0, y0, x1, y1 = box
    for _ in range((x1 - x0) * (y1 - y0) // 6):
        x, y = rng.randrange(x0, x1), rng.randrange(y0, y1)
        r, g, b = pixels[x, y]  # type: ignore[misc]
        d = rng.randint(-spread, spread)
        pixels[x, y] = (max(0, min(255, r + d)), max(0, min(255, g + d)), max(0, min(255, b + d)))


def _road(draw: ImageDraw.ImageDraw, horizon: int, asphalt: Colour, line: Colour) -> None:
    draw.polygon([(330, horizon), (470, horizon), (WIDTH, HEIGHT), (0, HEIGHT)], fill=asphalt)
    for i in range(6):  # dashed centre line, in perspective
        t0, t1 = (i / 6) ** 1.6, ((i + 0.5) / 6) ** 1.6
        y0, y1 = horizon + (HEIGHT - horizon) * t0, horizon + (HEIGHT - horizon) * t1
        w0, w1 = 1 + 7 * t0, 1 + 7 * t1
        draw.polygon([(400 - w0, y0), (400 + w0, y0), (400 + w1, y1), (400 - w1, y1)], fill=line)


def _buildings(
    draw: ImageDraw.ImageDraw,
    horizon: int,
    palette: list[Colour],
    seed: int,
    windows: Colour | None = None,
) -> None:
    rng = random.Random(seed)
    draw.rectangle((0, horizon, WIDTH, horizon + 40), fill=palette[0])  # the street's far end
    for side in (0, 1):
        x = 0 if side == 0 else 470
        end = 330 if side == 0 else WIDTH
        while x < end:
            w = rng.randint(50, 95)
            h = rng.randint(90, 200)
            colour = rng.choice(palette)
            draw.rectangle((x, horizon - h, min(x + w, end), horizon + 40), fill=colour)
            if windows is not None:
                for wy in range(horizon - h + 14, horizon + 20, 28):
                    for wx in range(x + 8, min(x + w, end) - 12, 22):
                        if rng.random() < 0.55:
                            draw.rectangle((wx, wy, wx + 10, wy + 14), fill=windows)
            x += w + rng.randint(0, 6)


def _pothole() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    _vertical_gradient(draw, (0, 0, WIDTH, 260), (150, 190, 225), (215, 228, 236))
    _buildings(
        draw,
        260,
        [(214, 196, 160), (196, 170, 140), (230, 220, 200), (180, 160, 150)],
        3,
        windows=(120, 140, 160),
    )
    draw.rectangle((0, 290, WIDTH, HEIGHT), fill=(150, 150, 146))  # pavement
    _road(draw, 260, (88, 88, 92), (236, 236, 228))
    _texture(image, (0, 300, WIDTH, HEIGHT), 11, 14)
    # The pothole: a broken rim, a dark hole, muddy water reflecting the sky.
    draw.ellipse((250, 420, 560, 540), fill=(120, 110, 96))
    draw.ellipse((268, 432, 542, 530), fill=(44, 40, 36))
    draw.ellipse((300, 455, 500, 515), fill=(92, 104, 110))
    draw.ellipse((330, 465, 430, 495), fill=(140, 160, 172))
    rng = random.Random(5)
    for _ in range(14):  # cracks running out from the rim
        x, y = rng.randint(270, 540), rng.choice((428, 530))
        points = [(x, y)]
        for _ in range(4):
            x += rng.randint(-28, 28)
            y += rng.randint(-18, 18) + (-8 if y < 480 else 8)
            points.append((x, y))
        draw.line(points, fill=(40, 40, 42), width=2)
    # A traffic cone someone put there.
    draw.polygon([(610, 520), (640, 420), (670, 520)], fill=(236, 110, 30))
    draw.rectangle((632, 455, 648, 470), fill=(245, 245, 240))
    draw.rectangle((596, 516, 684, 530), fill=(40, 40, 40))
    return image


def _dark_street() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    _vertical_gradient(draw, (0, 0, WIDTH, 280), (8, 12, 30), (30, 34, 60))
    _buildings(draw, 280, [(22, 24, 34), (28, 30, 40), (18, 20, 28)], 9, windows=(70, 64, 40))
    draw.rectangle((0, 310, WIDTH, HEIGHT), fill=(26, 26, 30))
    _road(draw, 280, (20, 20, 24), (70, 70, 64))
    _texture(image, (0, 320, WIDTH, HEIGHT), 13, 6)
    glow = Image.new("RGB", (WIDTH, HEIGHT), (0, 0, 0))
    glow_draw = ImageDraw.Draw(glow)
    for x, lit in ((90, True), (250, False), (560, False), (720, True)):
        top = 150 if x in (90, 720) else 210
        draw.rectangle((x - 4, top, x + 4, 560), fill=(60, 62, 66))
        draw.line((x, top, x + (30 if x < 400 else -30), top - 10), fill=(60, 62, 66), width=6)
        head = x + (30 if x < 400 else -30)
        draw.ellipse(
            (head - 16, top - 18, head + 16, top - 2), fill=(255, 230, 150) if lit else (48, 50, 56)
        )
        if lit:
            glow_draw.polygon(
                [(head - 14, top), (head + 14, top), (head + 110, 600), (head - 110, 600)],
                fill=(70, 60, 30),
            )
    glow = glow.filter(ImageFilter.GaussianBlur(24))
    return ImageChops.add(image, glow)


def _rubbish() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 330), fill=(206, 190, 150))  # a yellow Hanoi wall
    for y in range(40, 330, 46):
        draw.line((0, y, WIDTH, y), fill=(190, 172, 132), width=2)
    draw.rectangle((520, 60, 700, 300), fill=(90, 110, 90))  # a shuttered door
    for y in range(70, 300, 12):
        draw.line((525, y, 695, y), fill=(74, 92, 74), width=3)
    draw.rectangle((0, 330, WIDTH, HEIGHT), fill=(168, 160, 150))  # pavement tiles
    for x in range(0, WIDTH, 80):
        draw.line((x, 330, x - 60, HEIGHT), fill=(150, 142, 132), width=2)
    for y in (380, 450, 530):
        draw.line((0, y, WIDTH, y), fill=(150, 142, 132), width=2)
    _texture(image, (0, 330, WIDTH, HEIGHT), 17, 10)
    rng = random.Random(21)
    bags = [
        (40, 40, 40),
        (30, 30, 34),
        (60, 120, 70),
        (200, 60, 60),
        (230, 230, 225),
        (50, 90, 160),
        (230, 190, 40),
    ]
    for _ in range(42):  # the pile: bags heaped against the wall, bigger at the bottom
        cx = rng.gauss(300, 110)
        cy = rng.uniform(300, 520)
        r = rng.uniform(26, 52) * (0.6 + (cy - 300) / 450)
        colour = rng.choice(bags)
        draw.ellipse(
            (cx - r, cy - r * 0.8, cx + r, cy + r * 0.8),
            fill=colour,
            outline=tuple(max(0, c - 30) for c in colour),
        )
        draw.line((cx - 4, cy - r * 0.8, cx + 6, cy - r * 0.8 - 10), fill=colour, width=4)
    for _ in range(5):  # flattened boxes
        bx, by = rng.uniform(420, 620), rng.uniform(470, 560)
        draw.polygon(
            [(bx, by), (bx + 70, by - 12), (bx + 84, by + 24), (bx + 12, by + 34)],
            fill=(170, 130, 80),
            outline=(130, 96, 56),
        )
    return image


def _flood() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    _vertical_gradient(draw, (0, 0, WIDTH, 250), (120, 130, 140), (170, 176, 180))
    _buildings(
        draw, 250, [(150, 140, 130), (130, 128, 120), (170, 160, 140)], 4, windows=(90, 100, 110)
    )
    _vertical_gradient(draw, (0, 280, WIDTH, HEIGHT), (110, 104, 84), (84, 78, 60))  # water
    rng = random.Random(8)
    for _ in range(60):  # ripples
        x, y = rng.uniform(0, WIDTH), rng.uniform(300, HEIGHT)
        w = rng.uniform(20, 80) * (y / HEIGHT)
        draw.arc((x - w, y - 4, x + w, y + 4), 200, 340, fill=(150, 146, 124), width=2)
    # A drain grate at the kerb, choked with leaves and plastic.
    draw.rectangle((560, 470, 760, 540), fill=(50, 50, 48))
    for x in range(572, 752, 16):
        draw.rectangle((x, 478, x + 8, 532), fill=(28, 28, 26))
    for _ in range(40):
        x, y = rng.uniform(555, 765), rng.uniform(462, 548)
        draw.ellipse(
            (x - 7, y - 4, x + 7, y + 4),
            fill=rng.choice([(120, 140, 50), (160, 120, 40), (230, 230, 230)]),
        )
    # A motorbike wading through: wheels half under water.
    draw.rectangle((180, 380, 330, 420), fill=(160, 30, 30))
    draw.ellipse((160, 400, 230, 470), outline=(20, 20, 20), width=10)
    draw.ellipse((290, 400, 360, 470), outline=(20, 20, 20), width=10)
    draw.rectangle((150, 440, 380, 480), fill=(100, 96, 76))
    draw.rectangle((240, 300, 270, 380), fill=(40, 60, 120))  # rider
    draw.ellipse((238, 270, 272, 304), fill=(230, 200, 60))  # helmet
    return image


_DRAWINGS: tuple[tuple[str, str, str, Callable[[], Image.Image]], ...] = (
    ("pothole", "Ổ gà trên đường", "Pothole in the road", _pothole),
    ("dark-street", "Đèn đường hỏng", "Street lights out", _dark_street),
    ("rubbish", "Rác thải trên vỉa hè", "Rubbish on the pavement", _rubbish),
    ("flood", "Ngập, cống tắc", "Flooded street, blocked drain", _flood),
)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


@cache
def samples() -> tuple[Sample, ...]:
    """Every sample photo, drawn once per process."""
    return tuple(Sample(name, vi, en, _jpeg(draw())) for name, vi, en, draw in _DRAWINGS)


def sample(name: str) -> Sample | None:
    return next((s for s in samples() if s.name == name), None)

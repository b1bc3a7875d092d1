"""The image (Dockerfile): every server the bot runs must be reachable from outside its
container, where 127.0.0.1, the settings' default, is the container alone; and what it writes
(matplotlib's cache too) has a place its user may write."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def image_env() -> dict[str, str]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.+)$", text, re.MULTILINE):
        env.update(re.findall(r'(\w+)="?([^"\s]*)"?', line))
    return env


def test_every_server_of_the_bot_listens_on_the_containers_interfaces() -> None:
    env = image_env()
    exposed = {
        int(port)
        for line in re.findall(r"^EXPOSE (.+)$", DOCKERFILE.read_text(), re.MULTILINE)
        for port in line.split()
    }
    hosts = [name for name in Settings.model_fields if name.endswith("_host")]
    assert hosts, "the settings name no server address"
    for host in hosts:
        assert env.get(host.upper()) == "0.0.0.0", f"the image leaves {host.upper()} at 127.0.0.1"
        port = Settings.model_fields[host.removesuffix("_host") + "_port"].default
        assert port in exposed, f"the image does not expose {host.upper()}'s port {port}"


def compose_service(name: str) -> str:
    compose = (ROOT / "docker-compose.yml").read_text()
    return compose.split(f"\n  {name}:\n", 1)[1].split("\n\n", 1)[0]


def test_the_bot_container_stops_when_told_even_while_starting() -> None:
    """Python as PID 1 ignores SIGTERM until a handler is set: an init must be PID 1."""
    assert re.search(r"^    init: true$", compose_service("bot"), re.MULTILINE)


def test_postgres_is_healthy_only_once_it_serves_over_tcp() -> None:
    """The image's first start initialises the database on a server bound to its socket only:
    pg_isready on the socket said "ready" before the server the bot connects to was up."""
    check = re.search(r"test: \[(.*)\]", compose_service("postgres"))
    assert check and '"pg_isready", "-h", "127.0.0.1"' in check.group(1)


def test_the_image_gives_matplotlib_a_place_to_keep_its_cache() -> None:
    """The image's user has no home (/nonexistent) and no MPLCONFIGDIR: each process's first
    /stats chart logs matplotlib's "created a temporary cache directory ... it is highly
    recommended to set the MPLCONFIGDIR environment variable" and rebuilds its font cache in
    /tmp (every worker, every restart). The image should set MPLCONFIGDIR to a directory the
    bot can write (under /data, or made at build time). Now /tmp/matplotlib, made at build
    time with the font cache in it and given to the bot's user."""
    env = image_env()
    assert env.get("MPLCONFIGDIR", "").startswith("/tmp/"), env
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    assert re.search(
        r'^RUN mkdir .*"\$MPLCONFIGDIR".*chown -R phananh:phananh .*"\$MPLCONFIGDIR"',
        text,
        re.MULTILINE,
    ), "MPLCONFIGDIR is not made for the bot's user"

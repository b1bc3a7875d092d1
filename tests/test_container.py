"""The image (Dockerfile): every server the bot runs must be reachable from outside its
container, where 127.0.0.1, the settings' default, is the container alone."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings

DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile"


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

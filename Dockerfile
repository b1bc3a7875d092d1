# Phản ánh: container image for the Telegram bot.
#
#   docker build -t phan-anh .
#   docker run -e BOT_TOKEN=... -v phananh-data:/data phan-anh
#
# With PostgreSQL and Redis: docker compose up (docker-compose.yml).
#
# Two stages: the first installs the project and its dependencies into a virtual
# environment; the second copies only that environment onto a clean base, so the
# image carries no source tree, build caches or build-only tools.

# ---------------------------------------------------------------------------
# Stage 1: build and install into /opt/venv
# ---------------------------------------------------------------------------
# The same base image as the runtime stage: the venv's interpreter is a symlink to
# /usr/local/bin/python3.11, and compiled wheels (pillow, shapely, asyncpg) must
# match the runtime's Python and C library, so both stages must agree.
FROM python:3.11-slim AS builder

# No .pyc files from pip itself in the layer, and no "new pip available" notices.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A virtual environment at a fixed path can be copied whole into the next stage;
# putting it first on PATH makes `pip` and `python` below refer to it.
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

WORKDIR /src

# Only what the build needs. pyproject.toml names README.md as the readme and the
# licence travels with the package metadata; the package directories are those
# listed under [tool.setuptools] packages, with their data files (locales/*.toml,
# data/*.json, data/*.geojson, data/README.md).
COPY pyproject.toml README.md LICENSE ./
COPY bot/ bot/
COPY domain/ domain/
COPY handlers/ handlers/
COPY storage/ storage/
COPY locales/ locales/
COPY data/ data/

# A regular (not editable) install: pip builds a wheel of the project with the
# setuptools backend and installs it, with every dependency, into the venv's
# site-packages, so the venv alone is enough at run time. --no-cache-dir keeps
# pip's download cache out of the layer.
RUN pip install --no-cache-dir .

# ---------------------------------------------------------------------------
# Stage 2: runtime
# ---------------------------------------------------------------------------
FROM python:3.11-slim

# An unprivileged user with a fixed uid/gid, so files it writes into a mounted
# volume have a predictable owner on the host. No home directory and no login
# shell: it only runs the bot. --no-log-init avoids writing lastlog/faillog
# entries for the user (large sparse files for high uids).
RUN groupadd --gid 10001 phananh \
 && useradd --uid 10001 --gid phananh --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin --no-log-init phananh

# The installed application and all its dependencies, owned by root so the bot
# cannot modify its own code.
COPY --from=builder /opt/venv /opt/venv

# PATH: `python` is the venv's interpreter, which sees the installed packages.
# PYTHONUNBUFFERED: log lines reach `docker logs` at once, not when a buffer fills.
# PYTHONDONTWRITEBYTECODE: pip already compiled the .pyc files; the bot cannot
#   write into /opt/venv anyway, so don't let Python try.
# DATA_DIR: where the bot keeps its SQLite database, stored photos and imported
#   boundaries (read by bot/settings.py); it is the volume declared below.
# METRICS_HOST: /healthz and /metrics (polling mode, METRICS_PORT 9090) listen on every
#   interface of the container; 127.0.0.1 would be the container alone. Nothing is
#   reachable from outside unless the port is published (docker-compose.yml: host loopback).
# PLAYGROUND_HOST: the same for the local playground page that runs without BOT_TOKEN
#   (PLAYGROUND_PORT 8080): `docker run -p 127.0.0.1:8080:8080 IMAGE` opens it on the host.
# WEBHOOK_HOST: the same for the webhook server (with WEBHOOK_URL, WEBHOOK_PORT 8443), which
#   the TLS proxy in front of the container must reach; /healthz and /metrics are on it then.
# MPLCONFIGDIR: matplotlib's cache (the /stats charts). The user has no home (/nonexistent):
#   without it each process's first chart warned "created a temporary cache directory" and
#   rebuilt the font cache. The directory is made, and the font cache built, below; it is the
#   bot's to write, outside DATA_DIR (a cache, not data to back up).
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/data \
    METRICS_HOST=0.0.0.0 \
    PLAYGROUND_HOST=0.0.0.0 \
    WEBHOOK_HOST=0.0.0.0 \
    MPLCONFIGDIR=/tmp/matplotlib

# Fail the build, rather than the first report, if the install is incomplete:
# the Hanoi time zone must resolve (deadlines and dates are shown in it; the slim
# base ships Debian's tzdata) and the entry point must import with the handlers,
# storage and domain packages it pulls in.
RUN python -c "import zoneinfo; zoneinfo.ZoneInfo('Asia/Ho_Chi_Minh'); import bot.__main__, bot.run"

# The data directory must exist and belong to the bot's user *before* VOLUME is
# declared: a new named volume is initialised from the image's directory,
# ownership included, and changes made to a path after it is declared a volume
# are discarded. /app is made here too, as root: left to WORKDIR, buildah (podman
# build) creates it when the image is saved, owned by the final USER. matplotlib's cache
# directory (MPLCONFIGDIR) is made with its font cache already built, and given to the user.
RUN mkdir /data /app "$MPLCONFIGDIR" \
 && python -c "import matplotlib.font_manager" \
 && chown -R phananh:phananh /data "$MPLCONFIGDIR"
VOLUME /data

# The working directory holds nothing and stays root-owned: the code lives in the
# venv and everything the bot writes goes to DATA_DIR. Settings also read an
# optional .env from here; in a container pass configuration with -e/--env-file.
WORKDIR /app

USER 10001:10001

# /healthz and /metrics in polling mode (METRICS_PORT); the playground without a token; the
# webhook (and /healthz and /metrics with it) with WEBHOOK_URL.
EXPOSE 9090 8080 8443

# With BOT_TOKEN set the bot polls Telegram; see `python -m bot --help`.
CMD ["python", "-m", "bot"]

#!/usr/bin/env bash
# Build the Dockerfile and check the image it makes: a non-root user, code it cannot change,
# a data volume it owns, the entry point runs, and without BOT_TOKEN the local playground
# answers over HTTP and stops cleanly on SIGTERM.
#
#   scripts/check-image.sh                 # with docker, or podman where there is no engine
#   scripts/check-image.sh --stand-in-base # no registry for python:3.11-slim: see below
#
# --stand-in-base (podman, as root, needs debootstrap): where Docker Hub cannot be reached,
# make a stand-in for python:3.11-slim from Debian bookworm (its python3.11, linked into
# /usr/local/bin as in the official image) and tag it with that name, so that the Dockerfile
# builds unchanged. The official image differs (its own Python build in /usr/local): a pass
# here says the Dockerfile is right, not that the official base behaves the same.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=localhost/phan-anh:check
BASE=docker.io/library/python:3.11-slim

if docker info >/dev/null 2>&1; then
  engine=docker
  build=(docker build)
elif command -v podman >/dev/null 2>&1; then
  engine=podman
  build=(podman build --format docker --network host)
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    # Where PyPI is reached through a proxy with its own certificate: the build's pip trusts
    # the host's CA bundle (mounted for the build only, not stored in the image).
    build+=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
  fi
else
  echo "check-image: neither a Docker engine nor podman here (apt-get install podman)" >&2
  exit 2
fi

if [ "${1:-}" = "--stand-in-base" ]; then
  [ "$engine" = podman ] || { echo "check-image: --stand-in-base is for podman" >&2; exit 2; }
  if ! podman image exists "$BASE"; then
    root=$(mktemp -d /tmp/phananh-base.XXXXXX)
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian
    mount -t proc proc "$root/proc"
    chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install \
      -y -qq --no-install-recommends python3.11 python3.11-venv tzdata ca-certificates \
      && for n in python python3 python3.11; do ln -sf /usr/bin/python3.11 /usr/local/bin/$n; done \
      && apt-get clean && rm -rf /var/lib/apt/lists/*'
    umount "$root/proc"
    tar -C "$root" --numeric-owner -c . \
      | podman import --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' - "$BASE"
    rm -rf "$root"
  fi
  build+=(--pull=never)
fi

started=$(date +%s)
"${build[@]}" -t "$IMAGE" .
echo "built $IMAGE in $(($(date +%s) - started)) s"

run() { "$engine" run --rm "$IMAGE" "$@"; }
fail() { echo "check-image: FAILED: $*" >&2; exit 1; }

user=$("$engine" image inspect "$IMAGE" --format '{{.Config.User}}')
[ "$user" = "10001:10001" ] || fail "the image's user is '$user', not 10001:10001"
run id -u | grep -qx 10001 || fail "the bot does not run as uid 10001"
run sh -c 'stat -c %u /data' | grep -qx 10001 || fail "/data does not belong to the bot's user"
run sh -c 'stat -c %u /app /opt/venv' | grep -qvx 0 && fail "/app or /opt/venv not root-owned"
run sh -c 'touch /opt/venv/lib/python3.11/site-packages/bot/x' 2>/dev/null \
  && fail "the bot can change its own code"
run python -m bot --help | grep -q "usage: python -m bot" || fail "python -m bot --help"
echo "user 10001, /data its own, code read-only, python -m bot runs"

# No token: the local playground. It listens on every interface of the container
# (PLAYGROUND_HOST=0.0.0.0); the host's network reaches it here without publishing a port.
name=phananh-check-$$
"$engine" run -d --rm --name "$name" --network host "$IMAGE" >/dev/null
trap '"$engine" rm -f "$name" >/dev/null 2>&1 || true' EXIT
for _ in $(seq 60); do
  curl -fsS http://127.0.0.1:8080/ 2>/dev/null | grep -q "<title>" && break
  sleep 1
done
curl -fsS http://127.0.0.1:8080/ | grep -q "<title>" || fail "the playground did not answer"
started=$(date +%s)
"$engine" stop -t 20 "$name" >/dev/null
echo "the playground answered on :8080 and stopped on SIGTERM in $(($(date +%s) - started)) s"
echo "check-image: all checks passed"

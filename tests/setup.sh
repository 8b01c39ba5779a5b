#!/usr/bin/env bash
# Installs what the system interop tests (tests/system, tests/jaxws) need on a Debian machine, idempotently:
# the JAX-WS tools (wsimport) and a JDK (javac) from Debian, and a Python venv at .venv/ with tests/requirements.txt.
# It runs `apt-get update` only when a package is missing and `pip install` only when requirements.txt changed.
# When npm is on PATH it also installs tests/node's pinned node `soap` (optional: that test skips without Node.js).
# It does not build CineFlix: the tests take the binaries from $CINEFLIX_BIN (default target/release).
set -euo pipefail
trap 'echo "tests/setup.sh: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

cd "$(dirname "$0")/.."

missing=()
command -v wsimport >/dev/null 2>&1 || missing+=(jaxws)
dpkg-query -W -f='${Status}' libjaxws-java 2>/dev/null | grep -q "install ok installed" || missing+=(libjaxws-java)
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
python=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1; then python="$(command -v "$candidate")"; break; fi
done
[ -n "$python" ] || missing+=(python3)
if [ -z "$python" ] || ! "$python" -c "import venv, ensurepip" >/dev/null 2>&1; then missing+=(python3-venv); fi

if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "tests/setup.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "tests/setup.sh: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -n "$python" ] || python="$(command -v python3)"
fi
command -v wsimport >/dev/null && command -v javac >/dev/null && command -v java >/dev/null

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
requirements_hash="$(sha256sum tests/requirements.txt | cut -d' ' -f1)"
stamp=.venv/.cineflix-requirements.sha256
if [ "$(cat "$stamp" 2>/dev/null)" != "$requirements_hash" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -r tests/requirements.txt
  echo "$requirements_hash" > "$stamp"
fi

if command -v npm >/dev/null 2>&1; then
  lock_hash="$(sha256sum tests/node/package-lock.json | cut -d' ' -f1)"
  node_stamp=tests/node/node_modules/.cineflix-lock.sha256
  if [ "$(cat "$node_stamp" 2>/dev/null)" != "$lock_hash" ]; then
    (cd tests/node && npm ci --no-audit --no-fund --silent >/dev/null)
    echo "$lock_hash" > "$node_stamp"
  fi
fi

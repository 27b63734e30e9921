#!/usr/bin/env bash
# Installs everything gantry needs on a fresh Debian 12 machine. Idempotent:
# re-running it only installs what is missing. Run as root (or with sudo).
#
#   scripts/setup.sh          build and run dependencies (Debian packages)
#   scripts/setup.sh --dev    also the test clients: .venv (PyPI) and node_modules (npm)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
dev=0
[ "${1:-}" = "--dev" ] && dev=1

apt_packages=(
  build-essential cmake ninja-build pkg-config ccache git ca-certificates
  libboost1.81-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev
  libfmt-dev libcli11-dev libzip-dev libutf8proc-dev python3 python3-venv
  libsqlite3-dev libhnswlib-dev libpoppler-cpp-dev libgumbo-dev libcmark-dev libxxhash-dev
  libre2-dev
)
if ((dev)); then
  apt_packages+=(libgtest-dev libgmock-dev clang-format wrk curl openssl nodejs npm)
fi

missing=()
for p in "${apt_packages[@]}"; do
  # nodejs/npm may come from elsewhere on the machine; only install when absent.
  if [ "$p" = nodejs ] && command -v node >/dev/null; then continue; fi
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages present"
fi

if ((dev)); then
  # Python test clients, in a project-local venv; re-installed when requirements change.
  stamp=.venv/.requirements.sha256
  want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
  if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: creating .venv (openai, pytest, httpx)"
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
    echo "$want" > "$stamp"
  else
    echo "setup: .venv up to date"
  fi
  # Node test client (the official openai SDK), from the committed lock file.
  nstamp=tests/clients/node/node_modules/.lock.sha256
  nwant=$(sha256sum tests/clients/node/package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$nstamp" 2>/dev/null)" != "$nwant" ]; then
    echo "setup: installing tests/clients/node/node_modules"
    (cd tests/clients/node && npm ci --no-audit --no-fund --loglevel=error)
    echo "$nwant" > "$nstamp"
  else
    echo "setup: node_modules up to date"
  fi
fi

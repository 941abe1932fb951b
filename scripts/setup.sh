#!/usr/bin/env bash
# Installs what tickertape needs to build (`setup.sh build`), also to test
# (`setup.sh test`) or to run a local cluster (`setup.sh cluster`), skipping
# whatever is already there. Safe to run again, and
# once everything is installed it needs no network.
set -euo pipefail

cd "$(dirname "$0")/.."
mode="${1:-build}"

CARGO_LEPTOS_VERSION="0.3.10"   # 0.3.11 needs rustc 1.96
# wasm-bindgen's CLI must match the library version in Cargo.lock exactly.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif have sudo; then sudo "$@"; else
  echo "error: '$*' needs root (no sudo found); run it as root, then run this again" >&2; exit 1; fi; }
# npm ci only when node_modules is missing or older than the lock file.
npm_ci() {
  local dir="$1"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    step "Installing npm packages in $dir/"
    (cd "$dir" && npm ci --no-audit --no-fund)
  fi
}

if ! have cargo; then
  echo "error: cargo is not installed; tickertape needs a Rust toolchain (rustc 1.95)" >&2
  exit 1
fi
if ! have npm; then
  echo "error: npm is not installed; it provides wasm-opt and Playwright" >&2
  exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "Adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION\$"; then
  step "Building cargo-leptos $CARGO_LEPTOS_VERSION from source (about 17 minutes on 2 cores, once)"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  step "Building wasm-bindgen-cli $WASM_BINDGEN_VERSION from source (about 3 minutes, once)"
  # Without --locked: with it, this version fails on a missing webpki-roots.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# wasm-opt for release builds comes from npm's binaryen (the Makefile puts
# tools/node_modules/.bin on PATH). Debian's binaryen 108 produces WASM that
# fails at hydration, so it must never be the one found.
npm_ci tools

# Debian's package $2 unless $1 is there.
apt_install() {
  if ! [ -x "$1" ]; then
    step "Installing Debian's $2 ($3)"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2"
  fi
}

if [ "$mode" = cluster ]; then
  apt_install /usr/bin/redis-server redis-server "the cluster's broker"
  apt_install /usr/sbin/nginx nginx "the cluster's proxy"
fi

if [ "$mode" = test ]; then
  if ! [ -x /usr/bin/chromium ]; then
    step "Installing Debian's chromium for the browser tests"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
  fi
  # The proxy tests run the documented configurations in Debian's nginx, the
  # cluster tests Debian's redis-server (Redis 7), both on loopback.
  apt_install /usr/sbin/nginx nginx "for the proxy tests"
  apt_install /usr/bin/redis-server redis-server "for the cluster tests"
  # The interoperability suite's clients: npm's eventsource and undici (in
  # end2end/), Python's aiohttp and httpx-sse (a venv from PyPI), curl.
  apt_install /usr/bin/curl curl "for the interoperability tests"
  npm_ci end2end
  venv=end2end/interop/.venv
  if [ ! -f "$venv/installed" ] || [ end2end/interop/requirements.txt -nt "$venv/installed" ]; then
    step "Installing the Python clients of the interoperability tests in $venv/"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      as_root apt-get update
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
      python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r end2end/interop/requirements.txt
    touch "$venv/installed"
  fi
fi

step "Tools ready: $(cargo leptos --version), $(wasm-bindgen --version), $(wasm-opt --version)"

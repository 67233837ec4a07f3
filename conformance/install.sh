#!/usr/bin/env bash
# Installs the third-party bot libraries of the conformance suite:
#   Python: conformance/.venv from requirements.txt (+ constraints.txt), with moto's S3 server
#           (moto_server) for the backup test and schemathesis for the REST API's fuzz test
#   JS:     conformance/js/node_modules from package-lock.json (npm ci), with playwright-core
#           for the web chat's and the dashboard's browser tests, axe-core for the latter, and
#           @dwmkerr/mock-llm, the OpenAI-compatible mock server the ai-assistant is run against
#           (crates/ferrogram/tests/run_sandbox_mock_llm.rs)
#   Chromium for that test: Debian's package, when it is missing and this runs as root with
#           apt-get (elsewhere the test says it is skipped; CHROMIUM=/path picks another browser)
#   Prometheus for the dashboard's test (crates/ferrogram/tests/serve_metrics.rs, which runs
#           it on the metrics of `serve`): Debian's package, likewise (PROMETHEUS=/path picks another)
#   qbittorrent-nox and transmission-daemon for media-desk's tests against the real daemons
#           (crates/engine/tests/torrent_daemons.rs, which starts its own on 127.0.0.1):
#           Debian's packages, likewise (QBITTORRENT=/path, TRANSMISSION=/path pick others)
# Idempotent: each half is skipped when a stamp says the same lock was already installed and
# the libraries still load. Called by .ci/run; run it by hand after changing a pin.
# Env: PYTHON (default python3) picks the interpreter the venv is made from.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

say() { printf 'conformance/install.sh: %s\n' "$*"; }
die() { printf 'conformance/install.sh: error: %s\n' "$*" >&2; exit 1; }
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# ---- Python -----------------------------------------------------------------------------------
python="${PYTHON:-python3}"
command -v "$python" >/dev/null || die "$python not found"
venv="$here/.venv"
py_stamp="$venv/.ferrogram-stamp"
# Finds the modules without importing them (aiogram's import alone takes seconds).
py_check='import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ("telegram", "aiogram", "telebot", "moto", "schemathesis")))'
py_want="$(hash_of requirements.txt constraints.txt) $("$python" -c 'import sys; print(sys.version.split()[0])')"

if [[ -f "$py_stamp" && "$(cat "$py_stamp")" == "$py_want" ]] \
    && "$venv/bin/python" -c "$py_check" 2>/dev/null; then
    say "python libraries up to date"
else
    say "installing python libraries into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv" \
        || die "'$python -m venv' failed (on Debian: apt-get install python3-venv)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        -r requirements.txt -c constraints.txt
    "$venv/bin/python" -c 'import telegram, aiogram, telebot, moto.server, schemathesis'
    [[ -x "$venv/bin/moto_server" ]] || die "moto_server missing from $venv/bin after installing moto[server]"
    [[ -x "$venv/bin/schemathesis" ]] || die "schemathesis missing from $venv/bin after installing it"
    printf '%s\n' "$py_want" > "$py_stamp"
fi

# ---- JS ---------------------------------------------------------------------------------------
command -v node >/dev/null || die "node not found (on Debian: apt-get install nodejs npm)"
command -v npm >/dev/null || die "npm not found (on Debian: apt-get install npm)"
js="$here/js"
js_stamp="$js/node_modules/.ferrogram-stamp"
js_want="$(hash_of "$js/package.json" "$js/package-lock.json") $(node --version)"

if [[ -f "$js_stamp" && "$(cat "$js_stamp")" == "$js_want" ]] \
    && [[ -f "$js/node_modules/grammy/package.json" && -f "$js/node_modules/telegraf/package.json" && -f "$js/node_modules/telegram-test-api/package.json" \
    && -f "$js/node_modules/playwright-core/package.json" && -f "$js/node_modules/axe-core/package.json" \
    && -f "$js/node_modules/@dwmkerr/mock-llm/dist/main.js" ]]; then
    say "js libraries up to date"
else
    say "installing js libraries into $js/node_modules"
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
    (cd "$js" && node -e 'import("grammy").then(() => import("telegraf"))')
    printf '%s\n' "$js_want" > "$js_stamp"
fi

# ---- Chromium ---------------------------------------------------------------------------------
if [[ -n "${CHROMIUM:-}" ]] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
    say "chromium present"
elif [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    say "installing chromium (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends chromium >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null; } \
        || die "apt-get install chromium failed"
else
    say "no chromium and no root apt-get: the web chat's and the dashboard's browser tests will be skipped"
fi

# ---- Prometheus -------------------------------------------------------------------------------
if [[ -n "${PROMETHEUS:-}" ]] || command -v prometheus >/dev/null; then
    say "prometheus present"
elif [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    say "installing prometheus (Debian package; the test runs its own, not the service)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends prometheus >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends prometheus >/dev/null; } \
        || die "apt-get install prometheus failed"
else
    say "no prometheus and no root apt-get: the dashboard's Prometheus check will be skipped"
fi

# ---- qBittorrent and Transmission -------------------------------------------------------------
for daemon in qbittorrent-nox:QBITTORRENT transmission-daemon:TRANSMISSION; do
    package="${daemon%%:*}" override="${daemon##*:}"
    if [[ -n "${!override:-}" ]] || command -v "$package" >/dev/null; then
        say "$package present"
    elif [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        say "installing $package (Debian package; the tests run their own, not the service)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q --no-install-recommends "$package" >/dev/null \
            || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "$package" >/dev/null; } \
            || die "apt-get install $package failed"
    else
        say "no $package and no root apt-get: media-desk's tests against it will be skipped"
    fi
done

say "ok"

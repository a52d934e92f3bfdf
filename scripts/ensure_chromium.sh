#!/usr/bin/env bash
# Make sure a Chromium the browser tests can drive is installed (Debian's build at /usr/bin/chromium).
# Installs it with apt only when it is missing and we are root; otherwise says why not and exits 0, so
# `make` carries on and the browser tests skip with their own reason (or fail under CI=true).
set -euo pipefail

CHROMIUM="${LECTERN_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo present) at $CHROMIUM"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "chromium: missing at $CHROMIUM and not root, so not installing it (run: sudo apt-get install -y chromium)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium: missing at $CHROMIUM and apt-get is not available; install Chromium with your package manager"
    exit 0
fi
echo "chromium: installing Debian's chromium with apt-get (about 20 s)"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends chromium >/tmp/lectern-chromium-install.log 2>&1; then
    # A fresh machine may have no package lists yet.
    apt-get update -qq >>/tmp/lectern-chromium-install.log 2>&1 || true
    if ! apt-get install -y --no-install-recommends chromium >>/tmp/lectern-chromium-install.log 2>&1; then
        echo "chromium: apt-get install failed; see /tmp/lectern-chromium-install.log"
        exit 0
    fi
fi
echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo installed) at $CHROMIUM"

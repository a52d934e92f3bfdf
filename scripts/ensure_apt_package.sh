#!/usr/bin/env bash
# ensure_apt_package.sh PACKAGE BINARY: make sure a Debian package's program is installed.
# Installs PACKAGE with apt only when BINARY is missing and we are root; otherwise says why not and exits 0,
# so `make` carries on and whatever needs the program skips or fails with its own reason (the browser tests
# fail under CI=true; the API benchmark stops with a message).
# Used for Chromium (browser tests) and wrk (the API benchmark's load generator).
set -euo pipefail

PACKAGE="$1"
BINARY="$2"
LOG="/tmp/lectern-$PACKAGE-install.log"

if [ -x "$BINARY" ]; then
    echo "$PACKAGE: present at $BINARY"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "$PACKAGE: missing at $BINARY and not root, so not installing it (run: sudo apt-get install -y $PACKAGE)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "$PACKAGE: missing at $BINARY and apt-get is not available; install $PACKAGE with your package manager"
    exit 0
fi
echo "$PACKAGE: installing Debian's $PACKAGE with apt-get"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "$PACKAGE" >"$LOG" 2>&1; then
    # A fresh machine may have no package lists yet.
    apt-get update -qq >>"$LOG" 2>&1 || true
    if ! apt-get install -y --no-install-recommends "$PACKAGE" >>"$LOG" 2>&1; then
        echo "$PACKAGE: apt-get install failed; see $LOG"
        exit 0
    fi
fi
echo "$PACKAGE: installed at $BINARY"

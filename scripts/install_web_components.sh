#!/usr/bin/env bash
# Vendor Mux's web components for the dashboard: `npm ci` from dashboard/static/package-lock.json into
# var/web-components (outside the served folder, so node_modules is never published under /app/static),
# then copy the two standalone browser bundles (no bundler needed) into dashboard/static/vendor/.
# Idempotent: does nothing when the bundles already match the lock file.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/dashboard/static"
WORK="$ROOT/var/web-components"
VENDOR="$SRC/vendor"
STAMP="$VENDOR/.lock-sha256"

if ! command -v npm >/dev/null 2>&1; then
    echo "web components: npm not found; install Node.js 20+ (the dashboard's upload and player need it)" >&2
    exit 1
fi

lock_sum="$(sha256sum "$SRC/package-lock.json" | cut -d' ' -f1)"
if [ -f "$VENDOR/mux-player.mjs" ] && [ -f "$VENDOR/mux-uploader.mjs" ] && [ -f "$VENDOR/swagger-ui/swagger-ui-bundle.js" ] \
    && [ "$(cat "$STAMP" 2>/dev/null)" = "$lock_sum" ]; then
    echo "web components: up to date in dashboard/static/vendor/"
    exit 0
fi

mkdir -p "$WORK" "$VENDOR"
cp "$SRC/package.json" "$SRC/package-lock.json" "$WORK/"
# --ignore-scripts: the bundles are prebuilt; nothing needs to run at install time.
(cd "$WORK" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)

cp "$WORK/node_modules/@mux/mux-player/dist/mux-player.mjs" "$VENDOR/mux-player.mjs"
cp "$WORK/node_modules/@mux/mux-uploader/dist/mux-uploader.mjs" "$VENDOR/mux-uploader.mjs"
# Swagger UI for the API's /docs (api/docs_ui.py serves these), so the page works with no CDN.
mkdir -p "$VENDOR/swagger-ui"
for file in swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE; do
    cp "$WORK/node_modules/swagger-ui-dist/$file" "$VENDOR/swagger-ui/$file"
done
for pkg in mux-player mux-uploader; do
    cp "$WORK/node_modules/@mux/$pkg/LICENSE" "$VENDOR/$pkg.LICENSE" 2>/dev/null || true
done
echo "$lock_sum" >"$STAMP"
version() { node -p "JSON.parse(require('fs').readFileSync('$WORK/node_modules/@mux/$1/package.json')).version"; }
echo "web components: mux-player $(version mux-player), mux-uploader $(version mux-uploader) -> dashboard/static/vendor/"

#!/usr/bin/env bash
# Install the Mermaid CLI (mmdc) that renders the docs site's diagrams (hacking/docsite/diagrams.py) and checks the
# diagrams of the tests (tests/support/mermaid.py) with Mermaid's own parser and renderer:
#   hacking/mermaid/package.json and package-lock.json (exact versions and integrity hashes) -> npm ci into
#   .build/mermaid (make mermaid-cli). Stamp-guarded: an unchanged lockfile with an installed mmdc does nothing.
# Puppeteer's browser download is skipped (PUPPETEER_SKIP_DOWNLOAD, --ignore-scripts): the browser is Debian's
# chromium-headless-shell (or chromium), installed by hacking/system-deps.sh. Needs node (18.19 or later) and npm.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$REPO_ROOT/hacking/mermaid"
DEST="$REPO_ROOT/.build/mermaid"
STAMP="$DEST/.installed"

log() { echo "mermaid-cli: $*"; }

for tool in node npm; do
    command -v "$tool" >/dev/null 2>&1 || { log "$tool is not installed (Node.js 18.19 or later with npm; hacking/system-deps.sh)" >&2; exit 1; }
done
major="$(node -p 'process.versions.node.split(".")[0]')"
if [[ "$major" -lt 18 ]]; then
    log "Node.js $(node --version) is too old; @mermaid-js/mermaid-cli 11 needs 18.19 or later" >&2
    exit 1
fi

want="$(cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -d' ' -f1) node-$major"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" && -x "$DEST/node_modules/.bin/mmdc" ]]; then
    log "up to date ($DEST)"
else
    mkdir -p "$DEST"
    cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
    log "npm ci in $DEST"
    (cd "$DEST" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$want" >"$STAMP"
fi

browser=""
for candidate in "${MAILFLOW_CHROMIUM:-}" /usr/bin/chromium-headless-shell /usr/bin/chromium; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then
        browser="$candidate"
        break
    fi
done
if [[ -z "$browser" ]]; then
    log "no Chromium found (/usr/bin/chromium-headless-shell or /usr/bin/chromium); run hacking/system-deps.sh" >&2
    exit 1
fi
log "ok: $("$DEST/node_modules/.bin/mmdc" --version) with $browser"

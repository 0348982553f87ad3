#!/usr/bin/env bash
# Build the collection's HTML docsite into .build/docsite (make docsite), offline:
#   1. antsibull-docs sphinx-init makes the Sphinx project in .build/docsite-src (conf.py without intersphinx, see
#      conf_offline.py);
#   2. antsibull-docs collection renders the modules, roles, environment variables and the extra docs
#      (docs/docsite/extra-docs.yml: the guides, generated from docs/*.md) of the collection seen through
#      .build/collections (make collection);
#   3. hacking/docsite/diagrams.py renders the guides' Mermaid diagrams to SVG with the Mermaid CLI (make mermaid-cli,
#      Debian's Chromium), after checking that the demo world's diagram in the guides is the one the code draws now;
#   4. sphinx-build -W (any warning, e.g. a broken reference, fails) writes the HTML; open .build/docsite/index.html.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-$REPO_ROOT/.venv}"
SRC="$REPO_ROOT/.build/docsite-src"
OUT="$REPO_ROOT/.build/docsite"
HERE="$REPO_ROOT/hacking/docsite"
export ANSIBLE_COLLECTIONS_PATH="$REPO_ROOT/.build/collections"
export PATH="$VENV/bin:$PATH"

if [[ ! -e "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/m365/mailflow/galaxy.yml" ]]; then
    echo "docsite: $ANSIBLE_COLLECTIONS_PATH/ansible_collections/m365/mailflow missing; run 'make collection'" >&2
    exit 2
fi

rm -rf "$SRC" "$OUT"
mkdir -p "$SRC"
antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error --no-add-antsibull-docs-version \
    --project m365.mailflow --copyright "m365.mailflow contributors" --title "m365.mailflow" \
    --html-short-title "m365.mailflow" --dest-dir "$SRC" m365.mailflow >/dev/null
cat "$HERE/conf_offline.py" >>"$SRC/conf.py"

mkdir -p "$SRC/rst"
chmod og-w "$SRC/rst"  # antsibull-docs wants the directory writable by its owner only
antsibull-docs --config-file "$SRC/antsibull-docs.cfg" collection --cleanup everything --fail-on-error \
    --use-current --squash-hierarchy --dest-dir "$SRC/rst" m365.mailflow
cp "$HERE/ansible-references.rst" "$SRC/rst/"
"$VENV/bin/python" "$HERE/diagrams.py" render "$SRC/rst/docsite"

sphinx-build -b html -c "$SRC" -W --keep-going -q "$SRC/rst" "$OUT"
echo "docsite: $OUT/index.html ($(find "$OUT" -name '*.html' | wc -l) pages)"

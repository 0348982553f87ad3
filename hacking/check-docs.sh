#!/usr/bin/env bash
# Check that every module's and filter plugin's documentation renders with ansible-doc, that ansible-doc -l lists it
# and that the modules' attributes are complete (hacking/check-doc-attributes.py).
# Uses the collection through .build/collections (see `make collection`).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO_ROOT/.venv}"
ANSIBLE_DOC="$VENV/bin/ansible-doc"
export ANSIBLE_COLLECTIONS_PATH="$REPO_ROOT/.build/collections"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PAGER=cat

if [[ ! -e "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/m365/mailflow/galaxy.yml" ]]; then
    echo "check-docs: $ANSIBLE_COLLECTIONS_PATH/ansible_collections/m365/mailflow missing; run 'make collection'" >&2
    exit 2
fi

shopt -s nullglob
modules=()
for f in "$REPO_ROOT"/plugins/modules/*.py; do
    name="$(basename "$f" .py)"
    [[ "$name" == __init__ || "$name" == _* ]] && continue
    modules+=("$name")
done

status=0
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for name in "${modules[@]}"; do
    if "$ANSIBLE_DOC" -t module "m365.mailflow.$name" >"$out" 2>&1 && ! grep -q "ERROR" "$out"; then
        echo "check-docs: ok      m365.mailflow.$name"
    else
        echo "check-docs: FAILED  m365.mailflow.$name" >&2
        sed 's/^/    /' "$out" >&2
        status=1
    fi
done

if ! "$ANSIBLE_DOC" -t module -l m365.mailflow >"$out" 2>&1 || grep -q "ERROR" "$out"; then
    echo "check-docs: FAILED  ansible-doc -l m365.mailflow" >&2
    sed 's/^/    /' "$out" >&2
    status=1
fi
for name in "${modules[@]}"; do
    if ! grep -q "^m365\.mailflow\.${name}[[:space:]]" "$out"; then
        echo "check-docs: FAILED  ansible-doc -l m365.mailflow does not list m365.mailflow.$name" >&2
        status=1
    fi
done
if [[ $status -eq 0 ]]; then
    echo "check-docs: ansible-doc -l m365.mailflow lists all ${#modules[@]} module(s)"
fi

# Filter plugins: each renders and is listed.
for f in "$REPO_ROOT"/plugins/filter/*.py; do
    name="$(basename "$f" .py)"
    [[ "$name" == __init__ || "$name" == _* ]] && continue
    if "$ANSIBLE_DOC" -t filter "m365.mailflow.$name" >"$out" 2>&1 && ! grep -q "ERROR" "$out" \
            && "$ANSIBLE_DOC" -t filter -l m365.mailflow 2>&1 | grep -q "^m365\.mailflow\.${name}[[:space:]]"; then
        echo "check-docs: ok      m365.mailflow.$name (filter)"
    else
        echo "check-docs: FAILED  m365.mailflow.$name (filter)" >&2
        sed 's/^/    /' "$out" >&2
        status=1
    fi
done

# Attributes: complete, and shared through the m365.mailflow.attributes fragment.
fqcns=("${modules[@]/#/m365.mailflow.}")
if ! "$ANSIBLE_DOC" --json -t module "${fqcns[@]}" 2>"$out" >"$out.json"; then
    echo "check-docs: FAILED  ansible-doc --json" >&2
    sed 's/^/    /' "$out" >&2
    status=1
elif ! "$VENV/bin/python" "$REPO_ROOT/hacking/check-doc-attributes.py" "${fqcns[@]}" <"$out.json"; then
    status=1
fi
rm -f "$out.json"
exit $status

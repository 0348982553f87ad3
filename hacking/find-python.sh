#!/usr/bin/env bash
# Print the path of a working Python interpreter of one of the given versions, in order of preference:
#
#   hacking/find-python.sh 3.12 3.13      -> /usr/bin/python3.12, or pyenv's 3.13, ...
#
# A name on PATH is tried first, then pyenv's versions (~/.pyenv/versions/X.Y*/bin) and /usr/local/bin, /usr/bin.
# Each candidate must really run (pyenv shims exist for versions that are installed but not active) and report the
# wanted version. Exits 1 with a message on stderr when none is found.
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 X.Y [X.Y ...]" >&2
    exit 2
fi
pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
for version in "$@"; do
    candidates=()
    if path="$(command -v "python$version" 2>/dev/null)"; then
        candidates+=("$path")
    fi
    shopt -s nullglob
    for dir in "$pyenv_root"/versions/"$version" "$pyenv_root"/versions/"$version".*; do
        candidates+=("$dir/bin/python$version")
    done
    shopt -u nullglob
    candidates+=("/usr/local/bin/python$version" "/usr/bin/python$version")
    for candidate in "${candidates[@]}"; do
        [[ -x "$candidate" ]] || continue
        got="$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
        if [[ "$got" == "$version" ]]; then
            echo "$candidate"
            exit 0
        fi
    done
done
echo "find-python: no working Python $* found on PATH, under $pyenv_root/versions, /usr/local/bin or /usr/bin" >&2
exit 1

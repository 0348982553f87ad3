#!/usr/bin/env bash
# Create or update a virtualenv from requirement files, guarded by a stamp:
#
#   hacking/venv.sh VENV PYTHON REQ_FILE... [-- EXTRA_REQUIREMENT...]
#
#   hacking/venv.sh .venv python3.11 tests/requirements.txt tests/requirements-tools.txt
#   hacking/venv.sh .venv-2.17 python3.11 tests/requirements.txt -- 'ansible-core==2.17.*'
#
# The stamp (VENV/.requirements.sha256) holds a hash of the requirement files (and the files they include with
# -r), the extra requirements and the interpreter version. When it differs, the existing venv is brought up to date
# with pip (others may be using it); a missing or broken venv, or one made by another Python version, is created from
# scratch. EXTRA_REQUIREMENTs are installed in the same pip run, so a narrower pin (ansible-core==2.17.*) is resolved
# together with the range of the requirement files.
set -euo pipefail

if [[ $# -lt 3 ]]; then
    echo "usage: $0 VENV PYTHON REQ_FILE... [-- EXTRA_REQUIREMENT...]" >&2
    exit 2
fi
venv="$1" python="$2"
shift 2
req_files=() extra=()
while [[ $# -gt 0 && "$1" != "--" ]]; do req_files+=("$1"); shift; done
if [[ $# -gt 0 ]]; then shift; extra=("$@"); fi

log() { echo "venv: $venv: $*"; }

if ! "$python" -c 'import sys' >/dev/null 2>&1; then
    log "interpreter '$python' does not run" >&2
    exit 2
fi
included=()
for file in "${req_files[@]}"; do
    while read -r inc; do
        included+=("$(dirname "$file")/$inc")
    done < <(sed -n 's/^-r[[:space:]]*//p' "$file")
done
want="$( { cat "${req_files[@]}" "${included[@]}"; printf '%s\n' "${extra[@]}"; "$python" -VV; } | sha256sum | cut -d' ' -f1)"
stamp="$venv/.requirements.sha256"
vpy="$venv/bin/python"
pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

if [[ ! -x "$vpy" ]] || ! "$vpy" -c 'import sys' >/dev/null 2>&1 ||
   [[ "$("$vpy" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$pyver" ]]; then
    log "creating with $python (Python $pyver)"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$vpy" -m pip install --quiet --upgrade pip
elif [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    log "up to date (requirements unchanged)"
    exit 0
else
    log "requirement files changed since the last install; updating"
fi
args=()
for file in "${req_files[@]}"; do args+=(-r "$file"); done
"$vpy" -m pip install --upgrade-strategy only-if-needed "${args[@]}" "${extra[@]}"
"$vpy" -m pip check || log "WARNING: pip check reported conflicts (see above)"
echo "$want" >"$stamp"
log "ready (Python $pyver, ansible-core $("$vpy" -c 'import ansible.release as r; print(r.__version__)'))"

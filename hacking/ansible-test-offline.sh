#!/usr/bin/env bash
# Run ansible-test (default: sanity) offline on a copy of this collection.
#
#   hacking/ansible-test-offline.sh [ansible-test args...]      e.g. sanity --test pep8
#
# 1. installs hacking/get_pip_standin.py as ~/.ansible/test/cache/get_pip_<ver>.py, so ansible-test never tries
#    to download get-pip.py (pip itself comes from the index configured in /etc/pip.conf and friends);
# 2. copies the git-tracked and untracked-but-not-ignored files into
#    .build/ansible-test[-<core>]/ansible_collections/m365/mailflow (ansible-test needs that path layout, and a copy
#    keeps tests/output and friends out of the work tree);
# 3. runs the venv's ansible-test there with --venv --python $ANSIBLE_TEST_PYTHON (default: the venv's Python).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO_ROOT/.venv}"
# One copy per venv (.venv -> .build/ansible-test, .venv-2.17 -> .build/ansible-test-2.17), so runs on several
# ansible-core releases can go on at the same time.
venv_name="$(basename "$VENV")"
DEST_ROOT="$REPO_ROOT/.build/ansible-test${venv_name#.venv}"
DEST="$DEST_ROOT/ansible_collections/m365/mailflow"

if [[ ! -x "$VENV/bin/ansible-test" ]]; then
    echo "ansible-test-offline: $VENV/bin/ansible-test not found; run 'make venv' first" >&2
    exit 2
fi
if [[ $# -eq 0 ]]; then
    set -- sanity
fi
PYTHON_VERSION="${ANSIBLE_TEST_PYTHON:-$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}"

# --- 1. get-pip stand-in -------------------------------------------------------------------------------------
pip_version="$("$VENV/bin/python" - <<'PY'
import re
import sys
try:
    from ansible_test._internal.python_requirements import get_venv_packages
    from ansible_test._internal.host_configs import NativePythonConfig
    print(get_venv_packages(NativePythonConfig(version="%d.%d" % sys.version_info[:2], path=sys.executable))["pip"])
except Exception:  # internal API changed: read the default from the source
    import ansible_test._internal.python_requirements as pr
    print(re.search(r"pip='([0-9.]+)'", open(pr.__file__, encoding="utf-8").read()).group(1))
PY
)"
cache_dir="$HOME/.ansible/test/cache"
cache_file="$cache_dir/get_pip_${pip_version//./_}.py"
mkdir -p "$cache_dir"
if ! cmp -s "$REPO_ROOT/hacking/get_pip_standin.py" "$cache_file"; then
    echo "ansible-test-offline: installing get-pip stand-in as $cache_file"
    cp "$REPO_ROOT/hacking/get_pip_standin.py" "$cache_file"
fi

# --- 2. copy the collection ------------------------------------------------------------------------------------
echo "ansible-test-offline: copying the collection to $DEST"
mkdir -p "$DEST"
filelist="$(mktemp)"
trap 'rm -f "$filelist"' EXIT
(
    cd "$REPO_ROOT"
    # -z: NUL separated; keep only paths that exist (deleted-but-tracked files are listed too)
    git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
        if [[ -e "$f" || -L "$f" ]]; then printf '%s\0' "$f"; fi
    done
) >"$filelist"
# Mirror the file list: remove everything from the previous copy except tests/output (ansible-test results and
# caches), so files deleted from the repo disappear from the copy too.
find "$DEST" -mindepth 1 -maxdepth 1 ! -name tests ! -name .git -exec rm -rf {} +
if [[ -d "$DEST/tests" ]]; then
    find "$DEST/tests" -mindepth 1 -maxdepth 1 ! -name output -exec rm -rf {} +
fi
(cd "$REPO_ROOT" && tar --null --no-recursion -T "$filelist" -cf -) | (cd "$DEST" && tar -xf -)
echo "ansible-test-offline: $(tr -cd '\0' <"$filelist" | wc -c) files copied"
# ansible-test looks for .git upwards from the collection; without one here it would find the enclosing checkout
# (where .build/ is ignored) and see no files at all. A fresh empty repository makes it list the untracked,
# not-ignored files of the copy, i.e. exactly what was copied.
if [[ ! -d "$DEST/.git" ]]; then
    git -C "$DEST" init -q
fi

# --- 3. run ansible-test --------------------------------------------------------------------------------------
echo "ansible-test-offline: ansible-test $* --venv --python $PYTHON_VERSION (in $DEST)"
cd "$DEST"
PATH="$VENV/bin:$PATH" "$VENV/bin/ansible-test" "$@" --venv --python "$PYTHON_VERSION" --color no

#!/usr/bin/env bash
# Install the system packages the tests need (Debian/Ubuntu), only when something is missing:
#   postfix, swaks, dnsmasq-base  - local mail/DNS loopback for the integration tests
#   the shellcheck tool           - lets the ansible-test "shellcheck" sanity test run (skipped when missing)
#   chromium-headless-shell, fonts-dejavu-core - the browser and font of the Mermaid CLI (hacking/mermaid-cli.sh):
#                                   the docs site's diagrams and the diagram tests
#   nodejs, npm                   - only if node is missing (the machines come with Node.js 20)
#   python3-venv                  - only if "$PYTHON -m venv" is broken (Debian's python without ensurepip)
# Postfix is preseeded to "No configuration" so no system mail service is set up, and it is stopped if running:
# the tests start their own Postfix instances.
set -euo pipefail

PYTHON="${PYTHON:-python3}"
PACKAGES=(postfix swaks dnsmasq-base shellcheck chromium-headless-shell fonts-dejavu-core)

log() { echo "system-deps: $*"; }

SUDO=()
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if ! command -v node >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi

# "python -m venv" breaks on Debian's own python when python3-venv (ensurepip) is not installed.
venv_ok=1
tmp_venv="$(mktemp -d)"
trap 'rm -rf "$tmp_venv"' EXIT
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    venv_ok=0
    pyver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    missing+=(python3-venv "python${pyver}-venv")
fi

if [[ ${#missing[@]} -eq 0 ]]; then
    log "all present (${PACKAGES[*]}; $PYTHON has venv and ensurepip)"
else
    if ! command -v apt-get >/dev/null 2>&1; then
        log "missing ${missing[*]} and apt-get is not available; install them by hand" >&2
        exit 1
    fi
    if [[ $(id -u) -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
        log "missing ${missing[*]}; run as root or install sudo" >&2
        exit 1
    fi
    log "installing: ${missing[*]}"
    echo "postfix postfix/main_mailer_type select No configuration" | "${SUDO[@]}" debconf-set-selections
    echo "postfix postfix/mailname string localhost" | "${SUDO[@]}" debconf-set-selections
    # Keep services from being started by the package scripts (standard policy-rc.d switch).
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
        "${SUDO[@]}" chmod 755 "$policy"
        created_policy=1
    fi
    rc=0
    {
        "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q &&
        DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
    } || rc=$?
    if [[ $created_policy -eq 1 ]]; then
        "${SUDO[@]}" rm -f "$policy"
    fi
    if [[ $rc -ne 0 ]]; then
        log "apt-get failed (exit $rc)" >&2
        exit $rc
    fi
fi

# The system Postfix must not run: tests bind their own instances on loopback ports.
if command -v postfix >/dev/null 2>&1 || [[ -x /usr/sbin/postfix ]]; then
    if "${SUDO[@]}" /usr/sbin/postfix status >/dev/null 2>&1; then
        log "stopping the system postfix service"
        if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
            "${SUDO[@]}" systemctl disable --now postfix >/dev/null 2>&1 || true
        fi
        "${SUDO[@]}" /usr/sbin/postfix stop >/dev/null 2>&1 || true
    fi
fi

if [[ $venv_ok -eq 0 ]] && ! "$PYTHON" -m venv "$tmp_venv/v2" >/dev/null 2>&1; then
    log "$PYTHON -m venv still fails after installing python3-venv" >&2
    exit 1
fi
for bin in /usr/sbin/postfix /usr/sbin/postconf /usr/bin/swaks /usr/sbin/dnsmasq /usr/bin/chromium-headless-shell; do
    [[ -x $bin ]] || { log "expected $bin after install" >&2; exit 1; }
done
log "ok"

#!/usr/bin/env bash
# Run `make test-core CORE=<release>` (units, sanity, integration) for each given ansible-core release at the same
# time, each output line prefixed with [<release>]; exit 1 unless every release passed.
#
#   hacking/test-cores.sh 2.17 2.21
#
# At the same time, because the two runs keep a 2-core machine busier than one after the other: a run waits on
# ansible-playbook subprocesses, servers and timeouts for much of its time (the CPU-bound sanity of one release
# overlaps with the integration tests of the other).
set -uo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 RELEASE..." >&2
    exit 2
fi
MAKE="${MAKE:-make}"
cores=("$@")
pids=()
set -m  # each run in its own process group, so an interruption stops all of it
for core in "${cores[@]}"; do
    (
        set -o pipefail
        "$MAKE" --no-print-directory test-core CORE="$core" 2>&1 | sed -u "s/^/[$core] /"
    ) &
    pids+=("$!")
done
# Stop the runs if this script is interrupted (Ctrl-C, CI timeout).
# shellcheck disable=SC2317  # called by the trap
stop_all() {
    local pid
    for pid in "${pids[@]}"; do
        kill -- "-$pid" 2>/dev/null
    done
    exit 130
}
trap stop_all INT TERM
status=0
results=()
for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then
        results+=("ansible-core ${cores[$i]}: passed")
    else
        results+=("ansible-core ${cores[$i]}: FAILED (see the lines prefixed [${cores[$i]}] above)")
        status=1
    fi
done
printf 'test-cores: %s\n' "${results[@]}"
exit $status

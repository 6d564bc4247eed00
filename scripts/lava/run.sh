#!/usr/bin/env bash
# The LAVA test step of scripts/lava/iovh.yaml: install iovh on the device
# under test, run `iovh run`, keep every report format as a file, and report
# every scenario as a LAVA test case (lava-test-case), plus `iovh-install`,
# `iovh-run` and `iovh-verdict`. The lab's scheduler (LAVA, or KernelCI on
# top of it) decides where and when; this only runs and reports.
#
# Parameters (environment, from the test definition's params):
#   BACKEND     auto | native | mock (default auto)
#   FILTER      space-separated scenario globs (default: all)
#   BASELINE    baseline file, relative to the iovh checkout (default: none on native)
#   TIMEOUT     per-scenario timeout in seconds (default 60)
#   PF, VF      the devices under test (default: the first xe PF with a VF on vfio-pci)
#   EXTRA_ARGS  more `iovh run` arguments
#   IOVH_OUTPUT_DIR  where the reports go (default: <checkout>/lava-output)
#   IOVH_SKIP_INSTALL=1  iovh is already installed and built in the checkout
#   IOVH_CMD    the command that runs iovh (default: node <checkout>/bin/iovh.js)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${IOVH_OUTPUT_DIR:-$root/lava-output}
mkdir -p "$out"

# One test case: lava-test-case inside LAVA; outside it, the same signal line
# LAVA's lava-test-case prints, so a run by hand shows what LAVA would record.
report_case() {
  local name=$1 result=$2 seconds=${3:-}
  if command -v lava-test-case >/dev/null 2>&1; then
    if [ -n "$seconds" ]; then
      lava-test-case "$name" --result "$result" --measurement "$seconds" --units seconds
    else
      lava-test-case "$name" --result "$result"
    fi
  else
    echo "<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=$name RESULT=$result${seconds:+ MEASUREMENT=$seconds UNITS=seconds}>"
  fi
}

node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=17)?0:1)'
}

if [ "${IOVH_SKIP_INSTALL:-0}" != 1 ]; then
  if ! node_ok; then
    echo "iovh: Node.js 20.17 or newer is needed on the device under test" >&2
    report_case iovh-install fail
    exit 0
  fi
  for tool in cmake g++ make; do
    command -v "$tool" >/dev/null 2>&1 || { echo "iovh: $tool is needed to build the native addon" >&2; report_case iovh-install fail; exit 0; }
  done
  if (cd "$root" && npm ci --no-audit --no-fund) >"$out/install.log" 2>&1; then
    report_case iovh-install pass
  else
    tail -n 40 "$out/install.log" >&2
    report_case iovh-install fail
    exit 0
  fi
fi

if [ -n "${IOVH_CMD:-}" ]; then
  read -r -a cmd <<<"$IOVH_CMD"
else
  cmd=(node "$root/bin/iovh.js")
fi
args=(run --json "$out/iovh.json" --junit "$out/iovh.junit.xml" --ktap "$out/iovh.ktap" --kcidb "$out/iovh.kcidb.json")
args+=(--backend "${BACKEND:-auto}" --timeout "${TIMEOUT:-60}")
for glob in ${FILTER:-}; do args+=(--filter "$glob"); done
[ -n "${BASELINE:-}" ] && args+=(--baseline "$root/$BASELINE")
[ -n "${PF:-}" ] && args+=(--pf "$PF")
[ -n "${VF:-}" ] && args+=(--vf "$VF")
# shellcheck disable=SC2206 # EXTRA_ARGS is a list of words on purpose
[ -n "${EXTRA_ARGS:-}" ] && args+=(${EXTRA_ARGS})

echo "+ ${cmd[*]} ${args[*]}"
"${cmd[@]}" "${args[@]}" 2>&1 | tee "$out/iovh.log"
code=${PIPESTATUS[0]}
echo "iovh run exited with $code"

if [ ! -s "$out/iovh.json" ]; then
  echo "iovh: no JSON report was written (exit $code)" >&2
  report_case iovh-run fail
  exit 0
fi
report_case iovh-run "$([ "$code" = 0 ] || [ "$code" = 1 ] || [ "$code" = 77 ] && echo pass || echo fail)"

node "$here/lava-cases.mjs" "$out/iovh.json" >"$out/cases.txt" || { report_case iovh-report fail; exit 0; }
while read -r name result seconds; do
  if [ "$name" = iovh-verdict ]; then report_case "$name" "$result"; else report_case "$name" "$result" "$seconds"; fi
done <"$out/cases.txt"
exit 0

#!/usr/bin/env bash
# The LAVA test step of scripts/lava/iovh.yaml: install iovh on the device
# under test, run `iovh run`, keep every report format as a file, and report
# every scenario as a LAVA test case (lava-test-case), plus `iovh-install`,
# `iovh-run` and `iovh-verdict`. The lab's scheduler (LAVA, or KernelCI on
# top of it) decides where and when; this only runs and reports.
#
# The definition's parameters arrive as options. LAVA writes job parameters
# into its generated run script as plain shell assignments (BACKEND='mock'),
# never exported, so a step's child process cannot see them in its
# environment: the step passes each one explicitly (iovh.yaml `run:`).
#
#   --backend auto|native|mock       (default auto)
#   --filter 'GLOB ...'              space-separated scenario globs (default: all)
#   --baseline FILE                  baseline file, relative to the iovh checkout (default: none on native)
#   --timeout SECONDS                per-scenario timeout (default 60)
#   --pf BDF, --vf BDF               the devices under test (default: the first xe PF with a VF on vfio-pci)
#   --kcidb-origin NAME              KCIDB origin of the KCIDB report (default iovh)
#   --kcidb-build-id ID              KCIDB id of the kernel build under test, <origin>:... (default <origin>:<release>)
#   --install true|false             build iovh in the checkout first (default true)
#   --extra-args 'ARGS'              more `iovh run` arguments
# An empty value means the default, so the step can pass every parameter.
# Environment (for running it by hand or from a test, never from LAVA parameters):
#   IOVH_OUTPUT_DIR  where the reports go (default: <checkout>/lava-output)
#   IOVH_CMD         the command that runs iovh (default: node <checkout>/bin/iovh.js)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${IOVH_OUTPUT_DIR:-$root/lava-output}

backend='' filter='' baseline='' timeout='' pf='' vf='' kcidb_origin='' kcidb_build_id='' install='' extra=''
while [ $# -gt 0 ]; do
  if [ $# -lt 2 ]; then
    echo "iovh: run.sh: $1 needs a value (an empty one for the default)" >&2
    exit 2
  fi
  case $1 in
    --backend) backend=$2 ;;
    --filter) filter=$2 ;;
    --baseline) baseline=$2 ;;
    --timeout) timeout=$2 ;;
    --pf) pf=$2 ;;
    --vf) vf=$2 ;;
    --kcidb-origin) kcidb_origin=$2 ;;
    --kcidb-build-id) kcidb_build_id=$2 ;;
    --install) install=$2 ;;
    --extra-args) extra=$2 ;;
    *)
      echo "iovh: run.sh: unknown option $1" >&2
      exit 2
      ;;
  esac
  shift 2
done
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

case ${install:-true} in
  true)
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
    ;;
  false) ;;
  *)
    echo "iovh: run.sh: --install must be true or false, got '$install'" >&2
    report_case iovh-install fail
    exit 0
    ;;
esac

if [ -n "${IOVH_CMD:-}" ]; then
  read -r -a cmd <<<"$IOVH_CMD"
else
  cmd=(node "$root/bin/iovh.js")
fi
args=(run --json "$out/iovh.json" --junit "$out/iovh.junit.xml" --ktap "$out/iovh.ktap" --kcidb "$out/iovh.kcidb.json")
args+=(--backend "${backend:-auto}" --timeout "${timeout:-60}")
# shellcheck disable=SC2086 # a list of globs on purpose, never expanded against files
set -f
for glob in $filter; do args+=(--filter "$glob"); done
set +f
[ -n "$baseline" ] && args+=(--baseline "$root/$baseline")
[ -n "$pf" ] && args+=(--pf "$pf")
[ -n "$vf" ] && args+=(--vf "$vf")
[ -n "$kcidb_origin" ] && args+=(--kcidb-origin "$kcidb_origin")
[ -n "$kcidb_build_id" ] && args+=(--kcidb-build-id "$kcidb_build_id")
# shellcheck disable=SC2206 # EXTRA_ARGS is a list of words on purpose
[ -n "$extra" ] && { set -f; args+=($extra); set +f; }

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

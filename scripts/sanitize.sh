#!/usr/bin/env bash
# CI step: the native tests (test/core, test/uapi, test/backend) against
# the addon built with AddressSanitizer and UndefinedBehaviorSanitizer
# (CMakeLists.txt option IOVH_SANITIZE). Fails on any ASan or UBSan report.
#
# The sanitizer build goes to its own directory (.cache/sanitize/build) and
# the tests load it through IOVH_ADDON (src/core/addon.ts), so build/Release,
# which the rest of CI and other users of this checkout run against, is never
# replaced: there is nothing to rebuild afterwards, and the script checks that
# build/Release/iovh.node is byte for byte what it was.
#
# Node is not built with ASan, so the ASan runtime must be the first library
# in the process: LD_PRELOAD it (vitest's forked workers inherit it). Reports
# go to files under the log directory (log_path) and, for UBSan, to the
# workers' stderr; both are searched at the end, so a report fails the step
# even if vitest were to count the dead worker's tests as passed.
# detect_leaks=0: LeakSanitizer would report V8's and Node's deliberate
# exit-time leaks, which are not ours; scripts/valgrind.sh checks leaks in our
# code instead.
#
# Usage: scripts/sanitize.sh [vitest paths...]   (default: the native tests)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/.cache/sanitize
logs=$out/reports
addon=$out/build/Debug/iovh.node
CC=${CC:-cc}

say() { echo "sanitize: $*"; }
die() { echo "sanitize: FAIL: $*" >&2; exit 1; }

release=$root/build/Release/iovh.node
before=$( [ -f "$release" ] && sha256sum "$release" | cut -d' ' -f1 )

say "building the addon with -fsanitize=address,undefined into ${out#"$root"/}/build"
mkdir -p "$out"
npx --no-install cmake-js rebuild --log-level warn -O "$out/build" --debug --CDIOVH_SANITIZE=ON >"$out/build.log" 2>&1 \
  || { cat "$out/build.log" >&2; die "the sanitizer build failed"; }
[ -f "$addon" ] || die "the build did not produce $addon"

asan=$("$CC" -print-file-name=libasan.so)
[ -f "$asan" ] || die "no ASan runtime for $CC ($asan); install the compiler's libasan (e.g. libasan8)"
needed=$(readelf -d "$addon" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
case "$needed" in *libasan*) ;; *) die "$addon does not link the ASan runtime (NEEDED: $needed)" ;; esac
case "$needed" in *libubsan*) ;; *) die "$addon does not link the UBSan runtime (NEEDED: $needed)" ;; esac

rm -rf "$logs" && mkdir -p "$logs"
export LD_PRELOAD=$asan
export IOVH_ADDON=$addon
export IOVH_REQUIRE_NATIVE=1
# halt_on_error: stop at the first report (the default for ASan; UBSan is built
# with -fno-sanitize-recover); abort_on_error gives vitest a dead worker it reports.
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1:log_path=$logs/asan
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan

# The runtime really is in the test processes, with our sanitized addon: a
# run that silently loaded build/Release would prove nothing.
node -e '
  require(process.env.IOVH_ADDON);
  const maps = require("node:fs").readFileSync("/proc/self/maps", "utf8");
  if (!/libasan\.so/.test(maps)) { console.error("sanitize: the ASan runtime is not mapped into node"); process.exit(1); }
  if (!maps.includes(process.env.IOVH_ADDON)) { console.error("sanitize: the sanitized addon is not mapped"); process.exit(1); }
' || die "the sanitizer runtime is not active under node"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(test/core test/uapi test/backend)
say "running ${targets[*]} with LD_PRELOAD=$asan IOVH_ADDON=${addon#"$root"/}"
npx --no-install vitest run "${targets[@]}" 2>&1 | tee "$out/vitest.log"
status=${PIPESTATUS[0]}

reports=$(find "$logs" -type f | sort)
if [ -n "$reports" ]; then
  for r in $reports; do
    echo "---- $r" >&2
    cat "$r" >&2
  done
  die "$(echo "$reports" | wc -l) sanitizer report(s) (above)"
fi
# UBSan built with -fno-sanitize-recover prints its report to stderr even with
# log_path set (the ASan runtime owns the logging): the workers' stderr is in
# vitest's output.
inline=$(grep -cE 'runtime error:|ERROR: AddressSanitizer|UndefinedBehaviorSanitizer' "$out/vitest.log")
[ "$inline" -eq 0 ] || die "$inline sanitizer report line(s) in the test output ($out/vitest.log)"
[ $status -eq 0 ] || die "the native tests failed under the sanitizers (exit $status)"

after=$( [ -f "$release" ] && sha256sum "$release" | cut -d' ' -f1 )
[ "$before" = "$after" ] || die "build/Release/iovh.node changed during the sanitizer step"
say "clean: no ASan or UBSan report; build/Release untouched"

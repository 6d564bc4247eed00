#!/usr/bin/env bash
# CI step: valgrind memcheck over every entry point of the native addon.
#
# memcheck over vitest's forked workers is impractical (each worker boots
# Node, vite and vitest under memcheck's ~30x slowdown, minutes per file), so
# scripts/valgrind-driver.mjs makes the native tests' calls in one process and
# checks each answer. The addon is a plain debug build (-O0 -g, no
# sanitizers: memcheck cannot run ASan code) in .cache/valgrind/build; build/
# is not touched.
#
# Passes when memcheck reports zero errors (invalid reads/writes, uses of
# uninitialised values, bad frees, and "definitely lost" leaks) beyond the
# Node/V8 noise listed, with reasons, in scripts/valgrind.supp, and the driver
# itself succeeded. Errors with a frame in our addon are listed separately.
#
# Installs valgrind with apt when it is missing (CI machines run as root).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/.cache/valgrind
addon=$out/build/Debug/iovh.node
xml=$out/memcheck.xml

say() { echo "valgrind: $*"; }
die() { echo "valgrind: FAIL: $*" >&2; exit 1; }

if ! command -v valgrind >/dev/null; then
  [ "$(id -u)" = 0 ] || die "valgrind is not installed and this is not root (apt-get install valgrind)"
  say "installing valgrind"
  { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends valgrind >/dev/null 2>&1 \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends valgrind >/dev/null; }; } \
    || die "apt-get install valgrind failed"
fi

say "building a debug addon (no sanitizers) into ${out#"$root"/}/build"
mkdir -p "$out"
npx --no-install cmake-js rebuild --log-level warn -O "$out/build" --debug --CDIOVH_SANITIZE=OFF >"$out/build.log" 2>&1 \
  || { cat "$out/build.log" >&2; die "the debug build failed"; }
[ -f "$addon" ] || die "the build did not produce $addon"

say "memcheck: node scripts/valgrind-driver.mjs (takes a minute)"
rm -f "$xml"
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --num-callers=40 --suppressions="$root/scripts/valgrind.supp" --xml=yes --xml-file="$xml" --log-file="$out/memcheck.log" \
  node --expose-gc scripts/valgrind-driver.mjs "$addon"
driver=$?
[ $driver -eq 0 ] || { cat "$out/memcheck.log" >&2; die "the driver failed under memcheck (exit $driver)"; }
[ -s "$xml" ] || die "memcheck wrote no report ($xml)"

node scripts/valgrind-report.mjs "$xml" "$addon"
status=$?
[ $status -eq 0 ] || die "memcheck errors (above); fix them, or, only for noise wholly inside Node/V8, add a suppression with its reason to scripts/valgrind.supp"
say "clean: zero memcheck errors, zero definite leaks"

#!/usr/bin/env bash
# `npm run abi-check`: prove core/uapi (and the constants of
# src/uapi/constants.ts) against the kernel's own uapi headers from Debian sid's
# linux-libc-dev, fetched and extracted under .cache/abi/ (installs nothing).
# Prints every struct size, alignment, field offset, ioctl request and
# constant it compared; exits non-zero on any mismatch or if a name we define
# is missing from the kernel's headers.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${IOVH_ABI_CACHE:-$PWD/.cache/abi}
mkdir -p "$CACHE"

if [ "$(uname -m)" != x86_64 ]; then
  echo "abi-check: the uapi asserts describe x86_64 (LP64); this is $(uname -m)" >&2
  exit 2
fi
CC=${CC:-cc}
command -v "$CC" >/dev/null || { echo "abi-check: no C compiler ($CC); install gcc" >&2; exit 2; }

if [ -n "${IOVH_ABI_INCLUDE:-}" ]; then
  version=${IOVH_ABI_VERSION:-given}
  include=$IOVH_ABI_INCLUDE
else
  read -r version include < <(bash scripts/abi-fetch.sh) || { echo "abi-check: could not fetch linux-libc-dev" >&2; exit 2; }
fi
[ -f "$include/linux/vfio.h" ] || { echo "abi-check: $include has no linux/vfio.h" >&2; exit 2; }

node scripts/abi-list.mjs core/uapi >"$CACHE/abi-list.h"
common=(-std=c11 -O0 -Wall -Wextra -Werror -I core/abi -I "$CACHE")
"$CC" "${common[@]}" -I core -c core/abi/ours.c -o "$CACHE/ours.o"
if ! "$CC" "${common[@]}" -isystem "$include" -isystem "$include/x86_64-linux-gnu" -c core/abi/kernel.c -o "$CACHE/kernel.o" 2>"$CACHE/kernel-build.log"; then
  cat "$CACHE/kernel-build.log" >&2
  echo "abi-check: FAIL: a name core/uapi defines is missing or different in the kernel headers (see above)" >&2
  exit 1
fi
"$CC" "${common[@]}" core/abi/main.c "$CACHE/ours.o" "$CACHE/kernel.o" -o "$CACHE/abi-check"

status=0
"$CACHE/abi-check" --against "linux-libc-dev $version ($include)" --json "$CACHE/kernel-values.json" || status=$?
node scripts/abi-check-ts.mjs "$CACHE/kernel-values.json" || status=1
exit $status

#!/usr/bin/env bash
# Fetch Debian sid's linux-libc-dev into .cache/abi/ without installing it:
# a private apt configuration (sources, lists, cache all under .cache/abi/apt)
# whose archive URI and keyring are taken from this system's own apt sources,
# then `apt-get download` and `dpkg-deb -x`. Prints the extracted include dir.
#
# The same approach as scripts/qemu-ci/apt.mjs, without naming a mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${IOVH_ABI_CACHE:-$PWD/.cache/abi}
SUITE=${IOVH_ABI_SUITE:-sid}
APT=$CACHE/apt
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$CACHE/debs"

# The first Debian archive (not -security, not -updates-only) in the system's sources:
# deb822 *.sources stanzas, then one-line sources.list entries.
find_archive() {
  local f hit
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    hit=$(awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && uris != "" && suites != "" && suites !~ /-security/ && comps ~ /(^| )main( |$)/) {
          split(uris, u, " "); print u[1] "\t" key; found = 1; exit
        }
        types = uris = suites = comps = key = ""
      }
      /^[ \t]*$/ { flush(); next }
      /^#/ { next }
      tolower($1) == "types:" { $1 = ""; types = $0 }
      tolower($1) == "uris:" { $1 = ""; uris = $0; sub(/^ +/, "", uris) }
      tolower($1) == "suites:" { $1 = ""; suites = $0 }
      tolower($1) == "components:" { $1 = ""; comps = $0 }
      tolower($1) == "signed-by:" { key = $2 }
      END { if (!found) flush() }
    ' "$f")
    if [ -n "$hit" ]; then echo "$hit"; return 0; fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    hit=$(awk '
      $1 == "deb" {
        opts = ""; i = 2
        if ($2 ~ /^\[/) { while ($i !~ /\]$/) { opts = opts " " $i; i++ } opts = opts " " $i; i++ }
        uri = $i; suite = $(i + 1)
        if (suite ~ /-security/ || uri ~ /security/) next
        key = ""
        if (match(opts, /signed-by=[^] ]+/)) key = substr(opts, RSTART + 10, RLENGTH - 10)
        print uri "\t" key; exit
      }' "$f")
    if [ -n "$hit" ]; then echo "$hit"; return 0; fi
  done
  return 1
}

line=$(find_archive | head -n1) || true
if [ -z "${line:-}" ]; then
  echo "abi-fetch: no Debian archive found in /etc/apt/sources.list{,.d/*} (need a 'deb' source with component main)" >&2
  exit 2
fi
uri=${line%%$'\t'*}
key=${line#*$'\t'}
[ -n "$key" ] && [ -f "$key" ] || key=/usr/share/keyrings/debian-archive-keyring.gpg
if [ ! -f "$key" ]; then
  echo "abi-fetch: no archive keyring ($key); install debian-archive-keyring" >&2
  exit 2
fi

echo "deb [signed-by=$key] $uri $SUITE main" > "$APT/sources.list"
A=(-o "Dir::Etc::sourcelist=$APT/sources.list" -o Dir::Etc::sourceparts=/nonexistent
   -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o Dir::State::status=/dev/null
   -o Debug::NoLocking=1 -o APT::Get::List-Cleanup=0)

# A day-old index is fresh enough for headers; refetch otherwise.
if [ -z "$(find "$APT/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
  apt-get "${A[@]}" update >"$CACHE/apt-update.log" 2>&1 || { cat "$CACHE/apt-update.log" >&2; echo "abi-fetch: apt-get update of $SUITE failed" >&2; exit 2; }
fi
version=$(apt-cache "${A[@]}" show linux-libc-dev 2>/dev/null | awk '/^Version:/ { print $2; exit }')
if [ -z "$version" ]; then
  echo "abi-fetch: linux-libc-dev not found in $SUITE" >&2
  exit 2
fi
dest=$CACHE/linux-libc-dev_$version
if [ ! -f "$dest/.complete" ]; then
  rm -rf "$dest" "$CACHE"/debs/linux-libc-dev_*.deb
  (cd "$CACHE/debs" && apt-get "${A[@]}" download "linux-libc-dev=$version" >"$CACHE/apt-download.log" 2>&1) \
    || { cat "$CACHE/apt-download.log" >&2; echo "abi-fetch: apt-get download linux-libc-dev=$version failed" >&2; exit 2; }
  mkdir -p "$dest"
  dpkg-deb -x "$CACHE"/debs/linux-libc-dev_*.deb "$dest"
  touch "$dest/.complete"
fi
echo "$version $dest/usr/include"

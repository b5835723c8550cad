#!/usr/bin/env bash
# A second PostgreSQL major on this bookworm host, for the cross-major tests: PostgreSQL 13
# from Debian bullseye's archive (the newest Debian release that carries it), installed
# where Debian puts it (/usr/lib/postgresql/13, /usr/share/postgresql/13) so the tools'
# /usr/lib/postgresql/*/bin search and the local sandbox find it like a packaged major.
#
# Not a package install: bullseye's postgresql-13 cannot be installed on bookworm (its
# dependencies are bullseye's). Instead the .debs are fetched with a private apt state (the
# host's apt sources and status stay untouched), unpacked, and the binaries are given the
# bullseye-only libraries they link (libssl1.1, libicu67, libldap-2.4) in a private directory
# through an RPATH; host libraries are never replaced or added to the global search path.
# JIT (libLLVM-11) is left out: without llvmjit.so PostgreSQL simply runs without JIT.
#
# Root only; idempotent (a working /usr/lib/postgresql/13 is left alone); the .debs are
# cached under /var/cache/restoredrill/pg13 so a later run needs no network.
set -euo pipefail

MAJOR=13 SUITE=bullseye
LIBDIR=/usr/lib/postgresql/$MAJOR
SHAREDIR=/usr/share/postgresql/$MAJOR
PRIVATE=$LIBDIR/restoredrill-lib
CACHE=${RESTOREDRILL_CACHE:-/var/cache/restoredrill}/pg$MAJOR
PACKAGES=(postgresql-$MAJOR postgresql-client-$MAJOR libssl1.1 libicu67 libldap-2.4-2)

if [ -x "$LIBDIR/bin/postgres" ] && "$LIBDIR/bin/postgres" --version >/dev/null 2>&1; then
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "install-pg$MAJOR: needs root" >&2; exit 1; }
command -v patchelf >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends patchelf >/dev/null
}

# The mirror apt uses here (as tests/docker/build-images.sh finds it), never a guessed host.
mirror=$(
  { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
    grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}'
  } | grep -v security | grep -E '/debian/?$' | head -n1
) || true

mkdir -p "$CACHE/debs"
if [ "$(cat "$CACHE/debs/.complete" 2>/dev/null)" != "${PACKAGES[*]}" ]; then
  [ -n "$mirror" ] || { echo "install-pg$MAJOR: no Debian mirror in apt's sources" >&2; exit 1; }
  state=$CACHE/apt
  mkdir -p "$state/lists/partial" "$state/archives/partial" "$state/parts"
  keys=/usr/share/keyrings
  # security updates: apt's own security mirror, else beside the main archive
  security=$(
    { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
      grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}'
    } | grep -E '/debian-security/?$' | head -n1
  ) || true
  security=${security:-${mirror%/debian}/debian-security}
  {
    echo "deb [signed-by=$keys/debian-archive-$SUITE-stable.gpg] $mirror $SUITE main"
    echo "deb [signed-by=$keys/debian-archive-$SUITE-security-automatic.gpg] $security $SUITE-security main"
  } >"$state/sources.list"
  : >"$state/status"
  opts=(-o "Dir::Etc::SourceList=$state/sources.list" -o "Dir::Etc::SourceParts=$state/parts"
        -o "Dir::State::Lists=$state/lists" -o "Dir::State::status=$state/status"
        -o "Dir::Cache::archives=$state/archives" -o Dir::Cache::pkgcache=
        -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root)
  # a security mirror that cannot be reached is not fatal: bullseye main has postgresql-13 too
  apt-get "${opts[@]}" update -qq || echo "install-pg$MAJOR: apt-get update reported errors" >&2
  rm -f "$CACHE"/debs/*.deb
  (cd "$CACHE/debs" && apt-get "${opts[@]}" download -qq "${PACKAGES[@]}")
  echo "${PACKAGES[*]}" >"$CACHE/debs/.complete"
fi

work=$(mktemp -d "$CACHE/unpack.XXXXXX")
trap 'rm -rf "$work"' EXIT
for deb in "$CACHE"/debs/*.deb; do dpkg-deb -x "$deb" "$work"; done
stage=$work$LIBDIR
mkdir -p "$work$PRIVATE"
for lib in libssl.so.1.1 libcrypto.so.1.1 'libicu*.so.67*' 'liblber-2.4.so.2*' 'libldap*-2.4.so.2*'; do
  # shellcheck disable=SC2086  # the patterns are meant to glob
  cp -a "$work"/usr/lib/*-linux-gnu/$lib "$work$PRIVATE"/
done
rm -rf "$stage/lib/llvmjit.so" "$stage/lib/llvmjit_types.bc" "$stage/lib/bitcode"
# DT_RPATH (not RUNPATH): it also applies to the libraries' own dependencies (libicui18n ->
# libicudata) and to modules the server loads later.
find "$stage/bin" "$stage/lib" "$work$PRIVATE" -type f | while read -r f; do
  if head -c4 "$f" | grep -q ELF; then patchelf --force-rpath --set-rpath "$PRIVATE" "$f"; fi
done
rm -rf "$SHAREDIR.new" "$LIBDIR.new"
cp -a "$work$SHAREDIR" "$SHAREDIR.new"
cp -a "$stage" "$LIBDIR.new"
rm -rf "$SHAREDIR" "$LIBDIR"
mv "$SHAREDIR.new" "$SHAREDIR"
mv "$LIBDIR.new" "$LIBDIR"

missing=$(find "$LIBDIR" -type f -print0 | while IFS= read -r -d '' f; do
  head -c4 "$f" | grep -q ELF || continue
  ldd "$f" 2>/dev/null | grep 'not found' | sed "s|^|$f: |" || true
done)
if [ -n "$missing" ] || ! "$LIBDIR/bin/postgres" --version >/dev/null; then
  echo "install-pg$MAJOR: libraries missing, removing the installation:" >&2
  echo "$missing" >&2
  rm -rf "$LIBDIR" "$SHAREDIR"
  exit 1
fi
echo "install-pg$MAJOR: $("$LIBDIR/bin/postgres" --version) in $LIBDIR"

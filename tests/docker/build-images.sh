#!/usr/bin/env bash
# Build the images the docker-sandbox tests use, without a registry: a debootstrapped Debian
# bookworm minbase (from the apt mirror this machine is configured with), imported with
# `docker import`, then one image per server package built FROM it with host networking.
# Skipped per image when it already exists; the minbase tarball is cached under
# /var/cache/restoredrill so a later run on the same machine reuses it.
set -euo pipefail

BASE=restoredrill-test/bookworm-minbase:latest
PG=restoredrill-test/postgres:15
MARIADB=restoredrill-test/mariadb:10.11
CACHE=${RESTOREDRILL_CACHE:-/var/cache/restoredrill}
TARBALL=$CACHE/bookworm-minbase.tar

have() { docker image inspect "$1" >/dev/null 2>&1; }

if have "$PG" && have "$MARIADB"; then
  echo "build-images: $PG and $MARIADB already present"
  exit 0
fi

# The mirror apt uses here, from apt's own configuration only (deb822 sources first, then the
# one-line format): images are built from what this machine may reach, never a guessed host.
mirror=$(
  { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
    grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}'
  } | grep -v security | grep -E '/debian/?$' | head -n1
) || true

if ! have "$BASE"; then
  if [ ! -s "$TARBALL" ]; then
    [ -n "$mirror" ] || {
      echo "build-images: no Debian mirror in apt's sources (/etc/apt/sources.list*): cannot debootstrap" >&2
      exit 1; }
    command -v debootstrap >/dev/null || {
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    }
    mkdir -p "$CACHE"
    work=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    echo "build-images: debootstrap bookworm minbase from $mirror"
    debootstrap --variant=minbase bookworm "$work" "$mirror" >"$CACHE/debootstrap.log" 2>&1 || {
      tail -n 20 "$CACHE/debootstrap.log" >&2; exit 1; }
    echo "deb $mirror bookworm main" >"$work/etc/apt/sources.list"
    rm -rf "$work"/var/cache/apt/archives/*.deb "$work"/var/lib/apt/lists/*
    tar -C "$work" -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
    rm -rf "$work"
    trap - EXIT
  fi
  docker import --change 'CMD ["/bin/bash"]' "$TARBALL" "$BASE" >/dev/null
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

if ! have "$PG"; then
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE
RUN mkdir -p /etc/postgresql-common \\
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf \\
 && printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \\
 && apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \\
 && mkdir -p /var/run/postgresql && chown postgres:postgres /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
USER postgres
CMD ["postgres"]
DOCKERFILE
  echo "build-images: building $PG"
  docker build -q --network host -t "$PG" "$ctx" >/dev/null
fi

if ! have "$MARIADB"; then
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \\
 && apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/lib/mysql/* \\
 && mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
ENV LANG=C.UTF-8
USER mysql
CMD ["mariadbd"]
DOCKERFILE
  echo "build-images: building $MARIADB"
  docker build -q --network host -t "$MARIADB" "$ctx" >/dev/null
fi
echo "build-images: done"

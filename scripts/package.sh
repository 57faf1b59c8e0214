#!/usr/bin/env bash
# Builds the Debian packages under dist/:
#   postgresql-<major>-pg-tokens_<version>_amd64.deb  for each major (15, 18)
#   tokens-console_<version>_amd64.deb
# The version is the workspace's (Cargo.toml), as in the control file.
# Usage: bash scripts/package.sh [major...]   (default: every major)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO"

bash scripts/setup.sh
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
ARCH=$(dpkg --print-architecture)
DIST=$REPO/dist
mkdir -p "$DIST"
MAINTAINER="pg_tokens developers <maintainers@pg-tokens.invalid>"

# shlib_depends FILE...: the Depends entries of the shared libraries these
# ELF files need, as the packages that hold them on this system (libc6
# versioned by the newest GLIBC symbol used).
shlib_depends() {
  local f lib path pkg deps=() glibc
  for f in "$@"; do
    for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ {print $NF; exit}')
      [ -n "$path" ] || path=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
      [ -n "$path" ] || { echo "no $lib on this system (needed by $f)" >&2; exit 1; }
      pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1) ||
        pkg=$(dpkg -S "$path" | head -n 1 | cut -d: -f1)
      deps+=("$pkg")
    done
  done
  glibc=$(objdump -T "$@" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
  printf '%s\n' "${deps[@]}" | sort -u | while read -r pkg; do
    if [ "$pkg" = libc6 ] && [ -n "$glibc" ]; then echo "libc6 (>= $glibc)"; else echo "$pkg"; fi
  done | paste -sd, - | sed 's/,/, /g'
}

# deb NAME ROOT DEPENDS SUMMARY DESCRIPTION: dpkg-deb of the tree ROOT.
deb() {
  local name=$1 root=$2 depends=$3 summary=$4 description=$5 size
  mkdir -p "$root/DEBIAN" "$root/usr/share/doc/$name"
  cat > "$root/usr/share/doc/$name/copyright" <<COPY
pg_tokens $VERSION
License: PostgreSQL
COPY
  size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
  cat > "$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $size
Depends: $depends
Section: database
Priority: optional
Description: $summary
$(printf '%s\n' "$description" | fold -s -w 76 | sed 's/^/ /')
CONTROL
  find "$root" -type d -exec chmod 755 {} +
  dpkg-deb --root-owner-group --build "$root" "$DIST/${name}_${VERSION}_$ARCH.deb" >/dev/null
  log "made dist/${name}_${VERSION}_$ARCH.deb (Depends: $depends)"
}

# extension_package MAJOR: the extension for that major, laid out as
# Debian's (and PGDG's) postgresql-MAJOR packages lay out extensions.
extension_package() {
  local major=$1 pg_config out root name lib share f
  pg_config="$(pg_bin_for "$major")/pg_config"
  [ -x "$pg_config" ] || { log "no PostgreSQL $major here: skipping its package"; return; }
  out=$REPO/target/package/pg$major
  rm -rf "$out"
  log "building the extension for PostgreSQL $major"
  (cd extension && cargo pgrx package --pg-config "$pg_config" --out-dir "$out/built" \
    --no-default-features --features "pg$major")
  name=postgresql-$major-pg-tokens
  root=$out/$name
  lib=$root/usr/lib/postgresql/$major/lib
  share=$root/usr/share/postgresql/$major/extension
  mkdir -p "$lib" "$share"
  install -m 644 "$(find "$out/built" -name pg_tokens.so | head -n 1)" "$lib/"
  strip --strip-unneeded "$lib/pg_tokens.so"
  for f in $(find "$out/built" -name 'pg_tokens.control' -o -name 'pg_tokens--*.sql'); do
    install -m 644 "$f" "$share/"
  done
  # Earlier releases' install scripts, so that a database can be created at
  # an old version (as the upgrade tests do) and upgraded.
  for f in extension/sql/pg_tokens--*.sql; do
    case "$(basename "$f")" in
      pg_tokens--*--*.sql) ;;
      *) [ -e "$share/$(basename "$f")" ] || install -m 644 "$f" "$share/" ;;
    esac
  done
  grep -q "^default_version = '$VERSION'" "$share/pg_tokens.control" ||
    { echo "the built control file does not say version $VERSION" >&2; exit 1; }
  deb "$name" "$root" "postgresql-$major, $(shlib_depends "$lib/pg_tokens.so")" \
    "machine-to-machine API tokens inside PostgreSQL $major" \
    "pg_tokens mints, verifies, revokes, rotates and audits API tokens inside PostgreSQL: the SQL API tokens.mint, tokens.verify and friends, usage counting, rate limits and credits in shared memory (add pg_tokens to shared_preload_libraries), and a tamper-evident audit log."
}

console_package() {
  local out=$REPO/target/package/console root
  rm -rf "$out"
  log "building the console"
  cargo build --locked --release -p tokens-console
  root=$out/tokens-console
  mkdir -p "$root/usr/bin"
  install -m 755 target/release/tokens-console "$root/usr/bin/"
  strip --strip-unneeded "$root/usr/bin/tokens-console"
  deb tokens-console "$root" "$(shlib_depends "$root/usr/bin/tokens-console")" \
    "terminal console for pg_tokens" \
    "tokens-console administers pg_tokens API tokens in a PostgreSQL database: list, mint, revoke, rotate, limits, the audit log and its checkpoints, leak scans."
}

majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=("${PG_MAJORS[@]}")
for major in "${majors[@]}"; do extension_package "$major"; done
console_package

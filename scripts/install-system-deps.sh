#!/usr/bin/env bash
# Install the Debian/Ubuntu packages civgrid needs, only those that are missing.
#   scripts/install-system-deps.sh          PostgreSQL + PostGIS, Python venv, Node/npm, Pango, CJK fonts
#   scripts/install-system-deps.sh test     ... plus Chromium and poppler-utils for the tests
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

missing=()
need_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed" || missing+=("$1"); }

# PostgreSQL server + PostGIS for the server's major version (any version with PostGIS works).
pg_major=""
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  pg_major=$(ls /usr/lib/postgresql | sort -n | tail -1)
fi
apt_updated=0
apt_update() { if [ $apt_updated = 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi; }
if [ -z "$pg_major" ]; then
  apt_update
  pg_major=$(apt-cache depends postgresql 2>/dev/null | sed -n 's/.*Depends: postgresql-\([0-9]\+\)$/\1/p' | head -1)
  [ -n "$pg_major" ] || { echo "cannot find a PostgreSQL package in apt" >&2; exit 1; }
  need_pkg "postgresql-$pg_major"
fi
need_pkg "postgresql-$pg_major-postgis-3"
need_pkg libpq-dev
command -v gcc >/dev/null || missing+=(gcc)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
python3 -c 'import sysconfig, os, sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)' || missing+=(python3-dev)
command -v npm >/dev/null || missing+=(nodejs npm)
# WeasyPrint (the bulletin's PDF) lays text out with Pango; Chinese needs a CJK font.
need_pkg libpango-1.0-0
need_pkg libpangoft2-1.0-0
need_pkg fonts-noto-cjk
if [ "${1:-}" = "test" ]; then
  command -v chromium >/dev/null || missing+=(chromium)
  # pdftoppm and pdftotext: the tests render the bulletin's PDF and read its text back
  command -v pdftoppm >/dev/null || missing+=(poppler-utils)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  apt_update
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's postgresql package starts a cluster on 5432; civgrid does not use it.
echo "system packages ok (PostgreSQL $pg_major with PostGIS)"

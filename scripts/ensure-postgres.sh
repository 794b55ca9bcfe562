#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, pg_ctl, postgres) are on this machine.
# Kesu runs its own private cluster under .data/ (make run) or a temp dir (make test);
# it never touches a system-wide cluster. On Debian the binaries come from the
# `postgresql` package; install it when they are missing.
set -euo pipefail

find_initdb() {
  command -v initdb 2>/dev/null && return 0
  ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1
}

if [ -n "$(find_initdb)" ]; then
  exit 0
fi

echo "PostgreSQL binaries not found: installing Debian's postgresql package" >&2
. "$(dirname "$0")/apt.sh"
# postgresql-common would create and start a system cluster; we do not want one.
as_root mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.d/kesu.conf >/dev/null
apt_install postgresql postgresql-contrib
[ -n "$(find_initdb)" ] || { echo "postgresql installed but initdb still not found" >&2; exit 1; }

#!/usr/bin/env bash
# Starts a throw-away PostgreSQL on 127.0.0.1:54329 (trust auth) and prints its URL.
# Idempotent: a running cluster is reused. Stop with: .ci/pg-stop.sh
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt-get update -q >&2
  apt-get install -y -q postgresql >&2
fi
PGVER=$(ls /usr/lib/postgresql | sort -V | tail -1)
PGBIN=/usr/lib/postgresql/$PGVER/bin
PGPORT=${DSH_PG_PORT:-54329}
PGDATA=${DSH_PG_DATA:-/tmp/dsh-pgdata}
cd /   # runuser keeps the cwd, and postgres cannot read /root
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  install -d -o postgres -g postgres -m 700 "$PGDATA"
  runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >&2
fi
# One exception to trust: members of dsh_password_required must give a password over TCP, so the
# tests can show that a password in the store URL really reaches libpq and pg_dump (PGPASSWORD).
# Idempotent; placed before the trust lines (the first matching line wins); a running server reloads.
HBA_LINE="host all +dsh_password_required 127.0.0.1/32 scram-sha-256"
HBA_ADDED=no
if ! grep -qF "$HBA_LINE" "$PGDATA/pg_hba.conf"; then
  { echo "$HBA_LINE"; cat "$PGDATA/pg_hba.conf"; } > "$PGDATA/pg_hba.conf.new"
  chown postgres:postgres "$PGDATA/pg_hba.conf.new"
  chmod 600 "$PGDATA/pg_hba.conf.new"
  mv "$PGDATA/pg_hba.conf.new" "$PGDATA/pg_hba.conf"
  HBA_ADDED=yes
fi
if runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1 && [ "$HBA_ADDED" = yes ]; then
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" reload >&2
fi
if ! runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >&2
fi
if ! runuser -u postgres -- "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -tAc \
  "select 1 from pg_database where datname='dsh_test'" | grep -q 1; then
  runuser -u postgres -- "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres dsh_test
fi
runuser -u postgres -- "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qtAc \
  "do \$\$ begin if not exists (select 1 from pg_roles where rolname = 'dsh_password_required') then create role dsh_password_required nologin; end if; end \$\$" >&2
echo "postgres://postgres@127.0.0.1:$PGPORT/dsh_test"

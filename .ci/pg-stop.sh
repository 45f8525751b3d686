#!/usr/bin/env bash
set -euo pipefail
PGVER=$(ls /usr/lib/postgresql | sort -V | tail -1)
PGDATA=${DSH_PG_DATA:-/tmp/dsh-pgdata}
cd /
runuser -u postgres -- "/usr/lib/postgresql/$PGVER/bin/pg_ctl" -D "$PGDATA" -m fast -w stop || true

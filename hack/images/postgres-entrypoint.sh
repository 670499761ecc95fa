#!/bin/bash
# Entrypoint of the PostgreSQL image hack/images.sh builds, after the official image's
# contract: on an empty $PGDATA it runs initdb with POSTGRES_USER (default postgres) and
# POSTGRES_PASSWORD, creates POSTGRES_DB (default: the user's name), runs
# /docker-entrypoint-initdb.d/*.sh and *.sql, then serves on every address (port 5432)
# with password authentication (POSTGRES_HOST_AUTH_METHOD, default scram-sha-256) for
# host connections. Started as root it fixes $PGDATA's owner and drops to postgres (uid 999).
set -Eeuo pipefail

if [[ "${1:-}" == -* ]]; then set -- postgres "$@"; fi

if [[ "${1:-}" != postgres ]]; then exec "$@"; fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [[ "$(id -u)" == 0 ]]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chmod 3777 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$0" "$@"
fi

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  mkdir -p "$PGDATA" 2>/dev/null || true
  if [[ ! -w "$PGDATA" ]]; then
    echo "postgres-entrypoint: $PGDATA is not writable by uid $(id -u); run as root or give the volume to uid 999" >&2
    exit 1
  fi
  chmod 700 "$PGDATA" 2>/dev/null || true
  POSTGRES_USER="${POSTGRES_USER:-postgres}"
  POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
  auth="${POSTGRES_HOST_AUTH_METHOD:-}"
  if [[ -z "${POSTGRES_PASSWORD:-}" && "$auth" != trust ]]; then
    echo "postgres-entrypoint: the database is uninitialized and POSTGRES_PASSWORD is not set;" \
      "set it, or POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without one" >&2
    exit 1
  fi
  [[ -n "$auth" ]] || auth=scram-sha-256
  pwfile=$(mktemp)
  trap 'rm -f "$pwfile"' EXIT
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as upstream
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
    --auth-host="$auth" ${POSTGRES_INITDB_ARGS:-} >&2
  rm -f "$pwfile"
  trap - EXIT
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  printf 'host all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

  # A server on the Unix socket only while the database and init scripts are set up.
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -p 5432" start >&2
  psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres -q)
  if [[ "$POSTGRES_DB" != postgres ]]; then
    echo 'CREATE DATABASE :"db";' | "${psql[@]}" -v db="$POSTGRES_DB"
  fi
  shopt -s nullglob
  # shellcheck disable=SC1090 # the user's init scripts
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) echo "postgres-entrypoint: running $f" >&2; . "$f" ;;
      *.sql) echo "postgres-entrypoint: running $f" >&2; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *) echo "postgres-entrypoint: ignoring $f" >&2 ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >&2
  echo "postgres-entrypoint: initialized $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)" >&2
fi

exec "$@"

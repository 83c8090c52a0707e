#!/bin/sh
# Entry point of the stand-in PostgreSQL image (postgres.Dockerfile): on an empty data folder,
# create the cluster with POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB as the official
# image does; then run the server, listening on every interface with password logins.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is not set: set it in the environment of the service}"
user="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$user}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  password_file="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
  initdb --username="$user" --pwfile="$password_file" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 -D "$PGDATA"
  rm -f "$password_file"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  # The set-up server listens on a private socket only, so pg_isready (the health check)
  # says no until the real server below is up with the database created.
  setup="$(mktemp -d)"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=$setup" -w start
  if [ "$database" != "postgres" ]; then
    createdb --host="$setup" --username="$user" --owner="$user" "$database"
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop
  rmdir "$setup"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*'

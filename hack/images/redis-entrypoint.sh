#!/bin/sh
# Entrypoint of the Redis image hack/images.sh builds (Debian's redis-server 7.0). Arguments
# that start with `-`, or a first argument naming a .conf file, go to redis-server, which
# always listens on every address with protected mode off: `--requirepass SECRET` and other
# options work as arguments. Started as root it drops to redis (uid 999); data goes to /data.
set -eu

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

if [ "$1" = redis-server ]; then
  shift
  if [ "$(id -u)" = 0 ]; then
    chown redis:redis /data 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups -- "$0" redis-server "$@"
  fi
  conf=
  if [ "$#" -gt 0 ] && [ "${1%.conf}" != "$1" ]; then conf=$1; shift; fi
  # A configuration file must come first; the options after it override it.
  exec redis-server ${conf:+"$conf"} --bind 0.0.0.0 --protected-mode no "$@"
fi

exec "$@"

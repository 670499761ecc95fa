#!/usr/bin/env bash
# shellcheck disable=SC2317 # the final `; exit` makes shellcheck take functions for unreachable
# Builds the container images a real node needs, without Docker and without any registry:
# each is a root filesystem (Debian from the mirror this machine's apt uses, Python packages
# from PyPI, pause from the k8s.io/kubernetes Go module) packed as an OCI image archive of
# one layer, named with the exact, fully qualified names the operator renders, so that
# `ctr -n k8s.io images import --all-platforms ARCHIVE` gives kubelet images it never pulls
# (imagePullPolicy IfNotPresent). Archives are cached outside the repository, keyed by
# everything that makes them (versions, recipes, the files under hack/images/): a second
# run builds nothing.
#
#   hack/images.sh [NAME|ID...]   build what is missing (all when none is given), then print
#                                 `NAME<TAB>ARCHIVE` for every name of every image asked for;
#                                 an archive carries all its names, so import each distinct
#                                 ARCHIVE once (`cut -f2 | sort -u`)
#   hack/images.sh --list         print every image name, without building
#   hack/images.sh --ids          print `ID<TAB>NAME...` for every image, without building
#
# The operator's own image is made of a binary built outside this script: it is built only
# when SUPERSET_OPERATOR_IMAGE_BIN names one (see `operator` below). --list and --ids always show
# it; "all" includes it only when the variable is set (otherwise one line on stderr says it
# was skipped), and asking for it by name or id without the variable is an error.
#
# NAME may be short (`postgres:15`, `apache/superset:6.1.0`); it is normalised as containerd
# does. Archives: $cache/images/<id>-<hash>/<id>.tar, with build.json beside it (digests,
# sizes, cold build time), where $cache is ${SUPERSET_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/superset-operator}.
# Building needs root (debootstrap, chroot), python3, and Go plus gcc for pause; printing
# archives that exist already does not (the operator's still reads its binary: the sha256 is
# in its key). IMAGES_GZIP=1 gzips the layers (smaller, slower); IMAGES_DEBIAN_MIRROR
# overrides the Debian archive read from /etc/apt.
#
# Images (ID: names):
#   superset-6.1.0, superset-6.0.0: <operator's default repository>:<version> and
#     docker.io/apache/superset:<version>. Lean like the official image: Debian bookworm,
#     python3 venv at /app/.venv with apache-superset from PyPI plus the packaging fixes
#     PyPI installs need; no psycopg2, no flower; user superset (1000:1000).
#   superset-6.1.0-dev, superset-6.0.0-dev: ...:<version>-dev, and also
#     docker.io/library/superset-flower:<version> (the examples' Flower image): the lean
#     image plus psycopg2-binary (the postgres extra), flower, and for 6.1.0 the fastmcp
#     extra (`superset mcp run`). Not added, unlike the official -dev: mysqlclient (needs a
#     compiler and libmysqlclient headers), python-ldap and the test tools of the development
#     extra, the bigquery extra, git, playwright and browsers.
#   postgres-15: docker.io/library/postgres:15, and docker.io/library/postgres:17-alpine, a
#     stand-in under the name the operator renders for its createDatabase and seed client
#     containers (Debian bookworm has only PostgreSQL 15: its psql/createdb/pg_dump serve a
#     15 server, not a newer one). Official entrypoint contract (POSTGRES_USER/PASSWORD/DB).
#   redis-7: docker.io/library/redis:7: Debian's redis-server 7.0, listening on every address
#     with protected mode off; options such as `--requirepass` are passed as arguments.
#   nginx-alpine: docker.io/library/nginx:alpine (the maintenance page's default): Debian's
#     nginx, user nginx 101:101 as in the official image, serving the operator's rendered
#     `nginx -c /etc/superset-maintenance/nginx.conf` with a read-only root.
#   pause-3.10.1: registry.k8s.io/pause:3.10.1 (Kubernetes 1.35's pause): only /pause, built
#     with `gcc -static` from the module's build/pause/linux/pause.c; set containerd's
#     sandbox_image to it.
#   operator: docker.io/library/superset-operator:<version>, <version> the appVersion of
#     charts/superset-operator/Chart.yaml (what config/install.yaml and the chart render,
#     `superset-operator:<version>`). As the repository's Dockerfile: Debian bookworm with
#     ca-certificates, $SUPERSET_OPERATOR_IMAGE_BIN (a release build: `cargo build --release
#     --locked -p superset-operator`, then target/release/superset-operator; a relative path
#     is from the current directory) at /usr/local/bin/superset-operator, user 65532:65532,
#     ENTRYPOINT that binary, CMD `run --leader-elect --log-format=json`, ports 8080 and 8081.
#     The binary's sha256 is in the key: a new build is a new archive, made in seconds from
#     the cached base, and the archive of the previous build is removed.
# Not built: mysql:8.4 (not in Debian), oneacrefund/superset-websocket (not in a registry).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
files="$here/images"

SUITE=bookworm
SUPERSET_VERSIONS=(6.1.0 6.0.0)
# crates/api/src/image.rs DEFAULT_SUPERSET_REPOSITORY: the name every Superset pod renders.
SUPERSET_REPOSITORY=apachesuperset.docker.scarf.sh/apache/superset
# Packages apache-superset from PyPI needs and does not declare, or declares too loosely:
# the CLI imports rich; /login/ needs cachetools; flask-caching 2.3.1+ breaks
# SupersetMetastoreCache; the newest celery/kombu (5.7.0) refuse the redis-py Superset
# pins (5.x for 6.1.0, 4.x for 6.0.0); celery 5.5.3 with kombu 5.5.4 accepts both.
SUPERSET_FIXES=(rich cachetools "flask-caching<2.3.1" celery==5.5.3 kombu==5.5.4)
# The latest flower; it needs celery>=5.0.5.
FLOWER=flower==2.2.0
PG_MAJOR=15
KUBERNETES_VERSION=v1.35.4
PAUSE_VERSION=3.10.1

cache_root="${SUPERSET_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/superset-operator}"
images_dir="$cache_root/images"

log() { echo "images: $*" >&2; }
fail() { echo "images: error: $*" >&2; exit 1; }

# The operator image's tag is the chart's appVersion, the tag config/install.yaml and the
# chart render (`superset-operator:<version>`): read, so that a release bump is one edit.
operator_version() {
  local chart="$here/../charts/superset-operator/Chart.yaml" v
  v=$(sed -n -E "s/^appVersion:[[:space:]]*[\"']?([^\"'[:space:]#]+)[\"']?[[:space:]]*(#.*)?\$/\\1/p" \
    "$chart" 2>/dev/null | head -n1)
  [[ "$v" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || fail "no usable appVersion in $chart"
  echo "$v"
}
OPERATOR_VERSION=$(operator_version)
# Set by operator_bin, only when the operator image is asked for.
OPERATOR_BIN=
OPERATOR_BIN_SHA=

# ------------------------------------------------------------------------------ catalog

ids() {
  local v
  for v in "${SUPERSET_VERSIONS[@]}"; do echo "superset-$v"; done
  for v in "${SUPERSET_VERSIONS[@]}"; do echo "superset-$v-dev"; done
  echo postgres-$PG_MAJOR
  echo redis-7
  echo nginx-alpine
  echo pause-$PAUSE_VERSION
  echo operator
}

# The names one image carries, the first its primary one.
names_of() {
  local id=$1 v
  case "$id" in
    superset-*-dev)
      v=${id#superset-}; v=${v%-dev}
      echo "$SUPERSET_REPOSITORY:$v-dev"
      echo "docker.io/apache/superset:$v-dev"
      echo "docker.io/library/superset-flower:$v" ;;
    superset-*)
      v=${id#superset-}
      echo "$SUPERSET_REPOSITORY:$v"
      echo "docker.io/apache/superset:$v" ;;
    postgres-*)
      echo "docker.io/library/postgres:$PG_MAJOR"
      echo "docker.io/library/postgres:17-alpine" ;;
    redis-7) echo "docker.io/library/redis:7" ;;
    nginx-alpine) echo "docker.io/library/nginx:alpine" ;;
    pause-*) echo "registry.k8s.io/pause:$PAUSE_VERSION" ;;
    operator) echo "docker.io/library/superset-operator:$OPERATOR_VERSION" ;;
    *) return 1 ;;
  esac
}

kind_of() {
  case "$1" in
    superset-*-dev) echo superset_dev ;;
    superset-*) echo superset ;;
    postgres-*) echo postgres ;;
    redis-*) echo redis ;;
    nginx-*) echo nginx ;;
    pause-*) echo pause ;;
    operator) echo operator ;;
  esac
}

# containerd's normalisation: `x` is docker.io/library/x:latest, `a/b` is docker.io/a/b.
normalize() {
  local ref=$1 first rest
  first=${ref%%/*}
  if [[ "$ref" != */* ]]; then
    ref="docker.io/library/$ref"
  elif [[ "$first" != *.* && "$first" != *:* && "$first" != localhost ]]; then
    ref="docker.io/$ref"
  fi
  rest=${ref##*/}
  [[ "$rest" == *:* || "$rest" == *@* ]] || ref="$ref:latest"
  echo "$ref"
}

# --------------------------------------------------------------------------- cache keys

sha() { sha256sum | cut -c1-12; }

arch() {
  if command -v dpkg >/dev/null; then dpkg --print-architecture; return; fi
  case "$(uname -m)" in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    *) uname -m ;;
  esac
}

base_key() {
  { echo "$SUITE $(arch)"; declare -f build_base trim_rootfs; } | sha
}

# Everything that decides an image's bytes, so a changed recipe is a new key.
image_key() {
  local id=$1 kind
  kind=$(kind_of "$id")
  {
    echo "$id $(arch)"
    names_of "$id"
    declare -f "build_$kind" "config_$kind" pack_rootfs finalize_rootfs trim_rootfs
    case "$kind" in
      superset)
        echo "${SUPERSET_FIXES[*]}"
        declare -f pip_install
        cat "$files/superset-run-server.sh" ;;
      superset_dev) echo "${SUPERSET_FIXES[*]} $FLOWER" ;;
      postgres) cat "$files/postgres-entrypoint.sh" ;;
      redis) cat "$files/redis-entrypoint.sh" ;;
      pause) echo "$KUBERNETES_VERSION" ;;
      operator) echo "${OPERATOR_BIN_SHA:?operator_bin first}" ;;
    esac
    case "$kind" in
      superset_dev) image_key "${id%-dev}" ;;
      pause) ;;
      *) base_key; declare -f copy_base apt_install ;;
    esac
    cat "$files/oci.py"
  } | sha
}

image_dir() { echo "$images_dir/$1-$(image_key "$1")"; }
archive_of() { echo "$(image_dir "$1")/$1.tar"; }

# ----------------------------------------------------------------------------- plumbing

# in_root ROOTFS [--user UID:GID] [--pip-cache] [--ro] [--tmpfs DIR] [--bind SRC:DST] -- CMD...
# Runs CMD chrooted in ROOTFS with a clean environment (NAME=VALUE words may lead CMD), in a
# private mount namespace: its /proc, /dev and any binds vanish with it and never reach the
# host, so nothing is left mounted under a root filesystem that is later removed.
in_root() {
  local rootfs=$1 user=0:0 pip='' ro='' tmpfs=() binds=()
  shift
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --user) user=$2; shift 2 ;;
      --pip-cache) pip="$images_dir/pip-cache"; mkdir -p "$pip"; shift ;;
      --ro) ro=1; shift ;;
      --tmpfs) tmpfs+=("$2"); shift 2 ;;
      --bind) binds+=("$2"); shift 2 ;;
      --) shift; break ;;
      *) break ;;
    esac
  done
  # IN_ROOT_EXEC=1 (in a background job) replaces the job's shell, so that $! is the
  # process signals must reach.
  # shellcheck disable=SC2016 # expanded by the inner shell
  ${IN_ROOT_EXEC:+exec} unshare --mount --propagation private -- /bin/bash -euc '
    r=$1 user=$2 pip=$3 ro=$4 tmpfs=$5 binds=$6
    shift 6
    if [[ -n $ro ]]; then mount --bind "$r" "$r"; mount -o remount,bind,ro "$r"; fi
    mount -t proc proc "$r/proc"
    mount -t tmpfs -o mode=755,nosuid tmpfs "$r/dev"
    mknod -m 666 "$r/dev/null" c 1 3
    mknod -m 666 "$r/dev/zero" c 1 5
    mknod -m 666 "$r/dev/full" c 1 7
    mknod -m 666 "$r/dev/random" c 1 8
    mknod -m 666 "$r/dev/urandom" c 1 9
    mknod -m 666 "$r/dev/tty" c 5 0
    ln -s /proc/self/fd "$r/dev/fd"
    ln -s /proc/self/fd/0 "$r/dev/stdin"
    ln -s /proc/self/fd/1 "$r/dev/stdout"
    ln -s /proc/self/fd/2 "$r/dev/stderr"
    mkdir -m 1777 "$r/dev/shm" "$r/dev/pts"
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/dev/shm"
    for d in $tmpfs; do mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r$d"; done
    for b in $binds; do mount --bind "${b%%:*}" "$r${b#*:}"; done
    if [[ -n $pip ]]; then mkdir -p "$r/root/.cache/pip"; mount --bind "$pip" "$r/root/.cache/pip"; fi
    exec chroot --userspec="$user" "$r" /usr/bin/env -i \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
  ' in_root "$rootfs" "$user" "$pip" "$ro" "${tmpfs[*]}" "${binds[*]}" "$@"
}

# run DESCRIPTION CMD...: CMD's output goes to the build log; on failure, its tail is shown.
run() {
  local what=$1
  shift
  echo "+ $what" >>"$build_log"
  if ! "$@" >>"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    fail "$what failed (full log: $build_log)"
  fi
}

# Refuses to remove a directory with anything mounted below it.
safe_rm() {
  local dir=$1
  [[ -e "$dir" ]] || return 0
  if awk -v d="$(realpath "$dir")/" 'index($2 "/", d) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
    fail "something is mounted under $dir; unmount it first"
  fi
  rm -rf --one-file-system "$dir"
}

# stop PID SIGNAL: signals a server started with IN_ROOT_EXEC=1 ... &, and waits for it
# (killing it after 20 s).
stop() {
  local pid=$1
  kill -s "$2" "$pid" 2>/dev/null || true
  for _ in $(seq 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  servers=()  # one at a time
}

copy_base() {
  mkdir -p "$2"
  cp -a "$1/." "$2/"
  rm -f "$2/etc/resolv.conf"
  cp -L /etc/resolv.conf "$2/etc/resolv.conf"
}

apt_install() {
  local r=$1
  shift
  if ! in_root "$r" -- apt-get install -y -qq --no-install-recommends "$@" >>"$build_log" 2>&1; then
    run "apt-get update" in_root "$r" -- apt-get update -qq
    run "apt-get install $*" in_root "$r" -- apt-get install -y -qq --no-install-recommends "$@"
  fi
}

# Only what the image needs: no package lists, caches, logs, docs (copyright files stay),
# man pages or translations; the runtime provides resolv.conf, hosts and hostname.
trim_rootfs() {
  local r=$1
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/* "$r"/var/cache/debconf/*-old \
    "$r"/var/lib/dpkg/*-old "$r"/usr/share/man/* "$r"/usr/share/info/* \
    "$r"/usr/share/lintian/* "$r"/usr/share/linda/* "$r"/tmp/* "$r"/var/tmp/* \
    "$r"/root/.cache "$r"/etc/machine-id "$r"/var/lib/dbus/machine-id
  if [[ -d "$r/usr/share/doc" ]]; then
    find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  fi
  if [[ -d "$r/usr/share/locale" ]]; then
    find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  fi
  [[ -d "$r/var/log" ]] && find "$r/var/log" -type f -delete
  return 0
}

finalize_rootfs() {
  local r=$1
  trim_rootfs "$r"
  rm -f "$r/etc/resolv.conf"
  [[ -d "$r/etc" ]] || return 0
  : >"$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
}

# pack_rootfs ROOTFS OUT.tar NAME... -- PACK-OPTIONS...: the one-layer OCI archive.
pack_rootfs() {
  local r=$1 out=$2 names=() opts=()
  shift 2
  while [[ $# -gt 0 && "$1" != -- ]]; do names+=(--name "$1"); shift; done
  [[ $# -gt 0 ]] && shift
  opts=("$@")
  [[ -n "${IMAGES_GZIP:-}" ]] && opts+=(--gzip)
  run "tar the root filesystem" tar --create --file "$out.layer" --numeric-owner --sort=name \
    --directory "$r" --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' .
  python3 "$files/oci.py" pack --layer "$out.layer" --out "$out" --arch "$(arch)" \
    "${names[@]}" "${opts[@]}" >"$out.json" 2>>"$build_log" || fail "packing $out failed (log: $build_log)"
  rm -f "$out.layer"
}

# --------------------------------------------------------------------------------- base

build_base() {
  local dest=$1 keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [[ -f "$keyring" ]] || keyring=
  run "debootstrap --variant=minbase $SUITE" debootstrap --variant=minbase --arch="$(arch)" \
    ${keyring:+--keyring="$keyring"} "$SUITE" "$dest" "$DEBIAN_MIRROR"
  rm -f "$dest/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' \
      "$DEBIAN_MIRROR" "$SUITE" "$SUITE"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [[ -n "$DEBIAN_SECURITY" ]]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' \
        "$DEBIAN_SECURITY" "$SUITE"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } >"$dest/etc/apt/sources.list.d/debian.sources"
  # As Debian's container images: no recommends, no docs, no services started by dpkg.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$dest/etc/apt/apt.conf.d/90images-no-recommends"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/lintian/*' 'path-exclude /usr/share/locale/*' \
    'path-include /usr/share/locale/locale.alias' >"$dest/etc/dpkg/dpkg.cfg.d/90images-excludes"
  printf '#!/bin/sh\nexit 101\n' >"$dest/usr/sbin/policy-rc.d"
  chmod 755 "$dest/usr/sbin/policy-rc.d"
  rm -f "$dest/etc/resolv.conf"
  cp -L /etc/resolv.conf "$dest/etc/resolv.conf"
  run "apt-get update (base)" in_root "$dest" -- apt-get update -qq
  run "apt-get upgrade (base)" in_root "$dest" -- apt-get -y -qq upgrade
  in_root "$dest" -- apt-get clean
  # Lists stay: every image installs from them (and refreshes them if they went stale).
  rm -rf "$dest"/usr/share/man/* "$dest"/usr/share/info/* "$dest"/var/cache/apt/*.bin
  find "$dest/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$dest/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
}

ensure_base() {
  local key dir
  key=$(base_key)
  dir="$images_dir/base/$SUITE-$key"
  BASE_ROOTFS="$dir/rootfs"
  [[ -f "$dir/done" ]] && return 0
  log "building the shared Debian $SUITE base (debootstrap --variant=minbase, about a minute)"
  local started=$SECONDS build_log="$images_dir/base/$SUITE-$key.log"
  mkdir -p "$images_dir/base"
  : >"$build_log"
  safe_rm "$dir.partial"
  mkdir -p "$dir.partial"
  build_base "$dir.partial/rootfs"
  echo "$(( SECONDS - started ))" >"$dir.partial/done"
  safe_rm "$dir"
  mv "$dir.partial" "$dir"
  local old
  for old in "$images_dir/base/$SUITE"-*; do
    [[ "$old" == "$dir" || "$old" == "$build_log" ]] && continue
    if [[ -d "$old" ]]; then safe_rm "$old"; else rm -f "$old"; fi
  done
  log "base ready in $(( SECONDS - started )) s ($(du -sh "$BASE_ROOTFS" | cut -f1))"
}

# ----------------------------------------------------------------------------- superset

pip_install() {
  local r=$1
  shift
  local ca=()
  if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
    # This machine's trust store, for PyPI, while building only.
    cp /etc/ssl/certs/ca-certificates.crt "$r/tmp/build-ca.crt"
    ca=(PIP_CERT=/tmp/build-ca.crt)
  fi
  run "pip install $*" in_root "$r" --pip-cache -- "${ca[@]}" PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 PIP_DEFAULT_TIMEOUT=180 PIP_PROGRESS_BAR=off \
    /app/.venv/bin/pip install --quiet --cache-dir /root/.cache/pip "$@"
  rm -f "$r/tmp/build-ca.crt"
}

build_superset() {
  local id=$1 r=$2 v=${1#superset-}
  copy_base "$BASE_ROOTFS" "$r"
  apt_install "$r" python3 python3-venv ca-certificates curl
  run "add user superset" in_root "$r" -- useradd --user-group --uid 1000 \
    --home-dir /app/superset_home --create-home --no-log-init --shell /bin/bash superset
  mkdir -p "$r/app/pythonpath" "$r/app/superset_home" "$r/app/docker/entrypoints"
  chmod 1777 "$r/app/superset_home"
  chown 1000:1000 "$r/app/pythonpath" "$r/app/superset_home"
  run "python3 -m venv /app/.venv" in_root "$r" -- python3 -m venv /app/.venv
  pip_install "$r" "apache-superset==$v" "${SUPERSET_FIXES[@]}"
  install -m 755 "$files/superset-run-server.sh" "$r/usr/bin/run-server.sh"
  install -m 755 "$files/superset-run-server.sh" "$r/app/docker/entrypoints/run-server.sh"
}

config_superset() {
  local v=${1#superset-}
  printf '%s\n' --user superset --workdir /app --port 8088/tcp \
    --env PATH=/app/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --env SUPERSET_ENV=production --env SUPERSET_HOME=/app/superset_home \
    --env HOME=/app/superset_home --env PYTHONPATH=/app/pythonpath --env SUPERSET_PORT=8088 \
    --env 'FLASK_APP=superset.app:create_app()' \
    --cmd '["/app/docker/entrypoints/run-server.sh"]' \
    --label org.opencontainers.image.version="${v%-dev}" \
    --label "org.opencontainers.image.description=apache-superset ${v%-dev} from PyPI, built by hack/images.sh"
}

# Superset as the operator runs it: uid 1000, the image's environment, a secret key set.
superset_env() {
  echo --user 1000:1000 -- HOME=/app/superset_home SUPERSET_HOME=/app/superset_home \
    PYTHONPATH=/app/pythonpath SUPERSET_PORT=8088 'FLASK_APP=superset.app:create_app()' \
    SUPERSET_SECRET_KEY=images-smoke-check-not-a-secret \
    PATH=/app/.venv/bin:/usr/local/bin:/usr/bin:/bin
}

smoke_superset() {
  local r=$2 env
  read -ra env < <(superset_env)
  run "superset version (as uid 1000)" in_root "$r" "${env[@]}" /app/.venv/bin/superset version
  run "imports" in_root "$r" "${env[@]}" python -c \
    'import rich, cachetools, flask_caching, celery, kombu.transport.redis, redis, gunicorn'
  echo "+ import psycopg2, import flower: both must fail in the lean image" >>"$build_log"
  if in_root "$r" "${env[@]}" python -c 'import psycopg2' >>"$build_log" 2>&1; then
    fail "the lean image has psycopg2; it must not"
  fi
  if in_root "$r" "${env[@]}" python -c 'import flower' >>"$build_log" 2>&1; then
    fail "the lean image has flower; it must not"
  fi
  in_root "$r" "${env[@]}" pip list --format=freeze 2>/dev/null |
    grep -iE '^(apache-superset|celery|kombu|redis|flask-caching|cachetools|rich|gunicorn|psycopg2-binary|flower|fastmcp)==' \
    >>"$build_log" || true
  rm -rf "$r/app/superset_home/"* "$r/app/superset_home/".[!.]* 2>/dev/null || true
}

build_superset_dev() {
  local id=$1 r=$2 v lean layer gz extras=postgres
  v=${id#superset-}; v=${v%-dev}
  lean=$(archive_of "superset-$v")
  # The lean image's layer: its digest, and `gzip` when it is compressed.
  read -r layer gz < <(python3 -c 'import json, sys
info = json.load(open(sys.argv[1]))
print(info["layer"].split(":")[1], "gzip" if info["layer_media_type"].endswith("+gzip") else "cat")' \
    "$(image_dir "superset-$v")/build.json")
  mkdir -p "$r"
  # shellcheck disable=SC2016 # expanded by the inner shell
  run "unpack superset-$v" bash -o pipefail -c \
    'tar -xOf "$1" "blobs/sha256/$2" | if [[ $4 == gzip ]]; then gzip -dc; else cat; fi |
     tar -x --numeric-owner -C "$3"' _ "$lean" "$layer" "$r" "$gz"
  # The MCP service is new in 6.1.0; its extra brings fastmcp.
  [[ "$v" == 6.0.* ]] || extras=postgres,fastmcp
  cp -L /etc/resolv.conf "$r/etc/resolv.conf"
  pip_install "$r" "apache-superset[$extras]==$v" "$FLOWER" "${SUPERSET_FIXES[@]}"
}

config_superset_dev() { config_superset "$1"; }

smoke_superset_dev() {
  local id=$1 r=$2 env
  read -ra env < <(superset_env)
  run "superset version (as uid 1000)" in_root "$r" "${env[@]}" /app/.venv/bin/superset version
  run "import psycopg2" in_root "$r" "${env[@]}" python -c 'import psycopg2; print(psycopg2.__version__)'
  # flower has no script of its own: it is the `celery flower` command.
  run "flower version" in_root "$r" "${env[@]}" python -c 'import flower; print("flower", flower.__version__)'
  run "celery flower --help" in_root "$r" "${env[@]}" \
    celery --app=superset.tasks.celery_app:app flower --help
  if [[ "$id" != superset-6.0.* ]]; then
    run "superset mcp --help" in_root "$r" "${env[@]}" superset mcp run --help
  fi
  in_root "$r" "${env[@]}" pip list --format=freeze 2>/dev/null |
    grep -iE '^(apache-superset|celery|kombu|redis|flask-caching|psycopg2-binary|flower|fastmcp)==' \
    >>"$build_log" || true
  rm -rf "$r/app/superset_home/"* "$r/app/superset_home/".[!.]* 2>/dev/null || true
}

# ----------------------------------------------------------------------------- postgres

build_postgres() {
  local r=$2
  copy_base "$BASE_ROOTFS" "$r"
  # The official image's ids; no cluster made by the package, the entrypoint makes one.
  run "add user postgres" in_root "$r" -- sh -c 'groupadd -r -g 999 postgres &&
    useradd -r -g postgres -u 999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres'
  mkdir -p "$r/etc/postgresql-common" "$r/var/lib/postgresql"
  echo 'create_main_cluster = false' >"$r/etc/postgresql-common/createcluster.conf"
  chown 999:999 "$r/var/lib/postgresql"
  apt_install "$r" "postgresql-$PG_MAJOR"
  install -m 755 "$files/postgres-entrypoint.sh" "$r/usr/local/bin/docker-entrypoint.sh"
  mkdir -p "$r/docker-entrypoint-initdb.d" "$r/var/run/postgresql" "$r/var/lib/postgresql/data"
  chown 999:999 "$r/var/run/postgresql" "$r/var/lib/postgresql/data"
  chmod 3777 "$r/var/run/postgresql"
  chmod 1777 "$r/var/lib/postgresql/data"
}

config_postgres() {
  printf '%s\n' --entrypoint '["docker-entrypoint.sh"]' --cmd '["postgres"]' --port 5432/tcp \
    --stop-signal SIGINT --env "PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --env LANG=C.UTF-8 --env "PG_MAJOR=$PG_MAJOR" --env PGDATA=/var/lib/postgresql/data \
    --label "org.opencontainers.image.description=Debian $SUITE PostgreSQL $PG_MAJOR, built by hack/images.sh"
}

# The entrypoint initialises a database, serves it on loopback, and a client as uid 70 (the
# createDatabase init container's) reaches it with the password over TCP.
smoke_postgres() {
  local r=$2 port=15432 pid ok=
  local pg=(PATH="/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8)
  IN_ROOT_EXEC=1 in_root "$r" -- "${pg[@]}" PGDATA=/var/lib/postgresql/data POSTGRES_USER=superset \
    POSTGRES_PASSWORD='p@ss /#' POSTGRES_DB=superset docker-entrypoint.sh \
    postgres -c listen_addresses=127.0.0.1 -p "$port" >>"$build_log" 2>&1 &
  pid=$!
  servers+=("$pid")
  for _ in $(seq 60); do
    if in_root "$r" -- "${pg[@]}" pg_isready -q -h 127.0.0.1 -p "$port" 2>/dev/null; then ok=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  if [[ -n "$ok" ]]; then
    echo "+ psql and createdb as uid 70 with the password" >>"$build_log"
    in_root "$r" --user 70:70 -- "${pg[@]}" PGPASSWORD='p@ss /#' sh -c \
      "psql -h 127.0.0.1 -p $port -U superset -d superset -tAc 'select 1' &&
        createdb -h 127.0.0.1 -p $port -U superset smoke" >>"$build_log" 2>&1 || ok=
    if in_root "$r" --user 70:70 -- "${pg[@]}" PGPASSWORD=wrong \
      psql -w -h 127.0.0.1 -p "$port" -U superset -d superset -c 'select 1' >>"$build_log" 2>&1; then
      ok=
      echo "a wrong password was accepted" >>"$build_log"
    fi
  fi
  stop "$pid" INT
  [[ -n "$ok" ]] || { tail -n 30 "$build_log" >&2; fail "postgres smoke check failed (log: $build_log)"; }
  rm -rf "${r:?}/var/lib/postgresql/data/"* "$r/var/lib/postgresql/data/".[!.]* 2>/dev/null || true
}

# -------------------------------------------------------------------------------- redis

build_redis() {
  local r=$2
  copy_base "$BASE_ROOTFS" "$r"
  run "add user redis" in_root "$r" -- sh -c 'groupadd -r -g 999 redis &&
    useradd -r -g redis -u 999 --home-dir=/data --no-create-home redis'
  apt_install "$r" redis-server
  mkdir -p "$r/data"
  chown 999:999 "$r/data"
  install -m 755 "$files/redis-entrypoint.sh" "$r/usr/local/bin/docker-entrypoint.sh"
}

config_redis() {
  printf '%s\n' --entrypoint '["docker-entrypoint.sh"]' --cmd '["redis-server"]' --workdir /data \
    --port 6379/tcp --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --label "org.opencontainers.image.description=Debian $SUITE redis-server 7.0, built by hack/images.sh"
}

smoke_redis() {
  local r=$2 port=16379 pid ok=
  IN_ROOT_EXEC=1 in_root "$r" -- sh -c "cd /data && exec docker-entrypoint.sh --port $port --requirepass smoke-pass --bind 127.0.0.1 --save ''" \
    >>"$build_log" 2>&1 &
  pid=$!
  servers+=("$pid")
  for _ in $(seq 30); do
    if in_root "$r" -- redis-cli -p "$port" --no-auth-warning -a smoke-pass ping 2>/dev/null | grep -q PONG; then
      ok=1; break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if [[ -n "$ok" ]] && in_root "$r" -- redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
    ok=
    echo "redis answered without the password" >>"$build_log"
  fi
  if [[ -n "$ok" ]] && ! in_root "$r" -- redis-cli -p "$port" --no-auth-warning -a smoke-pass \
    config get protected-mode 2>/dev/null | grep -qx no; then
    ok=
    echo "protected-mode is not off" >>"$build_log"
  fi
  stop "$pid" TERM
  [[ -n "$ok" ]] || { tail -n 30 "$build_log" >&2; fail "redis smoke check failed (log: $build_log)"; }
  rm -rf "${r:?}/data/"*
}

# -------------------------------------------------------------------------------- nginx

build_nginx() {
  local r=$2
  copy_base "$BASE_ROOTFS" "$r"
  run "add user nginx" in_root "$r" -- sh -c 'groupadd --system --gid 101 nginx &&
    useradd --system --gid nginx --uid 101 --no-create-home --home-dir /nonexistent \
      --shell /bin/false nginx'
  apt_install "$r" nginx
  # As the official image: logs to the container's output, even before the config is read.
  ln -sf /dev/stdout "$r/var/log/nginx/access.log"
  ln -sf /dev/stderr "$r/var/log/nginx/error.log"
}

config_nginx() {
  printf '%s\n' --cmd '["nginx", "-g", "daemon off;"]' --port 80/tcp --stop-signal SIGQUIT \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --label "org.opencontainers.image.description=Debian $SUITE nginx, built by hack/images.sh"
}

# The maintenance page exactly as rendered (crates/render/src/maintenance.rs, nginx_conf):
# the operator's command, uid 101, a read-only root, /tmp a fresh volume.
smoke_nginx() {
  local r=$2 port=18088 page pid ok=
  page=$(mktemp -d)
  # shellcheck disable=SC2016
  sed -n '/^pub fn nginx_conf/,/^}$/p' "$here/../crates/render/src/maintenance.rs" |
    sed -n '/r#"/,/"#/p' | sed -e '1s/.*r#"//' -e '$d' -e 's/{{/{/g' -e 's/}}/}/g' \
      -e "s/{port}/$port/" -e 's#{CONFIG_DIR}#/etc/superset-maintenance#' >"$page/nginx.conf"
  grep -q "listen $port;" "$page/nginx.conf" ||
    fail "could not read the nginx configuration from crates/render/src/maintenance.rs"
  echo "+ nginx.conf as crates/render/src/maintenance.rs renders it" >>"$build_log"
  echo '<!DOCTYPE html><title>maintenance</title><p>images smoke check</p>' >"$page/index.html"
  chmod 755 "$page"
  chmod 644 "$page"/*
  mkdir -p "$r/etc/superset-maintenance"
  local opts=(--user 101:101 --ro --tmpfs /tmp --bind "$page:/etc/superset-maintenance" --)
  # nginx reopens /dev/stderr: as runc does for a container's stdio, give it to uid 101.
  local out="$page/out.log"
  install -o 101 -g 101 -m 600 /dev/null "$out"
  if ! in_root "$r" "${opts[@]}" nginx -t -c /etc/superset-maintenance/nginx.conf \
    -g 'daemon off;' >"$out" 2>&1; then
    cat "$out" >&2
    fail "nginx -t (uid 101, read-only root) failed"
  fi
  IN_ROOT_EXEC=1 in_root "$r" "${opts[@]}" nginx -c /etc/superset-maintenance/nginx.conf -g 'daemon off;' \
    >"$out" 2>&1 &
  pid=$!
  servers+=("$pid")
  for _ in $(seq 30); do
    if python3 - "$port" >>"$build_log" 2>&1 <<'EOF'
import sys, urllib.request, urllib.error
port = sys.argv[1]
body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
assert "images smoke check" in body, body
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
try:
    urllib.request.build_opener(NoRedirect).open(f"http://127.0.0.1:{port}/other", timeout=2)
    raise SystemExit("no redirect")
except urllib.error.HTTPError as e:
    assert e.code == 302 and e.headers["Location"].endswith("/"), (e.code, e.headers)
EOF
    then ok=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  stop "$pid" QUIT
  cat "$out" >>"$build_log"
  rm -rf "$page"
  rmdir "$r/etc/superset-maintenance"
  [[ -n "$ok" ]] || { tail -n 30 "$build_log" >&2; fail "nginx smoke check failed (log: $build_log)"; }
}

# -------------------------------------------------------------------------------- pause

build_pause() {
  local r=$2 dir tmp
  command -v go >/dev/null || fail "pause needs Go (to fetch the k8s.io/kubernetes module)"
  tmp=$(mktemp -d)
  dir=$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error")))') ||
    fail "go mod download k8s.io/kubernetes@$KUBERNETES_VERSION failed"
  rm -rf "$tmp"
  [[ -f "$dir/build/pause/linux/pause.c" ]] || fail "no build/pause/linux/pause.c in $dir"
  mkdir -p "$r"
  chmod 755 "$r"
  # As build/pause/Makefile: -Os -Wall -Werror -static -DVERSION=v<tag>-<revision>.
  run "gcc -static pause.c" gcc -Os -Wall -Werror -static \
    -DVERSION="v$PAUSE_VERSION-k8s.io/kubernetes@$KUBERNETES_VERSION" \
    -o "$r/pause" "$dir/build/pause/linux/pause.c"
  strip "$r/pause"
  chmod 755 "$r/pause"
}

config_pause() {
  printf '%s\n' --user 65535:65535 --entrypoint '["/pause"]' \
    --label "org.opencontainers.image.description=pause $PAUSE_VERSION from k8s.io/kubernetes@$KUBERNETES_VERSION, built by hack/images.sh"
}

smoke_pause() {
  local r=$2
  "$r/pause" -v >>"$build_log" 2>&1 || fail "/pause -v failed"
  ! ldd "$r/pause" >/dev/null 2>&1 || fail "/pause is not static"
}

# ----------------------------------------------------------------------------- operator

# Checks SUPERSET_OPERATOR_IMAGE_BIN and sets OPERATOR_BIN (absolute, since the build runs
# elsewhere) and OPERATOR_BIN_SHA, the key's part that makes a new build a new archive.
operator_bin() {
  local bin=${SUPERSET_OPERATOR_IMAGE_BIN:-}
  [[ -n "$bin" ]] || fail "the operator image needs SUPERSET_OPERATOR_IMAGE_BIN, the path of a release" \
    "build of superset-operator (cargo build --release --locked -p superset-operator;" \
    "SUPERSET_OPERATOR_IMAGE_BIN=target/release/superset-operator)"
  [[ -f "$bin" && -x "$bin" ]] ||
    fail "SUPERSET_OPERATOR_IMAGE_BIN=$bin is not an executable file (a relative path is from $PWD)"
  OPERATOR_BIN=$(realpath "$bin")
  OPERATOR_BIN_SHA=$(sha256sum <"$OPERATOR_BIN" | cut -d' ' -f1)
}

# As the repository's Dockerfile (debian:bookworm-slim): only ca-certificates and the binary.
build_operator() {
  local r=$2 got
  copy_base "$BASE_ROOTFS" "$r"
  apt_install "$r" ca-certificates
  install -D -m 755 "$OPERATOR_BIN" "$r/usr/local/bin/superset-operator"
  # The key was made from the bytes read before: a binary rebuilt since must not be archived
  # under it.
  got=$(sha256sum <"$r/usr/local/bin/superset-operator" | cut -d' ' -f1)
  [[ "$got" == "$OPERATOR_BIN_SHA" ]] || fail "$OPERATOR_BIN changed during the build; run again"
}

config_operator() {
  printf '%s\n' --user 65532:65532 --entrypoint '["/usr/local/bin/superset-operator"]' \
    --cmd '["run", "--leader-elect", "--log-format=json"]' --port 8080/tcp --port 8081/tcp \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --label org.opencontainers.image.version="$OPERATOR_VERSION" \
    --label "org.opencontainers.image.description=superset-operator $OPERATOR_VERSION (binary sha256 $OPERATOR_BIN_SHA) on Debian $SUITE, built by hack/images.sh"
}

# The binary as config/install.yaml runs it (uid 65532, a read-only root): it starts, is the
# version the image is named for (another version's binary would be misnamed), and accepts
# the image's CMD; the trust store is there for rustls.
smoke_operator() {
  local r=$2 opts=(--user 65532:65532 --ro --) version
  [[ -s "$r/etc/ssl/certs/ca-certificates.crt" ]] ||
    fail "the operator image has no /etc/ssl/certs/ca-certificates.crt"
  echo "+ superset-operator version (uid 65532, read-only root)" >>"$build_log"
  version=$(in_root "$r" "${opts[@]}" /usr/local/bin/superset-operator version 2>>"$build_log") ||
    { tail -n 20 "$build_log" >&2; fail "superset-operator does not run in its image (log: $build_log)"; }
  echo "$version" >>"$build_log"
  version=${version%%$'\n'*}
  [[ "$version" == "superset-operator $OPERATOR_VERSION" ]] ||
    fail "SUPERSET_OPERATOR_IMAGE_BIN prints \"$version\", but the chart's appVersion is $OPERATOR_VERSION"
  run "superset-operator run --leader-elect --log-format=json --help" in_root "$r" "${opts[@]}" \
    /usr/local/bin/superset-operator run --leader-elect --log-format=json --help
}

# -------------------------------------------------------------------------------- build

ensure_build_tools() {
  [[ "$(id -u)" -eq 0 ]] || fail "building images needs root (debootstrap, chroot, mount namespaces); run as root"
  local tool
  for tool in python3 tar unshare chroot sha256sum; do
    command -v "$tool" >/dev/null || fail "$tool is required"
  done
  tar --version | grep -q 'GNU tar' || fail "GNU tar is required"
}

ensure_debootstrap() {
  if ! command -v debootstrap >/dev/null; then
    command -v apt-get >/dev/null || fail "debootstrap is missing and there is no apt-get to install it"
    log "debootstrap is missing: installing it with apt-get"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } >&2 ||
      fail "could not install debootstrap"
  fi
  if [[ -n "${IMAGES_DEBIAN_MIRROR:-}" ]]; then
    DEBIAN_MIRROR=$IMAGES_DEBIAN_MIRROR
    DEBIAN_SECURITY=${IMAGES_DEBIAN_SECURITY:-}
  else
    local found
    found=$(python3 "$files/oci.py" mirror "$SUITE") ||
      fail "no Debian archive in /etc/apt/sources.list{,.d}; set IMAGES_DEBIAN_MIRROR"
    DEBIAN_MIRROR=$(awk '$1 == "main" { print $2 }' <<<"$found")
    DEBIAN_SECURITY=$(awk '$1 == "security" { print $2 }' <<<"$found")
  fi
}

ensure_gcc_static() {
  local probe
  probe=$(mktemp -d)
  echo 'int main(void){return 0;}' >"$probe/t.c"
  if ! gcc -static -o "$probe/t" "$probe/t.c" 2>/dev/null; then
    command -v apt-get >/dev/null || fail "pause needs gcc with a static libc (libc6-dev)"
    log "installing gcc and libc6-dev with apt-get (pause is linked statically)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev; } >&2 ||
      fail "could not install gcc and libc6-dev"
  fi
  rm -rf "$probe"
}

build_image() {
  local id=$1 kind dir key names=() config=() started work rootfs build_log v
  dir=$(image_dir "$id")
  [[ -f "$dir/$id.tar" ]] && return 0
  kind=$(kind_of "$id")
  mapfile -t names < <(names_of "$id")
  case "$kind" in
    superset_dev) v=${id#superset-}; build_image "superset-${v%-dev}" ;;
    pause) ensure_gcc_static ;;
    *) ensure_base ;;
  esac
  key=${dir##*/}
  work="$images_dir/work/$id.partial"
  build_log="$images_dir/work/$id.log"
  mkdir -p "$images_dir/work"
  safe_rm "$work"
  mkdir -p "$work"
  : >"$build_log"
  log "building ${names[0]} ($key); log: $build_log"
  started=$SECONDS
  rootfs="$work/rootfs"
  "build_$kind" "$id" "$rootfs"
  finalize_rootfs "$rootfs"
  log "  smoke check of $id"
  "smoke_$kind" "$id" "$rootfs"
  finalize_rootfs "$rootfs"
  mapfile -t config < <("config_$kind" "$id")
  mkdir -p "$work/out"
  pack_rootfs "$rootfs" "$work/out/$id.tar" "${names[@]}" -- "${config[@]}"
  local seconds=$(( SECONDS - started ))
  python3 - "$work/out/$id.tar.json" "$seconds" "$work/out/$id.tar" >"$work/out/build.json" <<'EOF'
import json, os, sys
info = json.load(open(sys.argv[1]))
info["build_seconds"] = int(sys.argv[2])
info["archive_size"] = os.path.getsize(sys.argv[3])
json.dump(info, sys.stdout, indent=1)
print()
EOF
  rm -f "$work/out/$id.tar.json"
  mv "$build_log" "$work/out/build.log"
  safe_rm "$dir"
  mv "$work/out" "$dir"
  safe_rm "$work"
  # Older keys of the same image are stale.
  local old
  for old in "$images_dir/$id"-*; do
    [[ "$old" == "$dir" || ! -d "$old" ]] && continue
    [[ "${old#"$images_dir/$id"-}" =~ ^[0-9a-f]{12}$ ]] && safe_rm "$old"
  done
  log "  built $id in $seconds s: $(du -h "$dir/$id.tar" | cut -f1) archive"
}

# Servers a smoke check started: never left running, whatever ends this script.
servers=()
stop_servers() {
  local pid
  for pid in "${servers[@]}"; do
    [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null
  done
  return 0
}
trap stop_servers EXIT

main() {
  local all=() wanted=() arg id n found
  mapfile -t all < <(ids)
  case "${1:-}" in
    --list)
      for id in "${all[@]}"; do names_of "$id"; done
      return 0 ;;
    --ids)
      for id in "${all[@]}"; do printf '%s\t%s\n' "$id" "$(names_of "$id" | paste -sd ' ')"; done
      return 0 ;;
    -h | --help)
      sed -n '3,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
      return 0 ;;
    -*) fail "unknown option $1 (see --help)" ;;
  esac
  if [[ $# -eq 0 ]]; then
    for id in "${all[@]}"; do
      # No binary, no operator image: "all" stays what it is without one.
      if [[ "$(kind_of "$id")" == operator && -z "${SUPERSET_OPERATOR_IMAGE_BIN:-}" ]]; then
        log "skipping $(names_of "$id"): SUPERSET_OPERATOR_IMAGE_BIN (a release build of superset-operator) is not set"
        continue
      fi
      wanted+=("$id")
    done
  else
    for arg in "$@"; do
      found=
      for id in "${all[@]}"; do
        if [[ "$arg" == "$id" ]]; then found=$id; break; fi
        while read -r n; do
          if [[ "$(normalize "$arg")" == "$n" ]]; then found=$id; break; fi
        done < <(names_of "$id")
        [[ -n "$found" ]] && break
      done
      [[ -n "$found" ]] || fail "unknown image $arg (hack/images.sh --list prints the names)"
      [[ " ${wanted[*]} " == *" $found "* ]] || wanted+=("$found")
    done
  fi
  for id in "${wanted[@]}"; do
    if [[ "$(kind_of "$id")" == operator ]]; then operator_bin; fi
  done
  local missing=()
  for id in "${wanted[@]}"; do
    [[ -f "$(archive_of "$id")" ]] || missing+=("$id")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    ensure_build_tools
    mkdir -p "$images_dir"
    exec 9>"$images_dir/.lock"
    flock -n 9 || { log "another hack/images.sh is building; waiting for it"; flock 9; }
    ensure_debootstrap
    for id in "${missing[@]}"; do build_image "$id"; done
  fi
  for id in "${wanted[@]}"; do
    while read -r n; do printf '%s\t%s\n' "$n" "$(archive_of "$id")"; done < <(names_of "$id")
  done
}

# On one line with main: bash reads no further, so editing this file during a run is safe.
main "$@"; exit

#!/usr/bin/env bash
# Installs the real Apache Superset from PyPI, at a pinned version, into a virtualenv
# cached outside the repository, and prints that virtualenv's Python interpreter.
# Tests use it to load rendered superset_config.py files through `superset.config`.
# A second run installs nothing.
#
#   hack/superset-python.sh   install if absent, print the interpreter path
set -euo pipefail

SUPERSET_VERSION=6.1.0

cache_root="${SUPERSET_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/superset-operator}"
venv="$cache_root/superset-venv-${SUPERSET_VERSION}"
python="$venv/bin/python"
# Written only after a successful install, so an interrupted one is redone from scratch.
marker="$venv/.installed"

if [[ -f "$marker" && -x "$python" ]]; then echo "$python"; exit 0; fi

fail() { echo "superset-python: $*" >&2; exit 1; }

command -v python3 >/dev/null || fail "python3 is required"
# Debian/Ubuntu ship venv's ensurepip separately; CI runs as root and may add it.
if ! python3 -c 'import ensurepip' 2>/dev/null; then
  [[ $(id -u) -eq 0 ]] || fail "python3 lacks ensurepip; install python3-venv"
  echo "superset-python: installing python3-venv" >&2
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv; } >&2 ||
    fail "could not install python3-venv"
fi

started=$(date +%s)
rm -rf "$venv"
mkdir -p "$cache_root"
echo "superset-python: installing apache-superset ${SUPERSET_VERSION} into $venv (about 2 minutes)" >&2
python3 -m venv "$venv" >&2 || fail "could not create the virtualenv $venv"
pip=("$python" -m pip --disable-pip-version-check --no-input --quiet)
# `rich` is imported by Superset but not declared; flask-caching 2.3.1 breaks Superset's
# cache setup. redis and cachelib back the caches rendered configs declare.
"${pip[@]}" install "apache-superset==${SUPERSET_VERSION}" rich "flask-caching<2.3.1" redis cachelib >&2 ||
  fail "pip install of apache-superset ${SUPERSET_VERSION} failed"
# Only needed when an engine is created for postgresql+psycopg2 URIs; optional.
"${pip[@]}" install psycopg2-binary >&2 ||
  echo "superset-python: psycopg2-binary did not install; continuing without it" >&2

# Prove the install is usable before marking it so.
(cd "$venv" && env -u SUPERSET_CONFIG_PATH "$python" -c 'import superset.config, cachelib.redis, redis' >/dev/null) ||
  fail "apache-superset ${SUPERSET_VERSION} installed but 'import superset.config' fails"
echo "$SUPERSET_VERSION" >"$marker"
echo "superset-python: installed in $(( $(date +%s) - started )) s" >&2
echo "$python"

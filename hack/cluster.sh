#!/usr/bin/env bash
# Runs the simulated cluster (the test harness's "cluster" tier) in the background.
#
#   hack/cluster.sh up     start it if needed; print one `export KUBECONFIG=...` line on stdout
#   hack/cluster.sh down   stop it
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="${SUPERSET_OPERATOR_CLUSTER_STATE:-${SUPERSET_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/superset-operator}/cluster}"
pid_file="$state/pid"
plane="$state/plane"

running() { [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }

up() {
  if running && [[ -f "$plane/ready" ]]; then
    echo "export KUBECONFIG=$plane/kubeconfig"
    return
  fi
  bin_dir=$("$root/hack/control-plane.sh")
  (cd "$root" && cargo build --quiet --locked -p superset-operator-testkit --bin superset-testkit)
  mkdir -p "$state"
  setsid nohup "$root/target/debug/superset-testkit" serve --dir "$plane" >"$state/serve.log" 2>&1 &
  echo $! >"$pid_file"
  for _ in $(seq 1 180); do
    if [[ -f "$plane/ready" ]]; then
      echo "cluster: up; kubectl is $bin_dir/kubectl; logs in $plane/logs; stop with 'make cluster-down'" >&2
      echo "export KUBECONFIG=$plane/kubeconfig"
      return
    fi
    if ! running; then
      echo "cluster: failed to start:" >&2
      cat "$state/serve.log" >&2
      exit 1
    fi
    sleep 1
  done
  echo "cluster: not ready after 180 s; see $state/serve.log" >&2
  exit 1
}

down() {
  if running; then
    pid=$(cat "$pid_file")
    kill "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    echo "cluster: stopped" >&2
  else
    echo "cluster: not running" >&2
  fi
  rm -f "$pid_file"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac

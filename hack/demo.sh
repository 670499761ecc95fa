#!/usr/bin/env bash
# The demo: the simulated cluster, the operator running against it, and a sample Superset
# with every component, shown once Available.
#
#   hack/demo.sh up     start everything (reusing what already runs) and show the sample
#   hack/demo.sh down   stop the operator and the cluster
#
# SUPERSET_OPERATOR_BIN uses an already built operator binary instead of building one.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="${SUPERSET_OPERATOR_CLUSTER_STATE:-${SUPERSET_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/superset-operator}/cluster}"
pid_file="$state/operator.pid"
log="$state/operator.log"
metrics_port="${SUPERSET_DEMO_METRICS_PORT:-18080}"
namespace=demo

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# GET /readyz with bash alone, so that the demo needs no HTTP client.
ready_probe() {
  (exec 3<>"/dev/tcp/127.0.0.1/$metrics_port" &&
    printf 'GET /readyz HTTP/1.0\r\n\r\n' >&3 && grep -q ' 200 ' <&3) 2>/dev/null
}

operator_running() { [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }

up() {
  started=$(date +%s)
  step "Starting the simulated cluster (kube-apiserver, etcd, controller-manager, scheduler, kwok nodes)"
  eval "$("$root/hack/cluster.sh" up)"
  export KUBECONFIG
  kubectl="$("$root/hack/control-plane.sh")/kubectl"

  step "Building the operator"
  if [[ -n "${SUPERSET_OPERATOR_BIN:-}" ]]; then
    operator="$SUPERSET_OPERATOR_BIN"
  else
    (cd "$root" && cargo build --quiet --locked -p superset-operator)
    operator="$root/target/debug/superset-operator"
  fi

  step "Installing the CRDs"
  "$operator" crd | "$kubectl" apply --server-side --force-conflicts -f - >/dev/null
  "$kubectl" wait --for=condition=Established crd --all --timeout=60s >/dev/null
  echo "8 CRDs established"

  step "Running the operator (logs: $log)"
  if operator_running; then
    echo "already running (pid $(cat "$pid_file"))"
  else
    mkdir -p "$state"
    setsid nohup "$operator" run --metrics-address "127.0.0.1:$metrics_port" \
      --probe-address "127.0.0.1:$metrics_port" >"$log" 2>&1 &
    echo $! >"$pid_file"
    for _ in $(seq 1 60); do
      ready_probe && break
      operator_running || { cat "$log" >&2; exit 1; }
      sleep 0.5
    done
    echo "ready (pid $(cat "$pid_file"))"
  fi

  step "Applying examples/demo.yaml in namespace $namespace"
  "$kubectl" create namespace "$namespace" --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null
  "$kubectl" apply -n "$namespace" -f "$root/examples/demo.yaml"

  step "Waiting until the Superset is Available (lifecycle tasks first, then components)"
  "$kubectl" wait -n "$namespace" --for=condition=Available superset/demo --timeout=300s

  step "kubectl get superset"
  "$kubectl" get superset -n "$namespace"
  step "Its children (kubectl get superset-all)"
  "$kubectl" get superset-all -n "$namespace"
  step "The objects they own"
  "$kubectl" get deployments,services,configmaps,pods -n "$namespace" -l "superset.apache.org/parent=demo"
  step "kubectl describe superset demo"
  "$kubectl" describe superset demo -n "$namespace"

  cat <<EXPLORE

The demo is up after $(( $(date +%s) - started )) s. To explore:

  export KUBECONFIG=$KUBECONFIG
  alias kubectl=$kubectl
  kubectl get superset-all -n $namespace
  kubectl patch superset demo -n $namespace --type merge -p '{"spec":{"image":{"tag":"6.0.1"}}}'
                                  # an upgrade: maintenance page, drain, migrate, restore
  kubectl get superset demo -n $namespace -w
  curl -s http://127.0.0.1:$metrics_port/metrics | grep superset_operator_
  tail -f $log

Stop everything with: make demo-down
EXPLORE
}

down() {
  if operator_running; then
    kill "$(cat "$pid_file")"
    echo "operator: stopped" >&2
  fi
  rm -f "$pid_file"
  "$root/hack/cluster.sh" down
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac

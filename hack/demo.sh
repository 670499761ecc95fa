#!/usr/bin/env bash
# The demo, on the real node: a control plane with one real node (the test harness's node
# tier: containerd, kubelet, kube-proxy and CoreDNS in network namespaces of their own), the
# operator running against it, hack/demo-services.yaml (PostgreSQL, Valkey) and
# examples/demo.yaml: a Development Superset 6.0.0 that the operator migrates, initialises and
# serves. It ends with the URL where you log in. Needs root. The first run builds the control plane and the images (about twenty
# minutes on two cores, cached outside the repository); later runs take about two minutes.
#
#   hack/demo.sh up        start everything (reusing what already runs); print the login URL
#   hack/demo.sh upgrade   upgrade the demo to 6.1.0: the maintenance page answers at the same
#                          URL while the operator drains, migrates and restores
#   hack/demo.sh down      stop the operator and the node
#
# SUPERSET_OPERATOR_BIN uses an already built operator binary instead of building one.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="${SUPERSET_OPERATOR_DEMO_STATE:-${SUPERSET_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/superset-operator}/demo}"
plane="$state/plane"
node_pid_file="$state/node.pid"
pid_file="$state/operator.pid"
log="$state/operator.log"
metrics_port="${SUPERSET_DEMO_METRICS_PORT:-18080}"
namespace=demo
export KUBECONFIG="$plane/kubeconfig"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { echo "demo: $*" >&2; exit 1; }

# GET with bash alone, so that the demo needs no HTTP client: prints the response.
http_get() {
  local host=$1 port=$2 path=$3
  (exec 3<>"/dev/tcp/$host/$port" &&
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$host" >&3 && timeout 10 cat <&3) 2>/dev/null
}

running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_node() {
  if running "$node_pid_file" && [[ -f "$plane/ready" ]]; then
    echo "already running (pid $(cat "$node_pid_file"))"
    return
  fi
  mkdir -p "$state"
  # The node's images need no operator image: the demo runs the operator on this machine.
  setsid nohup env -u SUPERSET_OPERATOR_IMAGE_BIN "$root/target/debug/superset-testkit" serve --node --dir "$plane" \
    >"$state/node.log" 2>&1 &
  echo $! >"$node_pid_file"
  # The first run builds the images (hack/images.sh) before the node starts.
  for _ in $(seq 1 3600); do
    [[ -f "$plane/ready" ]] && { grep 'node tier up' "$state/node.log" || true; return; }
    running "$node_pid_file" || { cat "$state/node.log" >&2; fail "the node did not start"; }
    sleep 1
  done
  fail "the node was not ready after an hour; see $state/node.log"
}

start_operator() {
  if running "$pid_file"; then
    echo "already running (pid $(cat "$pid_file"))"
    return
  fi
  setsid nohup "$operator" run --metrics-address "127.0.0.1:$metrics_port" \
    --probe-address "127.0.0.1:$metrics_port" >"$log" 2>&1 &
  echo $! >"$pid_file"
  for _ in $(seq 1 60); do
    http_get 127.0.0.1 "$metrics_port" /readyz | grep -q ' 200 ' && break
    running "$pid_file" || { cat "$log" >&2; exit 1; }
    sleep 0.5
  done
  echo "ready (pid $(cat "$pid_file"))"
}

web_address() {
  "$kubectl" get service demo-web-server -n "$namespace" \
    -o jsonpath='{.spec.clusterIP}:{.spec.ports[0].port}'
}

up() {
  started=$(date +%s)
  [[ $(id -u) == 0 ]] || fail "the real node needs root (network namespaces, containerd, cgroups)"
  step "Building the control plane (cached), the node's test harness and the operator"
  kubectl="$("$root/hack/control-plane.sh")/kubectl"
  (cd "$root" && cargo build --quiet --locked -p superset-operator-testkit --bin superset-testkit)
  if [[ -n "${SUPERSET_OPERATOR_BIN:-}" ]]; then
    operator="$SUPERSET_OPERATOR_BIN"
  else
    (cd "$root" && cargo build --quiet --locked -p superset-operator)
    operator="$root/target/debug/superset-operator"
  fi

  step "Starting a control plane and a real node (containerd, kubelet, kube-proxy, CoreDNS)"
  start_node
  "$kubectl" get nodes

  step "Installing the CRDs"
  "$operator" crd | "$kubectl" apply --server-side --force-conflicts -f - >/dev/null
  "$kubectl" wait --for=condition=Established crd --all --timeout=60s >/dev/null
  echo "8 CRDs established"

  step "Running the operator (logs: $log)"
  start_operator

  step "Applying hack/demo-services.yaml (PostgreSQL, Valkey) and examples/demo.yaml (a Superset) in namespace $namespace"
  "$kubectl" create namespace "$namespace" --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null
  "$kubectl" apply -n "$namespace" -f "$root/hack/demo-services.yaml" -f "$root/examples/demo.yaml"

  step "Waiting until the Superset is Available (migrate and init run first, then the components)"
  "$kubectl" wait -n "$namespace" --for=condition=Available superset/demo --timeout=900s

  step "kubectl get superset-all"
  "$kubectl" get superset-all -n "$namespace"
  step "Its pods"
  "$kubectl" get pods -n "$namespace" -o wide

  address=$(web_address)
  http_get "${address%:*}" "${address#*:}" /health | tail -n1 | grep -qx OK ||
    fail "the web server at $address did not answer /health"
  cat <<EXPLORE

The demo is up after $(( $(date +%s) - started )) s. Superset answers on this machine at

  http://$address/        log in as admin / admin

To explore:

  export KUBECONFIG=$KUBECONFIG
  alias kubectl=$kubectl
  kubectl describe superset demo -n $namespace
  make demo-upgrade         # 6.0.0 -> 6.1.0 behind the maintenance page, at the same URL
  curl -s http://127.0.0.1:$metrics_port/metrics | grep superset_operator_
  tail -f $log

Stop everything with: make demo-down
EXPLORE
}

# One line per change of the upgrade's phase, with what the web Service answers.
upgrade() {
  kubectl="$("$root/hack/control-plane.sh")/kubectl"
  [[ -f "$plane/ready" ]] || fail "the demo is not running: make demo"
  address=$(web_address)
  step "Upgrading the demo to 6.1.0 (spec.image.tag; Flower's image with it)"
  "$kubectl" patch superset demo -n "$namespace" --type merge \
    -p '{"spec":{"image":{"tag":"6.1.0-dev"},"celeryFlower":{"image":{"tag":"6.1.0"}}}}'
  local last='' now page deadline=$(( $(date +%s) + 900 ))
  while (( $(date +%s) < deadline )); do
    now=$("$kubectl" get superset demo -n "$namespace" \
      -o jsonpath='{.status.phase} {.status.lifecycle.phase} maintenance={.status.lifecycle.maintenanceActive}')
    if [[ "$now" != "$last" ]]; then
      page=''
      if [[ "$now" == *maintenance=true ]]; then
        page=$(http_get "${address%:*}" "${address#*:}" / | grep -o '<title>[^<]*' | cut -c8- || true)
      fi
      echo "$(date +%T) $now${page:+   http://$address/ shows the maintenance page: \"$page\"}"
      last=$now
    fi
    if [[ "$now" == "Running Complete"* ]] &&
      "$kubectl" get superset demo -n "$namespace" -o jsonpath='{.status.lastLifecycleImage}' | grep -q ':6.1.0-dev$'; then
      step "Upgraded: http://$address/ serves Superset 6.1.0 again"
      "$kubectl" get superset demo -n "$namespace"
      return
    fi
    sleep 1
  done
  fail "the upgrade did not finish within 15 minutes: kubectl describe superset demo -n $namespace"
}

down() {
  if running "$pid_file"; then
    kill "$(cat "$pid_file")"
    echo "operator: stopped" >&2
  fi
  rm -f "$pid_file"
  if running "$node_pid_file"; then
    pid=$(cat "$node_pid_file")
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    echo "node: stopped" >&2
  else
    echo "node: not running" >&2
  fi
  rm -f "$node_pid_file"
}

case "${1:-}" in
  up) up ;;
  upgrade) upgrade ;;
  down) down ;;
  *) echo "usage: $0 up|upgrade|down" >&2; exit 2 ;;
esac

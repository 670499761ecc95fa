#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok) and the real node's kubelet and kube-proxy from Go modules at pinned versions and caches the
# binaries outside the repository, keyed by those versions. A second run builds nothing.
#
#   hack/control-plane.sh          build if absent, print the bin directory
#   hack/control-plane.sh --path   print the bin directory without building
set -euo pipefail

KUBERNETES_VERSION=1.35.4   # matches the k8s-openapi feature `v1_35`
ETCD_VERSION=3.6.5          # the etcd that Kubernetes 1.35.4 itself requires
KWOK_VERSION=0.8.0

key="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
cache_root="${SUPERSET_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/superset-operator}"
bin_dir="$cache_root/control-plane/$key/bin"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy kwok)

if [[ "${1:-}" == "--path" ]]; then echo "$bin_dir"; exit 0; fi

all_present() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$bin_dir/$b" ]] || return 1; done
}
if all_present; then echo "$bin_dir"; exit 0; fi

command -v go >/dev/null || { echo "control-plane: Go is required to build the test control plane" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
started=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/wrapper/cmd/etcd" "$bin_dir.partial"

# Kubernetes publishes its staging modules as v0.0.0 requirements; each must be
# pinned to the matching v0.X.Y release, read from Kubernetes' own go.mod.
k8s_mod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@v${KUBERNETES_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
staging_version="v0.${KUBERNETES_VERSION#1.}"
{
  echo "module superset-operator/control-plane"
  echo
  echo "go 1.25.0"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes v${KUBERNETES_VERSION}"
  echo "	go.etcd.io/etcd/server/v3 v${ETCD_VERSION}"
  echo ")"
  echo
  echo "replace ("
  sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$k8s_mod" |
    while read -r m; do echo "	$m => $m $staging_version"; done
  echo ")"
} > "$work/wrapper/go.mod"

cat > "$work/wrapper/cmd/etcd/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
cat > "$work/wrapper/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
)
GO

# Stamp the version the binaries report (`kubectl version`, discovery), as a release build does.
version_pkg=k8s.io/component-base/version
minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
ldflags="-s -w -X ${version_pkg}.gitVersion=v${KUBERNETES_VERSION} -X ${version_pkg}.gitMajor=1"
ldflags="$ldflags -X ${version_pkg}.gitMinor=${minor} -X ${version_pkg}.gitTreeState=clean"
(
  cd "$work/wrapper"
  echo "control-plane: resolving modules for Kubernetes v${KUBERNETES_VERSION} and etcd v${ETCD_VERSION}" >&2
  go mod tidy >/dev/null
  echo "control-plane: building (minutes on a cold cache)" >&2
  go build -trimpath -ldflags "$ldflags" -o "$bin_dir.partial/" \
    ./cmd/etcd \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl \
    k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy
)
(
  cd "$work"
  GOBIN="$bin_dir.partial" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v${KWOK_VERSION}"
)
rm -rf "$bin_dir"
mv "$bin_dir.partial" "$bin_dir"
echo "control-plane: built in $(( $(date +%s) - started )) s into $bin_dir" >&2
echo "$bin_dir"

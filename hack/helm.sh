#!/usr/bin/env bash
# Builds the Helm CLI from its Go module, at a pinned version, into a cache outside the
# repository, and prints its path. The chart tests render the chart with it. A second run
# builds nothing.
#
#   hack/helm.sh   build if absent, print the helm binary
set -euo pipefail

HELM_VERSION=3.19.0

cache_root="${SUPERSET_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/superset-operator}"
bin="$cache_root/helm-${HELM_VERSION}/helm"

if [[ -x "$bin" ]]; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "helm: go is required to build helm" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0
echo "helm: building helm ${HELM_VERSION} from its Go module (once per machine)" >&2
GOBIN="$(dirname "$bin").partial" go install "helm.sh/helm/v3/cmd/helm@v${HELM_VERSION}" >&2
mkdir -p "$(dirname "$bin")"
mv "$(dirname "$bin").partial/helm" "$bin"
rm -rf "$(dirname "$bin").partial"
echo "$bin"

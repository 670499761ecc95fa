# Entry points used by the README, CI and users.
.PHONY: test control-plane generate cluster-up cluster-down fmt lint

## Build the control plane and the Superset virtualenv if absent, then run every test
## (unit, integration, end to end).
test: control-plane
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	SUPERSET_PYTHON="$$(hack/superset-python.sh)" cargo test --workspace --locked

## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok from
## Go modules (cached outside the repository; a second run builds nothing).
control-plane:
	@hack/control-plane.sh >/dev/null

## Regenerate the CRD YAML (config/crd/) and the validation reference (docs/reference/)
## from the Rust types.
generate:
	cargo run --quiet --locked -p superset-operator-api --bin generate

## Start the simulated cluster in the background; prints `export KUBECONFIG=...`.
cluster-up:
	@hack/cluster.sh up

## Stop the simulated cluster.
cluster-down:
	@hack/cluster.sh down

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets --locked -- -D warnings

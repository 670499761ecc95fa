# Entry points used by the README, CI and users.
.PHONY: test test-node demo demo-upgrade demo-down control-plane generate cluster-up cluster-down fmt lint bench

# Tests on the real node (real containers of Superset, PostgreSQL and Valkey) run after the
# others and one at a time: each runs a whole Superset on two cores.
NODE_TESTS = real_node:: node_smoke::
OPERATOR_RELEASE_BIN = $(abspath $(or $(CARGO_TARGET_DIR),target))/release/superset-operator

## Build the control plane, the Superset virtualenv and helm if absent, then run every test
## (unit, integration, end to end on the simulated cluster, the chart, the demo), then the
## tests on the real node (needs root; builds its images on first use).
test: control-plane
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	python="$$(hack/superset-python.sh)" && helm="$$(hack/helm.sh)" && \
		SUPERSET_PYTHON="$$python" SUPERSET_HELM="$$helm" cargo test --workspace --locked -- \
		$(addprefix --skip ,$(NODE_TESTS))
	$(MAKE) test-node

## Only the tests on the real node: a real kubelet, containerd, kube-proxy and CoreDNS in
## network namespaces of the harness, with images built by hack/images.sh (cached).
# The operator's own image (hack/images.sh) packs the release binary. The tests run with the
# same package selection as `test` (--workspace): with `-p` alone cargo would resolve the
# dependencies' features anew and build them all a second time, on disk as well.
test-node: control-plane
	cargo build --release --locked -p superset-operator
	helm="$$(hack/helm.sh)" && \
		SUPERSET_HELM="$$helm" SUPERSET_OPERATOR_IMAGE_BIN="$(OPERATOR_RELEASE_BIN)" \
		cargo test --workspace --locked --tests -- --test-threads=1 $(NODE_TESTS)

## On the real node (needs root): start a control plane with one real node, run the operator,
## apply examples/demo.yaml (PostgreSQL, Valkey, a Superset 6.0.0) and print the URL to log in
## at. `make demo-upgrade` moves it to 6.1.0 behind the maintenance page; `make demo-down`
## stops it all.
demo: control-plane
	@hack/demo.sh up

demo-upgrade:
	@hack/demo.sh upgrade

demo-down:
	@hack/demo.sh down

## Benchmark the operator at 1, 10, 100 and 1,000 Superset instances on the simulated cluster
## (not part of `make test`; about a quarter of an hour on two cores, after the build). Writes
## bench/results.json and prints Markdown tables; docs/performance.md says what is measured. Quicker:
## `make bench BENCH_SIZES=1,10,100` (the other BENCH_* settings: `--help` of the binary).
# Runs the built binary: `cargo run -p` of the bench alone would resolve features anew and
# build it a second time.
bench: control-plane
	cargo build --release --locked -p superset-operator -p superset-operator-bench
	"$${CARGO_TARGET_DIR:-target}/release/superset-operator-bench" --output bench/results.json

## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok from
## Go modules (cached outside the repository; a second run builds nothing).
control-plane:
	@hack/control-plane.sh >/dev/null

## Regenerate every generated artefact from the Rust code: CRD YAML (config/crd/), the
## references (docs/reference/), RBAC and the install manifest (config/), the chart's CRDs
## and rules.
generate:
	cargo run --quiet --locked -p superset-operator-api --bin generate
	cargo run --quiet --locked -p superset-operator -- generate --root .

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

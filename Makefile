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

## Fuzz every fuzz target of crates/fuzz for FUZZ_SECONDS each (default 60), or only
## FUZZ_TARGET, with libFuzzer through cargo-bolero (installed when absent; stable Rust, no
## sanitizers), starting from crates/fuzz/corpus/<target>. New inputs are kept under
## target/fuzz/corpus/, crashes written to target/fuzz/crashes/. FUZZ_ENGINE=structured runs
## the structured generators of crates/fuzz/tests/generated.rs instead. docs/development.md
## ("Fuzzing") says how a crash becomes a regression test.
.PHONY: fuzz fuzz-minimize
FUZZ_TARGETS = render merge redact python_str preview migrate_helm
FUZZ_SECONDS = 60
FUZZ_ENGINE = libfuzzer
# cargo-bolero builds under target/fuzz/build_<flags> whatever CARGO_TARGET_DIR says.
FUZZ_DIR = target/fuzz
# The build profile of the fuzzing runs: optimised, with the checks of a debug build.
FUZZ_PROFILE = CARGO_PROFILE_FUZZ_INHERITS=release CARGO_PROFILE_FUZZ_DEBUG_ASSERTIONS=true \
	CARGO_PROFILE_FUZZ_OVERFLOW_CHECKS=true CARGO_PROFILE_FUZZ_CODEGEN_UNITS=1

fuzz:
ifeq ($(FUZZ_ENGINE),structured)
	@set -e; for target in $(or $(FUZZ_TARGET),$(FUZZ_TARGETS)); do \
		echo "== $$target: structured inputs for $(FUZZ_SECONDS) s"; \
		BOLERO_RANDOM_ITERATIONS=1000000000 BOLERO_RANDOM_TEST_TIME_MS=$(FUZZ_SECONDS)000 \
			cargo test --release --locked -p superset-operator-fuzz --test generated -- \
			--exact structured::$$target --nocapture; \
	done
else
	@command -v cargo-bolero >/dev/null || \
		cargo install --locked cargo-bolero --version 0.13.5 --no-default-features --features libfuzzer
	@set -e; for target in $(or $(FUZZ_TARGET),$(FUZZ_TARGETS)); do \
		echo "== $$target: libFuzzer for $(FUZZ_SECONDS) s"; \
		mkdir -p "$(FUZZ_DIR)/corpus/$$target" "$(FUZZ_DIR)/crashes/$$target"; \
		$(FUZZ_PROFILE) cargo bolero test bytes::$$target -p superset-operator-fuzz \
			--profile fuzz --sanitizer NONE -T $(FUZZ_SECONDS)s \
			--corpus-dir "$(FUZZ_DIR)/corpus/$$target" --crashes-dir "$(FUZZ_DIR)/crashes/$$target" \
			-E crates/fuzz/corpus/$$target; \
	done
endif

## Shrink a failing input of FUZZ_TARGET (FUZZ_INPUT=<file>) into <file>.min, line by line
## then byte by byte, keeping the same panic message.
fuzz-minimize:
	cargo run --release --locked -p superset-operator-fuzz --bin fuzz-replay -- \
		--minimize $(FUZZ_TARGET) $(FUZZ_INPUT)

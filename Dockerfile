# The operator image: a release-built `superset-operator` on a slim base, run as a non-root
# user with nothing else in the image that it needs. Build it where a container engine runs:
#
#   docker build -t <registry>/superset-operator:<version> .
#
# Nothing in the repository's tests needs this file or a container engine.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p superset-operator \
 && cp target/release/superset-operator /superset-operator

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /superset-operator /usr/local/bin/superset-operator
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/superset-operator"]
CMD ["run", "--leader-elect", "--log-format=json"]

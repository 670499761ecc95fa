//! The operator's HTTP endpoints: `/metrics` in the Prometheus text format, and the probes
//! `/healthz` (the process answers) and `/readyz` (the CRDs are established and the
//! controllers, or the wait for the lease, have started).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;

/// Whether the operator is ready; shared with `/readyz`.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the operator ready.
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

fn metrics_routes() -> Router {
    Router::new().route(
        "/metrics",
        get(|| async {
            (
                [(
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                superset_operator_controller::metrics::encode(),
            )
        }),
    )
}

fn probe_routes(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let readiness = readiness.clone();
                async move {
                    if readiness.is_ready() {
                        (StatusCode::OK, "ok")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "starting")
                    }
                }
            }),
        )
}

/// Binds the metrics and probe addresses (one server when they are the same) and serves them
/// in the background.
pub async fn start(
    metrics: SocketAddr,
    probes: SocketAddr,
    readiness: Readiness,
) -> anyhow::Result<()> {
    let servers = if metrics == probes {
        vec![(metrics, metrics_routes().merge(probe_routes(readiness)))]
    } else {
        vec![
            (metrics, metrics_routes()),
            (probes, probe_routes(readiness)),
        ]
    };
    for (address, routes) in servers {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("binding {address}"))?;
        tracing::info!(%address, "serving HTTP endpoints");
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, routes).await {
                tracing::error!(%error, "HTTP endpoint stopped");
            }
        });
    }
    Ok(())
}

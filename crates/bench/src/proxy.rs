//! A counting proxy between the operator and the API server.
//!
//! The API server's own `apiserver_request_total` has no label naming the client (its labels
//! are verb, group, version, resource, subresource, scope, component, dry_run and code), so it
//! cannot tell the operator's requests from those of the controller-manager, the scheduler,
//! kwok and the bench. The operator is therefore given a kubeconfig that points here: every
//! request it sends is counted by verb and resource and relayed unchanged (its own
//! service-account token included) to the API server.
//!
//! The proxy also ends the operator's watches on demand, the two ways an API server does:
//! closing the stream (the operator resumes from its last resource version, as after a watch
//! timeout or a connection drop), or answering `410 Gone` (the resource version has expired,
//! as after etcd compaction or an API server restart: the operator lists everything again).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::broadcast;

use crate::requests::{RequestKind, Tally, Verb};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

/// How the proxy ends the watches in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// Close the stream cleanly: the watcher resumes from its last resource version.
    Close,
    /// Send the `410 Gone` error event of an expired resource version, then close: the watcher
    /// lists again from scratch, as informers do after a compaction.
    Expire,
}

/// The watch event the API server sends when a watch's resource version is too old. It starts
/// with a newline: the last frame relayed may have ended inside an event, and the client skips
/// an empty or truncated line but would fail to parse one glued to this event.
const EXPIRED: &[u8] = br#"
{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version (expired by the benchmark)","reason":"Expired","code":410}}
"#;

/// Hop-by-hop headers, which belong to one connection and are not relayed.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// What the proxy has seen.
struct Shared {
    upstream: kube::Client,
    tally: Mutex<Tally>,
    /// Requests the API server turned away (429 Too Many Requests, or a 5xx): they changed
    /// nothing, and the operator's client retries them.
    rejected: Mutex<Tally>,
    /// Responses other than 2xx, by request kind and status code.
    failures: Mutex<BTreeMap<(RequestKind, u16), u64>>,
    last_request: Mutex<Instant>,
    /// First pages of watchers' lists: one per watcher that (re)starts from scratch.
    list_starts: AtomicU64,
    interrupts: broadcast::Sender<Interrupt>,
}

/// The running proxy.
pub struct Proxy {
    address: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Listens on a free loopback port and relays to `upstream`, a client for the API server
    /// without credentials of its own (the operator's are relayed).
    pub async fn start(upstream: kube::Client) -> anyhow::Result<Proxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the proxy")?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            tally: Mutex::default(),
            rejected: Mutex::default(),
            failures: Mutex::default(),
            last_request: Mutex::new(Instant::now()),
            list_starts: AtomicU64::new(0),
            interrupts: broadcast::channel(4).0,
        });
        tokio::spawn(accept(listener, shared.clone()));
        Ok(Proxy { address, shared })
    }

    /// The URL the operator's kubeconfig points at.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request counted so far.
    pub fn tally(&self) -> Tally {
        self.shared.tally.lock().expect("not poisoned").clone()
    }

    /// Every request turned away so far.
    pub fn rejected(&self) -> Tally {
        self.shared.rejected.lock().expect("not poisoned").clone()
    }

    /// Responses other than 2xx so far, by request kind and status code.
    pub fn failures(&self) -> BTreeMap<(RequestKind, u16), u64> {
        self.shared.failures.lock().expect("not poisoned").clone()
    }

    /// Watchers' lists started so far.
    pub fn list_starts(&self) -> u64 {
        self.shared.list_starts.load(Ordering::SeqCst)
    }

    /// How long ago the last request arrived.
    pub fn idle_for(&self) -> Duration {
        self.shared
            .last_request
            .lock()
            .expect("not poisoned")
            .elapsed()
    }

    /// Ends every watch in flight; returns how many there were.
    pub fn interrupt_watches(&self, how: Interrupt) -> usize {
        self.shared.interrupts.send(how).unwrap_or(0)
    }
}

async fn accept(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| relay(request, shared.clone()));
            // A connection the operator drops mid-request is its business, not an error here.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Counts `request`, sends it on, and streams the answer back.
async fn relay(
    request: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<ProxyBody>, Infallible> {
    let kind = RequestKind::of(
        request.method(),
        request.uri().path(),
        request.uri().query(),
    );
    shared.tally.lock().expect("not poisoned").add(&kind, 1);
    *shared.last_request.lock().expect("not poisoned") = Instant::now();
    if kind.verb == Verb::List && starts_a_watcher_list(request.uri().query()) {
        shared.list_starts.fetch_add(1, Ordering::SeqCst);
    }
    // Subscribe before sending, so that an interrupt cannot slip between the two.
    let interrupts = (kind.verb == Verb::Watch).then(|| shared.interrupts.subscribe());

    let (mut parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => return Ok(bad_gateway(&format!("reading the request: {error}"))),
    };
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(http::header::HOST);
    let upstream = Request::from_parts(parts, kube::client::Body::from(body.to_vec()));
    let response = match shared.upstream.send(upstream).await {
        Ok(response) => response,
        Err(error) => return Ok(bad_gateway(&format!("relaying to the API server: {error}"))),
    };
    let status = response.status();
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        shared.rejected.lock().expect("not poisoned").add(&kind, 1);
    }
    if !status.is_success() {
        *shared
            .failures
            .lock()
            .expect("not poisoned")
            .entry((kind, status.as_u16()))
            .or_default() += 1;
    }
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    let body = match interrupts {
        Some(interrupts) if status.is_success() => interruptible(body, interrupts),
        _ => body.map_err(BoxError::from).boxed_unsync(),
    };
    Ok(Response::from_parts(parts, body))
}

/// A watch response that ends when the proxy is told to end watches, or as soon as the operator
/// hangs up (an idle watch would otherwise hold its interrupt subscription until its next
/// event).
fn interruptible(
    mut body: kube::client::Body,
    mut interrupts: broadcast::Receiver<Interrupt>,
) -> ProxyBody {
    let (frames, relayed) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(8);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                frame = body.frame() => {
                    let frame = match frame {
                        Some(frame) => frame.map_err(BoxError::from),
                        None => return,
                    };
                    let failed = frame.is_err();
                    if frames.send(frame).await.is_err() || failed {
                        return;
                    }
                }
                () = frames.closed() => return,
                interrupt = interrupts.recv() => match interrupt {
                    Ok(Interrupt::Close) | Err(broadcast::error::RecvError::Closed) => return,
                    Ok(Interrupt::Expire) => {
                        let _ = frames.send(Ok(Frame::data(Bytes::from_static(EXPIRED)))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                },
            }
        }
    });
    let relayed = futures::stream::unfold(relayed, |mut relayed| async move {
        relayed.recv().await.map(|frame| (frame, relayed))
    });
    StreamBody::new(relayed).boxed_unsync()
}

/// Whether a list request is the first page of a watcher's list: kube-rs watchers page their
/// lists (`limit=500`), the operator's own lists in reconciles do not.
fn starts_a_watcher_list(query: Option<&str>) -> bool {
    let pairs = || query.unwrap_or_default().split('&');
    pairs().any(|pair| pair.starts_with("limit="))
        && !pairs().any(|pair| pair.starts_with("continue="))
}

fn strip_hop_by_hop(headers: &mut http::HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

fn bad_gateway(message: &str) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(message.to_owned()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_first_pages_of_paged_lists_start_a_watcher_list() {
        assert!(starts_a_watcher_list(Some("limit=500&resourceVersion=0")));
        assert!(!starts_a_watcher_list(Some("limit=500&continue=abc")));
        assert!(!starts_a_watcher_list(Some("labelSelector=a%3Db")));
        assert!(!starts_a_watcher_list(None));
    }
}

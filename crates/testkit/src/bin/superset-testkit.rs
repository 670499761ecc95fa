//! `superset-testkit serve [--node] --dir DIR`: runs a tier in the foreground until SIGTERM or
//! Ctrl-C, writing `DIR/kubeconfig` and then `DIR/ready`. Without `--node`, the "cluster" tier
//! (`make cluster-up` runs it in the background; `make cluster-down` stops it); with it, the
//! "node" tier, a control plane with one real node (`make demo` runs it; needs root).

use std::path::{Path, PathBuf};

use superset_operator_testkit::{ControlPlane, Error, Node};
use tokio::signal::unix::{SignalKind, signal};

/// What runs until it is told to stop.
enum Tier {
    Cluster(ControlPlane),
    Node(Node),
}

impl Tier {
    fn shutdown(&self) {
        match self {
            Self::Cluster(plane) => plane.shutdown(),
            Self::Node(node) => node.shutdown(),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (node, dir) = match args.as_slice() {
        ["serve", "--dir", dir] => (false, dir),
        ["serve", "--node", "--dir", dir] => (true, dir),
        _ => usage(),
    };
    let dir = PathBuf::from(dir);
    if let Err(e) = serve(&dir, node).await {
        eprintln!("superset-testkit: {e}");
        std::process::exit(1);
    }
}

fn usage() -> ! {
    eprintln!("usage: superset-testkit serve [--node] --dir DIR");
    std::process::exit(2);
}

async fn serve(dir: &Path, node: bool) -> Result<(), Error> {
    let _ = std::fs::remove_dir_all(dir);
    let tier = if node {
        Tier::Node(Node::start(dir).await?)
    } else {
        let plane = ControlPlane::start_api(dir).await?;
        if let Err(e) = plane.start_cluster_components().await {
            plane.shutdown();
            return Err(e);
        }
        Tier::Cluster(plane)
    };
    let ready = dir.join("ready");
    std::fs::write(&ready, format!("{}\n", std::process::id())).map_err(|source| Error::Io {
        what: format!("writing {}", ready.display()),
        source,
    })?;
    let mut terminate = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tier.shutdown();
    let _ = std::fs::remove_file(ready);
    Ok(())
}

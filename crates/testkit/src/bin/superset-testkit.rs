//! `superset-testkit serve --dir DIR`: runs the "cluster" tier in the foreground until SIGTERM
//! or Ctrl-C, writing `DIR/kubeconfig` and then `DIR/ready`. `make cluster-up` runs it in the
//! background; `make cluster-down` stops it.

use std::path::PathBuf;

use superset_operator_testkit::ControlPlane;
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(command), Some(flag), Some(dir)) = (args.next(), args.next(), args.next()) else {
        usage();
    };
    if command != "serve" || flag != "--dir" {
        usage();
    }
    let dir = PathBuf::from(dir);
    if let Err(e) = serve(&dir).await {
        eprintln!("superset-testkit: {e}");
        std::process::exit(1);
    }
}

fn usage() -> ! {
    eprintln!("usage: superset-testkit serve --dir DIR");
    std::process::exit(2);
}

async fn serve(dir: &std::path::Path) -> Result<(), superset_operator_testkit::Error> {
    let _ = std::fs::remove_dir_all(dir);
    let plane = ControlPlane::start_api(dir).await?;
    let started = plane.start_cluster_components().await;
    if let Err(e) = started {
        plane.shutdown();
        return Err(e);
    }
    let ready = dir.join("ready");
    std::fs::write(&ready, format!("{}\n", std::process::id())).map_err(|source| {
        superset_operator_testkit::Error::Io {
            what: format!("writing {}", ready.display()),
            source,
        }
    })?;
    let mut terminate = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    plane.shutdown();
    let _ = std::fs::remove_file(ready);
    Ok(())
}

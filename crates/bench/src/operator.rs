//! The operator under test: the release binary run as a process of its own, its resource use
//! read from `/proc`, and its `/metrics` endpoint.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::prometheus::Exposition;

/// A running operator process.
pub struct Operator {
    child: Child,
    address: SocketAddr,
}

/// Resident memory and CPU time of a process, from `/proc/<pid>/status` and `/proc/<pid>/stat`.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Usage {
    /// Peak resident set (VmHWM), MiB.
    pub peak_rss_mib: f64,
    /// Resident set now (VmRSS), MiB.
    pub rss_mib: f64,
    /// User plus system CPU time, seconds.
    pub cpu_seconds: f64,
}

impl Operator {
    /// Starts `binary run` watching `namespace`, with `kubeconfig`, its log in `log` filtered
    /// by `log_level`, and waits until it reports ready.
    pub async fn start(
        binary: &Path,
        kubeconfig: &Path,
        namespace: &str,
        log: &Path,
        log_level: &str,
    ) -> anyhow::Result<Operator> {
        let address: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let log_file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut command = Command::new(binary);
        command
            .args(["run", "--namespace", namespace, "--log-level", log_level])
            .args(["--metrics-address", &address.to_string()])
            .args(["--probe-address", &address.to_string()])
            .env("KUBECONFIG", kubeconfig)
            .env("POD_NAME", format!("bench-{namespace}"))
            .env("POD_NAMESPACE", namespace)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let child = superset_operator_testkit::spawn_tied(command)
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut operator = Operator { child, address };
        operator.wait_ready(Duration::from_secs(60)).await?;
        Ok(operator)
    }

    async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the operator exited with {status} before it was ready");
            }
            if get(self.address, "/readyz")
                .await
                .is_ok_and(|(code, _)| code == 200)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the operator was not ready within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Its metrics, parsed.
    pub async fn metrics(&self) -> anyhow::Result<Exposition> {
        let (code, body) = get(self.address, "/metrics").await?;
        if code != 200 {
            bail!("GET /metrics answered {code}");
        }
        Ok(Exposition::parse(&body))
    }

    /// Memory and CPU time used so far.
    pub fn usage(&self) -> anyhow::Result<Usage> {
        usage_of(self.child.id())
    }

    /// Fails if the process has exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            Some(status) => bail!("the operator exited with {status}"),
            None => Ok(()),
        }
    }

    /// SIGTERM, then SIGKILL if it is still running after ten seconds.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        // SAFETY: signalling our own child process has no memory effects.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        for _ in 0..100 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Resident memory and CPU time of process `pid`.
pub fn usage_of(pid: u32) -> anyhow::Result<Usage> {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let status = std::fs::read_to_string(proc.join("status")).context("reading /proc status")?;
    let stat = std::fs::read_to_string(proc.join("stat")).context("reading /proc stat")?;
    // An exited (zombie) process has no memory fields: an error, not 0 MiB.
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse::<f64>().ok())
            .with_context(|| format!("no {field} in /proc/{pid}/status: has the process exited?"))
    };
    Ok(Usage {
        peak_rss_mib: kib("VmHWM:")? / 1024.0,
        rss_mib: kib("VmRSS:")? / 1024.0,
        cpu_seconds: cpu_seconds(&stat)?,
    })
}

/// utime + stime of a `/proc/<pid>/stat` line, in seconds.
fn cpu_seconds(stat: &str) -> anyhow::Result<f64> {
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed /proc stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); the first field after the name is field 3.
    let ticks = |index: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(index - 3)
            .context("short /proc stat")?
            .parse::<f64>()?)
    };
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok((ticks(14)? + ticks(15)?) / per_second)
}

/// `GET path` on a local HTTP server: status code and body.
async fn get(address: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response);
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .context("no status line")?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((code, body))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        // utime stime ...
        let stat = "42 (superset (op) x) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0";
        // SAFETY: sysconf only reads a configuration value.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        assert_eq!(cpu_seconds(stat).unwrap(), 300.0 / per_second);
    }

    #[test]
    fn this_process_uses_memory_and_time() {
        let usage = usage_of(std::process::id()).unwrap();
        assert!(usage.rss_mib > 0.0 && usage.peak_rss_mib >= usage.rss_mib);
    }
}

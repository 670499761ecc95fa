//! Child processes of the harness. Each logs to its own file and is killed by the kernel when
//! the test binary exits, however it exits (return, panic, SIGKILL).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Sender, SyncSender, channel, sync_channel};
use std::sync::{Mutex, OnceLock};

use crate::Error;

/// A running control-plane component.
pub struct Process {
    name: String,
    log: PathBuf,
    child: Child,
}

type SpawnRequest = (Command, SyncSender<io::Result<Child>>);

/// Starts `command` so that the kernel kills it when this process exits, however it exits.
/// The parent-death signal fires when the forking *thread* ends, not the process, so every
/// child is forked from one thread that lives as long as the process.
pub fn spawn_tied(mut command: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (requests, incoming) = channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("testkit-spawner".into())
            .spawn(move || {
                for (mut command, reply) in incoming {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("spawning the process-spawner thread");
        Mutex::new(requests)
    });
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (reply, response) = sync_channel(1);
    spawner
        .lock()
        .expect("not poisoned")
        .send((command, reply))
        .expect("the spawner thread lives as long as the process");
    response.recv().expect("the spawner thread always replies")
}

impl Process {
    /// Starts `program` with `args`, its output appended to `<log_dir>/<name>.log`.
    pub fn start(
        name: &str,
        program: &Path,
        args: &[String],
        log_dir: &Path,
    ) -> Result<Self, Error> {
        let log = log_dir.join(format!("{name}.log"));
        let io_err = |what: String| move |source| Error::Io { what, source };
        let out = File::create(&log).map_err(io_err(format!("creating {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(io_err(format!("cloning {}", log.display())))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child =
            spawn_tied(command).map_err(io_err(format!("starting {}", program.display())))?;
        Ok(Self {
            name: name.to_owned(),
            log,
            child,
        })
    }

    /// Fails with the end of the component's log if it has exited.
    pub fn ensure_running(&mut self) -> Result<(), Error> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(Error::Exited {
                component: self.name.clone(),
                status: status.to_string(),
                log_tail: self.log_tail(4000),
            }),
            Err(source) => Err(Error::Io {
                what: format!("waiting for {}", self.name),
                source,
            }),
        }
    }

    /// The last `bytes` of the component's log.
    pub fn log_tail(&self, bytes: u64) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(&self.log) {
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = file.seek(SeekFrom::Start(len.saturating_sub(bytes)));
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// Stops the component: SIGTERM, then SIGKILL if it is still running after a few seconds.
    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: sending a signal to our own child has no memory effects.
            unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
            for _ in 0..50 {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

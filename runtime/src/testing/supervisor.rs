//! Running a test server process under a `sh` supervisor that stops it when our end of a pipe
//! closes, and waiting until it is ready.

use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::server::{last_lines, ServerUser, READY_TIMEOUT};

/// A `sh` script run as the server's user, which stops what it started when its standard
/// input closes: when we drop it, and also when this process exits or is killed.
pub(super) struct Supervisor {
    child: Child,
    stdin: ChildStdin,
}

impl Supervisor {
    pub(super) fn spawn(
        user: &ServerUser,
        script: &str,
        args: &[&std::ffi::OsStr],
    ) -> std::result::Result<Supervisor, String> {
        let mut child = user
            .command(Path::new("/bin/sh"))
            .args(["-c", script, "sh"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the supervisor: {e}"))?;
        let stdin = child.stdin.take().ok_or("no pipe to the supervisor")?;
        Ok(Supervisor { child, stdin })
    }

    pub(super) fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Closes the pipe (the script stops its process) and waits for the script to end.
    pub(super) fn stop(self) {
        let Supervisor { mut child, stdin } = self;
        drop(stdin);
        let _ = child.wait();
    }
}

/// The supervisor of a running process, if any: set when started, taken when stopped.
#[derive(Default)]
pub(super) struct SupervisorSlot(Mutex<Option<Supervisor>>);

impl SupervisorSlot {
    pub(super) fn set(&self, supervisor: Supervisor) {
        *self.lock() = Some(supervisor);
    }

    /// Whether the supervised process is gone (or was never started).
    pub(super) fn exited(&self) -> bool {
        self.lock().as_mut().is_none_or(Supervisor::exited)
    }

    pub(super) fn stop(&self) {
        let taken = self.lock().take();
        if let Some(supervisor) = taken {
            supervisor.stop();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Supervisor>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Polls until `ready`, or fails when `failed` or after [`READY_TIMEOUT`], with the log's end.
pub(super) fn wait_ready(
    what: &str,
    ready: impl Fn() -> bool,
    failed: impl Fn() -> bool,
    log: impl Fn() -> String,
) -> std::result::Result<(), String> {
    let start = Instant::now();
    loop {
        if ready() {
            return Ok(());
        }
        if failed() {
            return Err(format!("{what} stopped: {}", last_lines(&log())));
        }
        if start.elapsed() > READY_TIMEOUT {
            return Err(format!(
                "{what} did not accept connections within {READY_TIMEOUT:?}: {}",
                last_lines(&log())
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

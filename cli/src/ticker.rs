//! An elapsed-time line for a migration that takes a while, redrawn on stderr when stderr is a
//! terminal (`applying X ... 12s`); nothing otherwise, where the start and end lines suffice.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a migration runs before the line appears, and how often it is redrawn.
const AFTER: Duration = Duration::from_secs(2);
const EVERY: Duration = Duration::from_millis(500);

/// The running ticker, if any.
#[derive(Default)]
pub(crate) struct Ticker {
    running: Mutex<Option<(Arc<AtomicBool>, JoinHandle<()>)>>,
}

impl Ticker {
    /// Starts the line for `label` (when stderr is a terminal), replacing any before it.
    pub(crate) fn start(&self, label: String) {
        self.stop();
        if !std::io::stderr().is_terminal() {
            return;
        }
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let handle = std::thread::spawn(move || {
            let start = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EVERY);
                if start.elapsed() >= AFTER && !flag.load(Ordering::Relaxed) {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r\x1b[2K{}", line(&label, start.elapsed()));
                    let _ = err.flush();
                }
            }
        });
        *self.lock() = Some((done, handle));
    }

    /// Stops the line and clears it.
    pub(crate) fn stop(&self) {
        let running = self.lock().take();
        if let Some((done, handle)) = running {
            done.store(true, Ordering::Relaxed);
            let _ = handle.join();
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Arc<AtomicBool>, JoinHandle<()>)>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// `applying X ... 1m 05s`.
fn line(label: &str, elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    if secs < 60 {
        format!("{label} ... {secs}s")
    } else {
        format!("{label} ... {}m {:02}s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_how_long() {
        assert_eq!(
            line("applying 1_a.sql", Duration::from_millis(12_400)),
            "applying 1_a.sql ... 12s"
        );
        assert_eq!(
            line("applying 1_a.sql", Duration::from_secs(65)),
            "applying 1_a.sql ... 1m 05s"
        );
    }

    #[test]
    fn off_a_terminal_nothing_runs() {
        // Under cargo test stderr is captured (not a terminal): start does nothing.
        let ticker = Ticker::default();
        ticker.start("applying x".into());
        if !std::io::stderr().is_terminal() {
            assert!(ticker.lock().is_none());
        }
        ticker.stop();
        assert!(ticker.lock().is_none());
    }
}

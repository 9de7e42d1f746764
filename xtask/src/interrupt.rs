//! Ctrl-C, SIGTERM and SIGHUP.
//!
//! Test runs of QEMU sit in their own process group (so a timeout can kill the whole group), which
//! also means the terminal's Ctrl-C no longer reaches them. xtask therefore catches the signal,
//! sets a flag, and every wait loop stops its QEMU and returns [`Error::Interrupted`].

use crate::error::{Error, Result};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs the handlers (once, at start-up). Failing to install them only costs Ctrl-C handling.
pub fn install() {
    let flag = FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        if let Err(e) = signal_hook::flag::register(signal, Arc::clone(flag)) {
            eprintln!("warning: cannot catch signal {signal}: {e}");
        }
    }
}

/// Whether a signal arrived.
pub fn interrupted() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::SeqCst))
}

/// `Err(Interrupted)` once a signal arrived.
pub fn check() -> Result<()> {
    if interrupted() {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}

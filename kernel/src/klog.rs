//! The kernel log: the `log` facade printed on the console with a level and the time since the
//! kernel was entered, e.g. `[   0.012345] INFO  memory: 512 MiB`.
//!
//! The level comes from `loglevel=` on the kernel command line (`/chosen/bootargs`): one of
//! error, warn, info, debug, trace. The default is info.

use crate::{console, time};
use log::{LevelFilter, Log, Metadata, Record};

struct KernelLog;

static LOGGER: KernelLog = KernelLog;

impl Log for KernelLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let ns = time::since_entry_ns();
        console::print(format_args!(
            "[{:>4}.{:06}] {:<5} {}\n",
            ns / 1_000_000_000,
            (ns / 1_000) % 1_000_000,
            record.level(),
            record.args()
        ));
    }

    fn flush(&self) {}
}

/// The level `loglevel=` in `bootargs` asks for, if it names one.
pub fn level_from_bootargs(bootargs: &str) -> Option<LevelFilter> {
    let value = bootargs
        .split_whitespace()
        .find_map(|arg| arg.strip_prefix("loglevel="))?;
    match value {
        "off" => Some(LevelFilter::Off),
        "error" => Some(LevelFilter::Error),
        "warn" => Some(LevelFilter::Warn),
        "info" => Some(LevelFilter::Info),
        "debug" => Some(LevelFilter::Debug),
        "trace" => Some(LevelFilter::Trace),
        _ => None,
    }
}

/// Installs the logger at the level the command line asks for.
pub fn init(bootargs: Option<&str>) {
    let level = bootargs
        .and_then(level_from_bootargs)
        .unwrap_or(LevelFilter::Info);
    // Only fails if a logger is already set, which start-up never does twice.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// Changes the level at run time.
pub fn set_level(level: LevelFilter) {
    log::set_max_level(level);
}

//! The metrics `cargo xtask bench` knows: names, what each measures, and the targets.

/// A metric: its name, what it measures, and the target the issue set, if any.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricInfo {
    /// Name in the output and the JSON.
    pub name: &'static str,
    /// What one operation is.
    pub what: &'static str,
    /// The figure it should stay at or under.
    pub target: Option<f64>,
}

/// Every metric, in the order the root task measures them.
pub const METRICS: &[MetricInfo] = &[
    MetricInfo {
        name: "boot_to_root_task",
        what: "QEMU reset to the root task's main, all CPUs (n = 1)",
        target: None,
    },
    MetricInfo {
        name: "calibration",
        what: "a loop of exactly 100 instructions: proves the counter counts instructions",
        target: None,
    },
    MetricInfo {
        name: "null_syscall",
        what: "Nop: svc into the kernel and back (user side: svc + 2 loop instructions)",
        target: Some(150.0),
    },
    MetricInfo {
        name: "ipc_call_reply_same_cpu",
        what: "Call + ReplyRecv round trip, register-only, client and server processes on CPU 0 \
               (user side: 11 instructions)",
        target: Some(600.0),
    },
    MetricInfo {
        name: "ipc_call_reply_cross_cpu",
        what: "the same with the server on CPU 1: both CPUs' instructions, two IPIs and wake-ups",
        target: Some(3000.0),
    },
    MetricInfo {
        name: "notify_wake",
        what: "Signal to the waiting thread running: waiter in another process, same CPU, \
               higher priority; one way",
        target: None,
    },
    MetricInfo {
        name: "yield",
        what: "one switch between threads of two processes, equal priority, CPU 0, each looping \
               on Yield",
        target: None,
    },
    MetricInfo {
        name: "map_unmap",
        what: "MemMap of one page of a memory object + MemUnmap (through nimbus-rt's sys)",
        target: None,
    },
    MetricInfo {
        name: "spawn",
        what: "process::spawn of a minimal program, run to its exit, exit notice received, \
               handle closed (child placed by the kernel)",
        target: None,
    },
];

/// The description of metric `name`, if this xtask knows it.
pub fn info(name: &str) -> Option<&'static MetricInfo> {
    METRICS.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::is_name;

    #[test]
    fn every_metric_is_described_once() {
        for (i, m) in METRICS.iter().enumerate() {
            assert!(is_name(m.name) && !m.what.is_empty());
            assert!(METRICS[i + 1..].iter().all(|o| o.name != m.name));
        }
        for name in [
            "ipc_call_reply_same_cpu",
            "ipc_call_reply_cross_cpu",
            "null_syscall",
            "notify_wake",
            "yield",
            "map_unmap",
            "spawn",
        ] {
            assert!(info(name).is_some(), "{name}");
        }
    }
}

//! What the built-in commands print: `ps`, `mem`, `servers`, `uptime` and `help`.
//!
//! Plain text tables with a header row, fixed-width columns and sizes in binary units, one line
//! per item: readable on an 80-column serial terminal and easy for a test to match.

use crate::shell::BUILTINS;
use alloc::format;
use alloc::string::String;
use core::fmt::Write;
use nimbus_abi::info::{KernelRecord, ProcessRecord};
use nimbus_abi::object::ProcessState;
use nimbus_protocols::init::ServerInfo;

/// Bytes of a page frame.
const FRAME: u64 = 4096;

/// `n` bytes in the largest binary unit that keeps it at least 1, one decimal (`1.5 MiB`).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut unit = 0;
    let mut scale: u64 = 1024;
    while unit + 1 < UNITS.len() && n / scale >= 1024 {
        unit += 1;
        scale *= 1024;
    }
    // Tenths, rounded to nearest.
    let tenths = (u128::from(n) * 10 + u128::from(scale) / 2) / u128::from(scale);
    let name = UNITS.get(unit).copied().unwrap_or("?");
    format!("{}.{} {name}", tenths / 10, tenths % 10)
}

/// A process name from a record: NUL-padded UTF-8 (`?` if it is not).
fn record_name(name: &[u8; 32]) -> &str {
    let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    name.get(..len)
        .and_then(|n| core::str::from_utf8(n).ok())
        .filter(|n| !n.chars().any(char::is_control))
        .unwrap_or("?")
}

fn process_state(code: u32) -> &'static str {
    match ProcessState::from_code(code.into()) {
        Some(ProcessState::Running) => "running",
        Some(ProcessState::Faulted) => "faulted",
        Some(ProcessState::Exited) => "exited",
        None => "?",
    }
}

/// The `ps` table.
pub fn ps(records: &[ProcessRecord]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>5}  {:<20} {:<8} {:>7} {:>7} {:>10} {:>10}",
        "PID", "NAME", "STATE", "THREADS", "HANDLES", "MEMORY", "LIMIT"
    );
    for r in records {
        let _ = writeln!(
            out,
            "{:>5}  {:<20} {:<8} {:>7} {:>7} {:>10} {:>10}",
            r.pid,
            record_name(&r.name),
            process_state(r.state),
            r.threads,
            r.handles,
            bytes(r.memory_used),
            bytes(r.memory_limit)
        );
    }
    let used: u64 = records.iter().map(|r| r.memory_used).sum();
    let _ = writeln!(
        out,
        "{} process{}, {} charged",
        records.len(),
        if records.len() == 1 { "" } else { "es" },
        bytes(used)
    );
    out
}

/// `h:mm:ss.mmm` for a time in nanoseconds.
pub fn duration(ns: u64) -> String {
    let ms = ns / 1_000_000;
    let s = ms / 1000;
    format!(
        "{}:{:02}:{:02}.{:03}",
        s / 3600,
        (s / 60) % 60,
        s % 60,
        ms % 1000
    )
}

/// The `mem` report.
pub fn mem(k: &KernelRecord) -> String {
    let total = k.total_frames.saturating_mul(FRAME);
    let free = k.free_frames.saturating_mul(FRAME);
    let percent = k
        .free_frames
        .saturating_mul(100)
        .checked_div(k.total_frames)
        .unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "memory    {} free of {} ({percent}% free; {} of {} frames)",
        bytes(free),
        bytes(total),
        k.free_frames,
        k.total_frames
    );
    let _ = writeln!(
        out,
        "heap      {} used of {}",
        bytes(k.heap_used),
        bytes(k.heap_size)
    );
    let _ = writeln!(
        out,
        "objects   {} ({} processes, {} threads)",
        k.objects, k.processes, k.threads
    );
    let _ = writeln!(out, "cpus      {}", k.cpus);
    let _ = writeln!(out, "uptime    {}", duration(k.uptime_ns));
    out
}

/// The `servers` table.
pub fn servers<'a>(list: impl IntoIterator<Item = &'a ServerInfo>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<20} {:<9} {:>5} {:>8}",
        "NAME", "STATE", "PID", "RESTARTS"
    );
    for s in list {
        let pid = s.pid.map_or_else(|| String::from("-"), |p| format!("{p}"));
        let _ = writeln!(
            out,
            "{:<20} {:<9} {:>5} {:>8}",
            s.name.as_str(),
            s.state.as_str(),
            pid,
            s.restarts
        );
    }
    out
}

/// The `uptime` line.
pub fn uptime(ns: u64) -> String {
    format!(
        "up {} ({}.{:03} s)\n",
        duration(ns),
        ns / 1_000_000_000,
        (ns / 1_000_000) % 1000
    )
}

/// A command a server registered, as `help` shows it.
#[derive(Debug, Clone, Copy)]
pub struct Registered<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its help text.
    pub help: &'a str,
    /// The server it belongs to.
    pub owner: &'a str,
}

/// The `help` text.
pub fn help<'a>(registered: impl IntoIterator<Item = Registered<'a>>) -> String {
    let mut out = String::from("built-in commands:\n");
    for b in BUILTINS {
        let _ = writeln!(out, "  {:<20} {}", b.usage, b.help);
    }
    let mut any = false;
    for r in registered {
        if !any {
            out.push_str("commands from servers:\n");
            any = true;
        }
        let _ = writeln!(out, "  {:<20} {} ({})", r.name, r.help, r.owner);
    }
    out.push_str(
        "keys: Enter runs, Backspace deletes, Ctrl-U clears the line, Ctrl-C abandons it, \
         Up/Down recall\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nimbus_protocols::init::ServerState;

    fn name(text: &str) -> [u8; 32] {
        let mut n = [0u8; 32];
        n[..text.len()].copy_from_slice(text.as_bytes());
        n
    }

    #[test]
    fn sizes_in_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(2 * 1024 * 1024), "2.0 MiB");
        assert_eq!(bytes(512 * 1024 * 1024 - 1), "512.0 MiB");
        assert_eq!(bytes(5 << 30), "5.0 GiB");
        assert_eq!(bytes(u64::MAX), "16777216.0 TiB");
    }

    #[test]
    fn ps_lists_every_process() {
        let records = [
            ProcessRecord {
                pid: 1,
                state: 1,
                threads: 1,
                handles: 23,
                memory_used: 3 << 20,
                memory_limit: 500 << 20,
                name: name("init"),
            },
            ProcessRecord {
                pid: 2,
                state: 2,
                threads: 2,
                handles: 9,
                memory_used: 700 * 1024,
                memory_limit: 2 << 20,
                name: name("console"),
            },
            ProcessRecord {
                pid: 3,
                state: 77,
                threads: 0,
                handles: 0,
                memory_used: 0,
                memory_limit: 0,
                name: [0xff; 32],
            },
        ];
        let table = ps(&records);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "  PID  NAME                 STATE    THREADS HANDLES     MEMORY      LIMIT"
        );
        assert_eq!(
            lines[1],
            "    1  init                 running        1      23    3.0 MiB  500.0 MiB"
        );
        assert_eq!(
            lines[2],
            "    2  console              faulted        2       9  700.0 KiB    2.0 MiB"
        );
        assert!(lines[3].starts_with("    3  ?                    ?"));
        assert_eq!(lines[4], "3 processes, 3.7 MiB charged");
        assert_eq!(ps(&[]).lines().last(), Some("0 processes, 0 B charged"));
    }

    #[test]
    fn mem_reports_the_kernel_figures() {
        let k = KernelRecord {
            total_frames: 130_000,
            free_frames: 120_000,
            heap_size: 4 << 20,
            heap_used: 300 * 1024,
            objects: 57,
            processes: 2,
            threads: 4,
            uptime_ns: 3_723_456_000_000,
            cpus: 2,
        };
        assert_eq!(
            mem(&k),
            "memory    468.8 MiB free of 507.8 MiB (92% free; 120000 of 130000 frames)\n\
             heap      300.0 KiB used of 4.0 MiB\n\
             objects   57 (2 processes, 4 threads)\n\
             cpus      2\n\
             uptime    1:02:03.456\n"
        );
        let empty = KernelRecord {
            total_frames: 0,
            free_frames: 0,
            ..k
        };
        assert!(mem(&empty).starts_with("memory    0 B free of 0 B (0% free"));
    }

    #[test]
    fn servers_table() {
        let list = [
            ServerInfo {
                index: 0,
                name: "console".try_into().unwrap(),
                state: ServerState::Running,
                pid: Some(2),
                restarts: 1,
            },
            ServerInfo {
                index: 1,
                name: "net".try_into().unwrap(),
                state: ServerState::GivenUp,
                pid: None,
                restarts: 5,
            },
        ];
        assert_eq!(
            servers(&list),
            "NAME                 STATE       PID RESTARTS\n\
             console              running       2        1\n\
             net                  given-up      -        5\n"
        );
    }

    #[test]
    fn uptime_and_help() {
        assert_eq!(uptime(12_345_678_901), "up 0:00:12.345 (12.345 s)\n");
        let text = help([Registered {
            name: "net",
            help: "network status",
            owner: "netd",
        }]);
        assert!(text.starts_with("built-in commands:\n  help "));
        assert!(text.contains("  kill <server>        stop a server and leave it stopped\n"));
        assert!(
            text.contains("commands from servers:\n  net                  network status (netd)\n")
        );
        assert!(!help([]).contains("commands from servers"));
    }
}

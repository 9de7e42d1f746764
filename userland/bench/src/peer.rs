//! The root task <-> peer contract.
//!
//! A peer is `bin/bench-peer` in its own process (its own address space), its one thread pinned
//! to a CPU by the root task. Its start block carries the value [`MODE`], a notification under
//! [`READY`] that it signals once it is about to do its part, and what its mode needs.

use core::sync::atomic::AtomicU64;
use nimbus_abi::layout::MAP_AREA;

/// Start value: the [`Mode`].
pub const MODE: &str = "mode";
/// Start handle: a notification (SIGNAL) the peer signals when it is ready.
pub const READY: &str = "ready";
/// Start handle ([`Mode::IpcServer`]): the endpoint to serve (RECEIVE).
pub const SERVE: &str = "serve";
/// Start handle ([`Mode::NotifyWaiter`]): the notification to wait on (WAIT).
pub const NOTIFY: &str = "notify";

/// Where the root task maps the [`NotifyPage`], in itself and in the waiter (same address in
/// both, well away from the heap, the boot archive and the loader's scratch area).
pub const SHARED_VA: u64 = MAP_AREA + (32 << 30);

/// Label of the benchmark's calls (register-only messages: no data, no handles).
pub const CALL_LABEL: u64 = 1;

/// What a peer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Mode {
    /// Receive on [`SERVE`], then answer every call with ReplyRecv, echoing the message.
    IpcServer = 1,
    /// Yield, forever.
    Yield = 2,
    /// Wait on [`NOTIFY`] forever, adding each wake-up's latency to the [`NotifyPage`].
    NotifyWaiter = 3,
}

impl Mode {
    /// The mode with this number.
    pub fn from_u32(n: u32) -> Option<Self> {
        match n {
            1 => Some(Self::IpcServer),
            2 => Some(Self::Yield),
            3 => Some(Self::NotifyWaiter),
            _ => None,
        }
    }
}

/// The page the signaller and the waiter of the notification benchmark share.
///
/// The signaller writes [`signalled_at`](Self::signalled_at) right before each Signal; the
/// waiter, which has the higher priority on the same CPU, runs before the signaller resumes and
/// adds `now - signalled_at` to [`latency_ticks`](Self::latency_ticks). Each field has one writer
/// at a time, so plain loads and stores suffice.
#[repr(C)]
pub struct NotifyPage {
    /// Counter value just before the last Signal.
    pub signalled_at: AtomicU64,
    /// Sum of signal-to-wake latencies since the signaller last cleared it, in ticks.
    pub latency_ticks: AtomicU64,
    /// Wake-ups since then.
    pub wakes: AtomicU64,
}

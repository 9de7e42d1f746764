//! The transport over the real kernel: `nimbus_protocol`'s [`Transport`] and [`ServerTransport`]
//! on `nimbus_rt::sys`'s IPC calls.
//!
//! The kernel copies messages from and into the IPC buffer the calling thread registered, so a
//! message must be in that page when the call is made. Callers may hand in that very page (from
//! [`nimbus_rt::thread::with_ipc_buffer`]): the message goes as it is. Any other buffer (a boxed
//! one, for code that cannot hold the thread's page across a call) is copied in and the reply
//! copied back, only the bytes and handles the descriptors name.
//!
//! This belongs in `nimbus-rt`, next to the thread data that knows where each thread's buffer is
//! (here it is recomputed from the layout conventions `nimbus_rt::thread` uses); it lives here
//! until it moves.

use nimbus_abi::ipc::{IpcBuffer, MessageInfo};
use nimbus_abi::layout::{IPC_BUFFER_STRIDE, IPC_BUFFERS};
use nimbus_abi::syscall::TIMEOUT_FOREVER;
use nimbus_protocol::{Handle, KernelError, RawMessage, ServerTransport, Transport};
use nimbus_rt::{sys, thread};

/// IPC through the kernel, with a deadline for calls and receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernel {
    timeout: u64,
}

impl Kernel {
    /// Calls and receives that wait as long as it takes.
    pub const fn new() -> Self {
        Self {
            timeout: TIMEOUT_FOREVER,
        }
    }

    /// Calls and receives that give up with [`KernelError::TimedOut`] after `ns` nanoseconds
    /// (a call's deadline covers waiting for the reply too).
    pub const fn with_timeout(ns: u64) -> Self {
        Self { timeout: ns }
    }
}

impl Default for Kernel {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `buffer` is the page the calling thread registered with the kernel.
fn is_thread_buffer(buffer: &IpcBuffer) -> bool {
    let va = thread::index()
        .checked_mul(IPC_BUFFER_STRIDE)
        .and_then(|offset| offset.checked_add(IPC_BUFFERS));
    va == Some(buffer as *const IpcBuffer as u64)
}

/// Copies the bytes and handles `info` describes from `from` to `to`.
fn copy_message(from: &IpcBuffer, to: &mut IpcBuffer, info: MessageInfo) {
    let count = info.handle_count();
    for (dst, src) in to.handles.iter_mut().zip(from.handles.iter()).take(count) {
        *dst = *src;
    }
    let len = info.len();
    if let (Some(dst), Some(src)) = (to.data.get_mut(..len), from.data.get(..len)) {
        dst.copy_from_slice(src);
    }
}

/// Runs `op` (a system call that sends what the thread's buffer holds and receives into it) for
/// `msg`, copying through the thread's buffer when `msg` uses another one.
fn on_thread_buffer(
    msg: &mut RawMessage<'_>,
    op: impl FnOnce(MessageInfo, [u64; 4]) -> Result<sys::Received, KernelError>,
) -> Result<(), KernelError> {
    let received = if is_thread_buffer(msg.buffer) {
        op(msg.info, msg.words)?
    } else {
        let (info, words) = (msg.info, msg.words);
        let buffer = &mut *msg.buffer;
        thread::with_ipc_buffer(|own| {
            copy_message(buffer, own, info);
            let received = op(info, words)?;
            copy_message(own, buffer, received.info);
            Ok(received)
        })??
    };
    msg.info = received.info;
    msg.words = received.words;
    msg.badge = received.badge;
    Ok(())
}

impl Transport for Kernel {
    fn call(&self, endpoint: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError> {
        on_thread_buffer(msg, |info, words| {
            sys::ipc_call(endpoint, info, words, self.timeout)
        })
    }

    fn close(&self, handle: Handle) {
        let _ = sys::handle_close(handle);
    }
}

impl ServerTransport for Kernel {
    fn recv(&self, endpoint: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError> {
        on_thread_buffer(msg, |_, _| sys::ipc_recv(endpoint, self.timeout))
    }

    fn reply_recv(&self, endpoint: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError> {
        on_thread_buffer(msg, |info, words| {
            sys::ipc_reply_recv(endpoint, info, words, self.timeout)
        })
    }
}

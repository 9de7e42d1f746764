//! IPC helpers over the calling thread's IPC buffer.

pub use crate::sys::Received;
pub use crate::thread::with_ipc_buffer;

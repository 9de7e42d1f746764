//! The server side: rejected requests and the receive loop.

use crate::{Handle, IpcBuffer, KernelError, ProtocolError, RawMessage, ServerTransport};
use core::fmt;
use nimbus_abi::ipc::MAX_HANDLES;

/// A request `dispatch` answered with an error reply instead of calling the server.
///
/// The kernel gives the receiver its own copy of every handle in a message, so the handles of a
/// request that was never handed to the server belong to no one: [`serve`] closes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    error: ProtocolError,
    stray: [Handle; MAX_HANDLES],
    stray_count: usize,
}

impl Rejected {
    /// A rejection for `error`, owning the handles in `stray` (at most [`MAX_HANDLES`] kept).
    pub fn new(error: ProtocolError, stray: impl IntoIterator<Item = Handle>) -> Self {
        let mut r = Self {
            error,
            stray: [Handle::NONE; MAX_HANDLES],
            stray_count: 0,
        };
        for (slot, h) in r.stray.iter_mut().zip(stray) {
            *slot = h;
            r.stray_count = r.stray_count.saturating_add(1);
        }
        r
    }

    /// Why, from the server's point of view.
    pub fn error(&self) -> ProtocolError {
        self.error
    }

    /// Handles this process received with the request that nobody will use.
    pub fn stray_handles(&self) -> &[Handle] {
        self.stray.get(..self.stray_count).unwrap_or(&[])
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request rejected: {}", self.error)
    }
}

/// Serves `endpoint` forever: receive, `dispatch`, reply and receive the next request in one
/// step. Returns only when receiving fails (the endpoint is gone or not ours).
///
/// `dispatch` is usually `|msg| Console::dispatch(&mut server, msg)`; a closure (rather than the
/// server itself) lets one endpoint serve several protocols or check badges first. Handles of
/// rejected requests are closed. A reply the kernel refuses (the caller died, a returned handle
/// may not be transferred) is dropped and the loop goes on receiving.
pub fn serve<T, F>(
    transport: &T,
    endpoint: Handle,
    buffer: &mut IpcBuffer,
    mut dispatch: F,
) -> KernelError
where
    T: ServerTransport + ?Sized,
    F: FnMut(&mut RawMessage<'_>) -> Result<(), Rejected>,
{
    let mut msg = RawMessage::new(buffer);
    let mut replying = false;
    loop {
        let received = if replying {
            transport.reply_recv(endpoint, &mut msg)
        } else {
            transport.recv(endpoint, &mut msg)
        };
        if let Err(e) = received {
            if replying {
                // Nothing was received: only the reply failed. Try a plain receive.
                replying = false;
                continue;
            }
            return e;
        }
        if let Err(rejected) = dispatch(&mut msg) {
            for &h in rejected.stray_handles() {
                transport.close(h);
            }
        }
        replying = true;
    }
}

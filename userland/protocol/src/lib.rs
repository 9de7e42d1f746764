//! Nimbus IPC interfaces, declared once.
//!
//! Every server describes its interface with [`protocol!`] and gets a typed client, a server
//! trait and a `dispatch` function, so no server or client decodes message words by hand and a
//! hostile client can at worst earn an error reply.
//!
//! # Wire format
//!
//! A request's 32-bit label is `id << 16 | version << 8 | method`:
//!
//! | bits   | meaning                                                            |
//! |--------|--------------------------------------------------------------------|
//! | 31..16 | protocol id (`0x0001..=0xfffe`; 0 would look like a success reply, `0xffff` is the kernel's notices) |
//! | 15..8  | protocol version: must equal the server's                          |
//! | 7..0   | method index, in declaration order                                 |
//!
//! The arguments are encoded one after another with postcard in `buffer.data[..len]`; values of
//! type [`Handle`] go in `buffer.handles` instead, in argument order, because only there does
//! the kernel install them in the receiver (the receiver decodes its own new handle values). A
//! handle inside `Option`/`Result` adds a presence/variant tag to the body. The register words
//! of a request are unused (zero).
//!
//! A reply's label is a status: 0 ([`status::OK`]) with the result encoded like arguments, or a
//! [`ProtocolError`] code from [`status`] with no body and details in the words.
//!
//! The kernel *copies* handles: the sender keeps its own. A server returning a handle it does
//! not want to keep must close it itself once the reply has gone.
//!
//! # Example
//!
//! ```
//! use nimbus_protocol::{CallContext, Handle, IpcBuffer, KernelError, RawMessage, Transport};
//!
//! nimbus_protocol::protocol! {
//!     /// A counter.
//!     pub protocol Counter: id = 0x0042, version = 1 {
//!         /// Adds `n`; returns the new total.
//!         fn add(n: u64) -> u64;
//!         /// The name it was given.
//!         fn name() -> &str;
//!     }
//! }
//!
//! struct Count(u64);
//!
//! impl CounterServer for Count {
//!     fn add(&mut self, _cx: &CallContext, n: u64) -> u64 {
//!         self.0 = self.0.wrapping_add(n);
//!         self.0
//!     }
//!     fn name(&mut self, _cx: &CallContext) -> &str {
//!         "count"
//!     }
//! }
//!
//! /// A "kernel" that hands the request straight to the server (one buffer for both sides).
//! struct Direct(core::cell::RefCell<Count>);
//!
//! impl Transport for Direct {
//!     fn call(&self, _endpoint: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError> {
//!         let _ = Counter::dispatch(&mut *self.0.borrow_mut(), msg);
//!         Ok(())
//!     }
//!     fn close(&self, _handle: Handle) {}
//! }
//!
//! let client = CounterClient::new(Direct(Count(1).into()), Handle(7));
//! let mut buf = Box::new(IpcBuffer { handles: [0; 4], data: [0; 4080] });
//! assert_eq!(client.add(&mut buf, 41).unwrap(), 42);
//! assert_eq!(client.name(&mut buf).unwrap(), "count");
//! ```

#![cfg_attr(not(test), no_std)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

// Lets the macro's `::nimbus_protocol` paths resolve inside this crate too.
extern crate self as nimbus_protocol;

mod codec;
mod error;
mod server;

pub use codec::{Decoder, Encoder};
pub use error::{ProtocolError, status};
pub use nimbus_abi::{Error as KernelError, Handle, IpcBuffer, MessageInfo};
pub use server::{Rejected, serve};

/// Declares IPC protocols.
///
/// ```text
/// nimbus_protocol::protocol! {
///     /// Docs for the marker type.
///     pub protocol Console: id = 0x0001, version = 1 {
///         /// Docs, copied to the client and server methods.
///         fn log(level: u8, text: &str);
///         fn register_command(name: &str, help: &str, endpoint: Handle) -> Result<(), CommandError>;
///         fn uptime() -> u64;
///     }
/// }
/// ```
///
/// generates, with the declared visibility:
///
/// - `struct Console;` implementing [`Protocol`], with `Console::ID`, `Console::VERSION` and
///   `Console::dispatch(server: &mut S, msg: &mut RawMessage<'_>) -> Result<(), Rejected>`
///   where `S: ConsoleServer + ?Sized`;
/// - `struct ConsoleClient<T>` with `new(transport: T, endpoint: Handle)` and per method
///   `fn log(&self, buf: &mut IpcBuffer, level: u8, text: &str) -> Result<(), ProtocolError>`;
///   when the result borrows (`-> &str`), it borrows from `buf`;
/// - `trait ConsoleServer` with per method
///   `fn log(&mut self, cx: &CallContext, level: u8, text: &str)`.
///
/// Argument and result types are serde types (borrowed `&str`, `&[u8]` and borrowing structs
/// decode without copying), except that a type whose path ends in `Handle` travels as a handle;
/// handles may sit directly in the list or inside `Option`, `Result`, tuples and arrays, at most
/// four per message (checked at compile time). Borrowing result types must spell their
/// lifetimes as `&T` or `'_`.
pub use nimbus_protocol_macros::protocol;

/// Serde, for deriving message types without a direct dependency
/// (`#[serde(crate = "nimbus_protocol::serde")]`).
pub use serde;

/// The request label for `method` of protocol `id`, `version` (see the crate docs).
pub const fn label(id: u16, version: u8, method: u8) -> u32 {
    ((id as u32) << 16) | ((version as u32) << 8) | method as u32
}

/// A label split into (protocol id, version, method index).
pub const fn split_label(label: u32) -> (u16, u8, u8) {
    ((label >> 16) as u16, (label >> 8) as u8, label as u8)
}

/// What `protocol!` knows about a protocol.
pub trait Protocol {
    /// The declared name.
    const NAME: &'static str;
    /// The protocol id.
    const ID: u16;
    /// The protocol version.
    const VERSION: u8;
    /// Method names; a method's index is its position.
    const METHODS: &'static [&'static str];

    /// The request label of the method called `name`.
    fn method_label(name: &str) -> Option<u32> {
        let index = Self::METHODS.iter().position(|m| *m == name)?;
        Some(label(Self::ID, Self::VERSION, u8::try_from(index).ok()?))
    }
}

/// The raw message a transport moves: register words plus the calling thread's IPC buffer.
pub struct RawMessage<'a> {
    /// Label, data length and handle count.
    pub info: MessageInfo,
    /// The four register words.
    pub words: [u64; 4],
    /// The calling thread's IPC buffer (data and handles).
    pub buffer: &'a mut IpcBuffer,
    /// On receive, the badge of the handle the sender used.
    pub badge: u64,
}

impl<'a> RawMessage<'a> {
    /// An empty message over `buffer`.
    pub fn new(buffer: &'a mut IpcBuffer) -> Self {
        Self {
            info: MessageInfo(0),
            words: [0; 4],
            buffer,
            badge: 0,
        }
    }

    /// Turns the message into the error reply for `error` (no body, no handles).
    pub fn set_error_reply(&mut self, error: &ProtocolError) {
        (self.info, self.words) = error.to_reply();
    }
}

impl core::fmt::Debug for RawMessage<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawMessage")
            .field("info", &self.info)
            .field("words", &self.words)
            .field("badge", &self.badge)
            .finish()
    }
}

/// The client side of a kernel.
pub trait Transport {
    /// Sends `msg` to `endpoint` and blocks for the reply, which overwrites `msg`.
    fn call(&self, endpoint: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError>;

    /// Closes a handle of this process. Used for handles in a message that could not be
    /// decoded, which would otherwise leak.
    fn close(&self, handle: Handle);
}

/// The server side of a kernel.
pub trait ServerTransport: Transport {
    /// Blocks for a message on `endpoint`; it overwrites `msg`, including `badge`.
    fn recv(&self, endpoint: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError>;

    /// Replies `msg` to the last call received, then blocks for the next message like
    /// [`ServerTransport::recv`]. An error means nothing was received.
    fn reply_recv(&self, endpoint: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError>;
}

impl<T: Transport + ?Sized> Transport for &T {
    fn call(&self, endpoint: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError> {
        (**self).call(endpoint, msg)
    }

    fn close(&self, handle: Handle) {
        (**self).close(handle);
    }
}

impl<T: ServerTransport + ?Sized> ServerTransport for &T {
    fn recv(&self, endpoint: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError> {
        (**self).recv(endpoint, msg)
    }

    fn reply_recv(&self, endpoint: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError> {
        (**self).reply_recv(endpoint, msg)
    }
}

/// What a server method learns about its caller besides the arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallContext {
    /// The badge of the endpoint handle the client called through (0 if unbadged): who called.
    pub badge: u64,
}

impl CallContext {
    /// The context of a call made through a handle with `badge`.
    pub const fn new(badge: u64) -> Self {
        Self { badge }
    }
}

/// Support for the code `protocol!` generates; not a stable API.
#[doc(hidden)]
pub mod __private {
    use super::*;

    fn close_all<T: Transport + ?Sized>(transport: &T, info: MessageInfo, buffer: &IpcBuffer) {
        for &h in buffer.handles.iter().take(info.handle_count()) {
            transport.close(Handle(h));
        }
    }

    /// Encodes a request with `encode`, calls, and checks the reply status. Returns the reply's
    /// descriptor; handles of an error reply are closed.
    pub fn call<T: Transport + ?Sized>(
        transport: &T,
        endpoint: Handle,
        buffer: &mut IpcBuffer,
        label: u32,
        encode: impl FnOnce(&mut Encoder<'_>),
    ) -> Result<MessageInfo, ProtocolError> {
        let mut enc = Encoder::new(buffer);
        encode(&mut enc);
        let info = enc.finish(label)?;
        let mut msg = RawMessage {
            info,
            words: [0; 4],
            buffer,
            badge: 0,
        };
        transport.call(endpoint, &mut msg)?;
        if let Some(e) = ProtocolError::from_reply(msg.info, msg.words) {
            close_all(transport, msg.info, msg.buffer);
            return Err(e);
        }
        Ok(msg.info)
    }

    /// A decoder for a success reply; the reply's handles are closed if it is malformed.
    pub fn reply_decoder<'de, T: Transport + ?Sized>(
        transport: &T,
        info: MessageInfo,
        buffer: &'de IpcBuffer,
    ) -> Result<Decoder<'de>, ProtocolError> {
        Decoder::new(info, buffer).inspect_err(|_| close_all(transport, info, buffer))
    }

    /// Checks the whole reply was used; on any failure closes every handle it carried.
    pub fn finish_reply<T: Transport + ?Sized, R>(
        transport: &T,
        dec: &mut Decoder<'_>,
        decoded: Result<R, ProtocolError>,
    ) -> Result<R, ProtocolError> {
        let result = decoded.and_then(|value| dec.finish().map(|()| value));
        if result.is_err() {
            for h in dec.handles() {
                transport.close(h);
            }
        }
        result
    }

    /// Turns `msg` into the error reply for `error`; the request's handles are stray.
    pub fn reject(msg: &mut RawMessage<'_>, error: ProtocolError) -> Rejected {
        let count = msg.info.handle_count();
        let stray = msg.buffer.handles.iter().take(count).map(|&h| Handle(h));
        let rejected = Rejected::new(error, stray);
        msg.set_error_reply(&error);
        rejected
    }

    /// Checks a request's protocol id and version; returns its method index.
    pub fn check_request(msg: &mut RawMessage<'_>, id: u16, version: u8) -> Result<u8, Rejected> {
        let (got_id, got_version, method) = split_label(msg.info.label());
        if got_id != id {
            return Err(reject(
                msg,
                ProtocolError::WrongProtocol {
                    expected: id,
                    got: got_id,
                },
            ));
        }
        if got_version != version {
            return Err(reject(
                msg,
                ProtocolError::VersionMismatch {
                    ours: version,
                    theirs: got_version,
                },
            ));
        }
        Ok(method)
    }

    /// Encodes a success reply with `encode`; if it does not fit, replies with the error. The
    /// result's handles are not stray: the kernel copies handles, so they are still the server's.
    pub fn reply(
        msg: &mut RawMessage<'_>,
        encode: impl FnOnce(&mut Encoder<'_>),
    ) -> Result<(), Rejected> {
        let mut enc = Encoder::new(msg.buffer);
        encode(&mut enc);
        match enc.finish(status::OK) {
            Ok(info) => {
                msg.info = info;
                msg.words = [0; 4];
                Ok(())
            }
            Err(e) => {
                msg.set_error_reply(&e);
                Err(Rejected::new(e, []))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The macro's `::nimbus_protocol` paths resolve inside this crate too.
    protocol! {
        protocol Ping: id = 0x7001, version = 1 {
            fn ping(n: u32) -> u32;
        }
    }

    struct Pong;

    impl PingServer for Pong {
        fn ping(&mut self, cx: &CallContext, n: u32) -> u32 {
            n.wrapping_add(cx.badge as u32)
        }
    }

    #[test]
    fn dispatches_inside_the_crate() {
        let mut buf = Box::new(IpcBuffer {
            handles: [0; 4],
            data: [0; nimbus_abi::ipc::IPC_DATA_SIZE],
        });
        let mut enc = Encoder::new(&mut buf);
        enc.put(&41u32);
        let info = enc.finish(label(Ping::ID, Ping::VERSION, 0)).unwrap();
        let mut msg = RawMessage {
            info,
            words: [0; 4],
            buffer: &mut buf,
            badge: 1,
        };
        Ping::dispatch(&mut Pong, &mut msg).unwrap();
        let info = msg.info;
        assert_eq!(Decoder::new(info, &buf).unwrap().get::<u32>(), Ok(42));
    }
}

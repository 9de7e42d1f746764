//! Example protocols, servers and an in-process "kernel" shared by the tests.
#![allow(dead_code)]

use nimbus_protocol::{
    CallContext, Handle, IpcBuffer, KernelError, MessageInfo, RawMessage, Rejected, Transport,
};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

pub fn buffer() -> Box<IpcBuffer> {
    Box::new(IpcBuffer {
        handles: [0; 4],
        data: [0; nimbus_abi::ipc::IPC_DATA_SIZE],
    })
}

// ---------------------------------------------------------------------------------------------
// Protocols.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandError {
    Exists,
    NameTooLong { max: u16 },
}

nimbus_protocol::protocol! {
    /// The console and log server.
    pub protocol Console: id = 0x0001, version = 1 {
        /// Appends a line to the log.
        fn log(level: u8, text: &str) -> ();
        /// Registers a shell command served on `endpoint`.
        fn register_command(name: &str, help: &str, endpoint: Handle) -> Result<(), CommandError>;
        /// Current uptime as the server sees it.
        fn uptime() -> u64;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
    pub at: Point,
    pub flags: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TypesError {
    Negative,
    TooBig(u64),
    NoSuchName { len: u32 },
}

nimbus_protocol::protocol! {
    /// Every kind of argument and result.
    pub protocol Types: id = 0x0002, version = 3 {
        fn ints(a: u8, b: u16, c: u32, d: u64, e: i8, f: i16, g: i32, h: i64) -> (u8, u16, u32, u64, i8, i16, i32, i64);
        fn wide(x: u128, y: i128) -> (u128, i128);
        fn flip(b: bool) -> bool;
        fn misc(c: char, f: f64, s: usize) -> (char, f64, usize);
        fn echo_str(text: &str) -> &str;
        fn echo_bytes(data: &[u8]) -> &[u8];
        fn byte_len(data: &[u8]) -> u32;
        fn maybe(name: Option<&str>) -> Option<u32>;
        fn checked(x: i64) -> Result<u64, TypesError>;
        fn scale(p: Point, by: i32) -> Point;
        fn record(r: Record<'_>) -> Record<'_>;
        fn blob(size: u32) -> &[u8];
        fn nothing();
        fn four(a: Handle, b: Handle, c: Handle, d: Handle) -> [Handle; 4];
        fn swap(a: Handle, b: Handle) -> (Handle, Handle);
        fn maybe_handle(h: Option<Handle>) -> Option<Handle>;
        fn open(name: &str) -> Result<Handle, TypesError>;
        fn pair(second: bool) -> Result<(Handle, Option<Handle>), TypesError>;
        fn tagged(tag: u8, h: Handle, trailer: &str) -> (u8, Handle, usize);
        fn too_big_with_handle() -> (Handle, &[u8]);
    }
}

nimbus_protocol::protocol! {
    /// A counter, first version.
    pub protocol Counter: id = 0x0003, version = 1 {
        fn add(n: u64) -> u64;
        fn get() -> u64;
    }

    /// The same protocol id, a newer version.
    pub protocol CounterV2: id = 0x0003, version = 2 {
        fn add(n: u64) -> u64;
        fn get() -> u64;
        fn reset();
    }
}

// ---------------------------------------------------------------------------------------------
// Servers.

/// The server's own handles to objects it hands out (installed by `Loopback::new`).
pub const SERVER_OBJECT_A: Handle = Handle(7001);
pub const SERVER_OBJECT_B: Handle = Handle(7002);
pub const OBJECT_A: u64 = 900;
pub const OBJECT_B: u64 = 901;

#[derive(Default)]
pub struct ConsoleImpl {
    pub lines: Vec<(u64, u8, String)>,
    pub commands: Vec<(String, String, Handle)>,
}

impl ConsoleServer for ConsoleImpl {
    fn log(&mut self, cx: &CallContext, level: u8, text: &str) {
        self.lines.push((cx.badge, level, text.to_owned()));
    }

    fn register_command(
        &mut self,
        _cx: &CallContext,
        name: &str,
        help: &str,
        endpoint: Handle,
    ) -> Result<(), CommandError> {
        if name.len() > 16 {
            return Err(CommandError::NameTooLong { max: 16 });
        }
        if self.commands.iter().any(|c| c.0 == name) {
            return Err(CommandError::Exists);
        }
        self.commands
            .push((name.to_owned(), help.to_owned(), endpoint));
        Ok(())
    }

    fn uptime(&mut self, _cx: &CallContext) -> u64 {
        123_456_789
    }
}

pub struct TypesImpl {
    pub stored: String,
    pub bytes: Vec<u8>,
    pub big: Vec<u8>,
    pub received: Vec<Handle>,
    pub calls: usize,
}

impl Default for TypesImpl {
    fn default() -> Self {
        Self {
            stored: String::new(),
            bytes: Vec::new(),
            big: (0..8192u32).map(|i| i as u8).collect(),
            received: Vec::new(),
            calls: 0,
        }
    }
}

impl TypesServer for TypesImpl {
    fn ints(
        &mut self,
        _: &CallContext,
        a: u8,
        b: u16,
        c: u32,
        d: u64,
        e: i8,
        f: i16,
        g: i32,
        h: i64,
    ) -> (u8, u16, u32, u64, i8, i16, i32, i64) {
        self.calls += 1;
        (a, b, c, d, e, f, g, h)
    }

    fn wide(&mut self, _: &CallContext, x: u128, y: i128) -> (u128, i128) {
        self.calls += 1;
        (x.wrapping_add(1), y.wrapping_sub(1))
    }

    fn flip(&mut self, _: &CallContext, b: bool) -> bool {
        self.calls += 1;
        !b
    }

    fn misc(&mut self, _: &CallContext, c: char, f: f64, s: usize) -> (char, f64, usize) {
        self.calls += 1;
        (c, f * 2.0, s)
    }

    fn echo_str(&mut self, _: &CallContext, text: &str) -> &str {
        self.calls += 1;
        self.stored = text.to_owned();
        &self.stored
    }

    fn echo_bytes(&mut self, _: &CallContext, data: &[u8]) -> &[u8] {
        self.calls += 1;
        self.bytes = data.to_vec();
        &self.bytes
    }

    fn byte_len(&mut self, _: &CallContext, data: &[u8]) -> u32 {
        self.calls += 1;
        data.len() as u32
    }

    fn maybe(&mut self, _: &CallContext, name: Option<&str>) -> Option<u32> {
        self.calls += 1;
        name.map(|n| n.len() as u32)
    }

    fn checked(&mut self, _: &CallContext, x: i64) -> Result<u64, TypesError> {
        self.calls += 1;
        match x {
            x if x < 0 => Err(TypesError::Negative),
            x if x > 1000 => Err(TypesError::TooBig(x as u64)),
            x => Ok(x as u64 * 2),
        }
    }

    fn scale(&mut self, _: &CallContext, p: Point, by: i32) -> Point {
        self.calls += 1;
        Point {
            x: p.x.wrapping_mul(by),
            y: p.y.wrapping_mul(by),
        }
    }

    fn record(&mut self, _: &CallContext, r: Record<'_>) -> Record<'_> {
        self.calls += 1;
        self.stored = r.name.chars().rev().collect();
        self.bytes = r.data.iter().map(|b| b.wrapping_add(1)).collect();
        Record {
            name: &self.stored,
            data: &self.bytes,
            at: Point {
                x: r.at.y,
                y: r.at.x,
            },
            flags: r.flags.map(|f| !f),
        }
    }

    fn blob(&mut self, _: &CallContext, size: u32) -> &[u8] {
        self.calls += 1;
        &self.big[..(size as usize).min(self.big.len())]
    }

    fn nothing(&mut self, _: &CallContext) {
        self.calls += 1;
    }

    fn four(&mut self, _: &CallContext, a: Handle, b: Handle, c: Handle, d: Handle) -> [Handle; 4] {
        self.calls += 1;
        self.received.extend([a, b, c, d]);
        [d, c, b, a]
    }

    fn swap(&mut self, _: &CallContext, a: Handle, b: Handle) -> (Handle, Handle) {
        self.calls += 1;
        self.received.extend([a, b]);
        (b, a)
    }

    fn maybe_handle(&mut self, _: &CallContext, h: Option<Handle>) -> Option<Handle> {
        self.calls += 1;
        match h {
            Some(h) => {
                self.received.push(h);
                None
            }
            None => Some(SERVER_OBJECT_A),
        }
    }

    fn open(&mut self, _: &CallContext, name: &str) -> Result<Handle, TypesError> {
        self.calls += 1;
        match name {
            "a" => Ok(SERVER_OBJECT_A),
            "b" => Ok(SERVER_OBJECT_B),
            other => Err(TypesError::NoSuchName {
                len: other.len() as u32,
            }),
        }
    }

    fn pair(
        &mut self,
        _: &CallContext,
        second: bool,
    ) -> Result<(Handle, Option<Handle>), TypesError> {
        self.calls += 1;
        Ok((SERVER_OBJECT_A, second.then_some(SERVER_OBJECT_B)))
    }

    fn tagged(
        &mut self,
        _: &CallContext,
        tag: u8,
        h: Handle,
        trailer: &str,
    ) -> (u8, Handle, usize) {
        self.calls += 1;
        self.received.push(h);
        (tag.wrapping_add(1), h, trailer.len())
    }

    fn too_big_with_handle(&mut self, _: &CallContext) -> (Handle, &[u8]) {
        self.calls += 1;
        (SERVER_OBJECT_A, &self.big)
    }
}

#[derive(Default)]
pub struct CounterImpl(pub u64);

impl CounterServer for CounterImpl {
    fn add(&mut self, _: &CallContext, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(n);
        self.0
    }

    fn get(&mut self, _: &CallContext) -> u64 {
        self.0
    }
}

impl CounterV2Server for CounterImpl {
    fn add(&mut self, _: &CallContext, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(n);
        self.0
    }

    fn get(&mut self, _: &CallContext) -> u64 {
        self.0
    }

    fn reset(&mut self, _: &CallContext) {
        self.0 = 0;
    }
}

// ---------------------------------------------------------------------------------------------
// The loopback "kernel".

/// One process's handle table: handle value -> object id.
#[derive(Default)]
pub struct Table {
    pub map: HashMap<u32, u64>,
    next: u32,
    pub closed: Vec<u32>,
}

impl Table {
    fn with_base(base: u32) -> Self {
        Self {
            next: base,
            ..Self::default()
        }
    }

    pub fn install(&mut self, object: u64) -> Handle {
        self.next += 1;
        self.map.insert(self.next, object);
        Handle(self.next)
    }

    pub fn object(&self, h: Handle) -> Option<u64> {
        self.map.get(&h.0).copied()
    }

    pub fn close(&mut self, h: Handle) {
        assert!(
            self.map.remove(&h.0).is_some(),
            "closing unknown handle {h:?}"
        );
        self.closed.push(h.0);
    }
}

type Dispatch = Box<dyn FnMut(&mut RawMessage<'_>) -> Result<(), Rejected>>;

/// Client and server in one process, with the kernel's copying done here: the message is copied
/// from the client's buffer into the server's and back, and handles are looked up in the
/// sender's table and installed (as new values) in the receiver's.
pub struct Loopback {
    pub client: RefCell<Table>,
    pub server: RefCell<Table>,
    server_buf: RefCell<Box<IpcBuffer>>,
    dispatch: RefCell<Dispatch>,
    pub badge: Cell<u64>,
    pub rejections: RefCell<Vec<Rejected>>,
    pub calls: Cell<usize>,
}

impl Loopback {
    pub fn new(
        dispatch: impl FnMut(&mut RawMessage<'_>) -> Result<(), Rejected> + 'static,
    ) -> Self {
        let mut server = Table::with_base(5000);
        server.map.insert(SERVER_OBJECT_A.0, OBJECT_A);
        server.map.insert(SERVER_OBJECT_B.0, OBJECT_B);
        Self {
            client: RefCell::new(Table::with_base(100)),
            server: RefCell::new(server),
            server_buf: RefCell::new(buffer()),
            dispatch: RefCell::new(Box::new(dispatch)),
            badge: Cell::new(0),
            rejections: RefCell::new(Vec::new()),
            calls: Cell::new(0),
        }
    }

    /// A loopback serving `server` with `dispatch`; the server stays reachable through the Rc.
    pub fn serving<S: 'static>(
        server: S,
        dispatch: fn(&mut S, &mut RawMessage<'_>) -> Result<(), Rejected>,
    ) -> (Self, Rc<RefCell<S>>) {
        let shared = Rc::new(RefCell::new(server));
        let s = shared.clone();
        (
            Self::new(move |msg| dispatch(&mut s.borrow_mut(), msg)),
            shared,
        )
    }

    /// A new client handle to a new object.
    pub fn client_object(&self, object: u64) -> Handle {
        self.client.borrow_mut().install(object)
    }

    pub fn client_sees(&self, h: Handle) -> Option<u64> {
        self.client.borrow().object(h)
    }

    pub fn server_sees(&self, h: Handle) -> Option<u64> {
        self.server.borrow().object(h)
    }
}

fn transfer(
    from: &RefCell<Table>,
    to: &RefCell<Table>,
    info: MessageInfo,
    src: &IpcBuffer,
    dst: &mut IpcBuffer,
) -> Result<(), KernelError> {
    if !info.is_valid() {
        return Err(KernelError::InvalidArgument);
    }
    let mut objects = Vec::new();
    for &h in &src.handles[..info.handle_count()] {
        objects.push(
            from.borrow()
                .object(Handle(h))
                .ok_or(KernelError::BadHandle)?,
        );
    }
    for (i, object) in objects.into_iter().enumerate() {
        dst.handles[i] = to.borrow_mut().install(object).0;
    }
    dst.data[..info.len()].copy_from_slice(&src.data[..info.len()]);
    Ok(())
}

impl Transport for Loopback {
    fn call(&self, _endpoint: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError> {
        self.calls.set(self.calls.get() + 1);
        let mut sbuf = self.server_buf.borrow_mut();
        // Poison the server's buffer so stale bytes never pass for a message.
        sbuf.data.fill(0xa5);
        sbuf.handles = [0xdead; 4];
        transfer(&self.client, &self.server, msg.info, msg.buffer, &mut sbuf)?;
        let mut smsg = RawMessage {
            info: msg.info,
            words: msg.words,
            buffer: &mut sbuf,
            badge: self.badge.get(),
        };
        if let Err(rejected) = (self.dispatch.borrow_mut())(&mut smsg) {
            // What `serve` does with a rejection.
            for &h in rejected.stray_handles() {
                self.server.borrow_mut().close(h);
            }
            self.rejections.borrow_mut().push(rejected);
        }
        let (info, words) = (smsg.info, smsg.words);
        transfer(&self.server, &self.client, info, &sbuf, msg.buffer)?;
        msg.info = info;
        msg.words = words;
        Ok(())
    }

    fn close(&self, handle: Handle) {
        self.client.borrow_mut().close(handle);
    }
}

/// A small deterministic random number generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        for b in bytes {
            *b = self.next() as u8;
        }
    }
}

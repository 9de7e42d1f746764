//! Malformed requests and replies: error replies and errors, never panics or leaked handles.

mod common;

use common::*;
use nimbus_abi::ipc::{IPC_DATA_SIZE, MAX_HANDLES};
use nimbus_protocol::{
    Encoder, Handle, IpcBuffer, KernelError, MessageInfo, Protocol, ProtocolError, RawMessage,
    Rejected, ServerTransport, Transport, label, serve, status,
};
use std::cell::RefCell;
use std::collections::VecDeque;

/// A request as the client encoded it.
#[derive(Clone, Debug)]
struct Request {
    info: MessageInfo,
    data: Vec<u8>,
    handles: Vec<u32>,
}

/// Records what a client sends and fails the call.
#[derive(Default)]
struct Capture(RefCell<Vec<Request>>);

impl Transport for Capture {
    fn call(&self, _: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError> {
        self.0.borrow_mut().push(Request {
            info: msg.info,
            data: msg.buffer.data[..msg.info.len()].to_vec(),
            handles: msg.buffer.handles[..msg.info.handle_count()].to_vec(),
        });
        Err(KernelError::PeerDied)
    }

    fn close(&self, _: Handle) {}
}

/// Valid requests of every `Types` and `Console` method.
fn valid_requests() -> Vec<Request> {
    let cap = Capture::default();
    let mut buf = buffer();
    let t = TypesClient::new(&cap, Handle(1));
    let h = Handle(77);
    let _ = t.ints(&mut buf, 1, 300, 70000, u64::MAX, -1, -300, i32::MIN, 5);
    let _ = t.wide(&mut buf, u128::MAX, -5);
    let _ = t.flip(&mut buf, true);
    let _ = t.misc(&mut buf, 'x', 0.5, 99);
    let _ = t.echo_str(&mut buf, "hello");
    let _ = t.echo_bytes(&mut buf, &[1, 2, 3]);
    let _ = t.byte_len(&mut buf, &[9; 200]);
    let _ = t.maybe(&mut buf, Some("abc"));
    let _ = t.checked(&mut buf, -7);
    let _ = t.scale(&mut buf, Point { x: -1, y: 1 }, 3);
    let _ = t.record(
        &mut buf,
        Record {
            name: "n",
            data: &[1],
            at: Point { x: 1, y: 2 },
            flags: Some(1),
        },
    );
    let _ = t.blob(&mut buf, 10);
    let _ = t.four(&mut buf, h, h, h, h);
    let _ = t.swap(&mut buf, h, h);
    let _ = t.maybe_handle(&mut buf, Some(h));
    let _ = t.open(&mut buf, "a");
    let _ = t.pair(&mut buf, true);
    let _ = t.tagged(&mut buf, 1, h, "tail");
    let c = ConsoleClient::new(&cap, Handle(1));
    let _ = c.log(&mut buf, 2, "line");
    let _ = c.register_command(&mut buf, "ps", "help", h);
    cap.0.into_inner()
}

/// Every kind of server, behind one dispatch function each.
struct Servers {
    console: ConsoleImpl,
    types: TypesImpl,
    counter: CounterImpl,
}

impl Servers {
    fn new() -> Self {
        Self {
            console: ConsoleImpl::default(),
            types: TypesImpl::default(),
            counter: CounterImpl(0),
        }
    }

    fn dispatch(&mut self, which: usize, msg: &mut RawMessage<'_>) -> Result<(), Rejected> {
        match which {
            0 => Console::dispatch(&mut self.console, msg),
            1 => Types::dispatch(&mut self.types, msg),
            2 => Counter::dispatch(&mut self.counter, msg),
            _ => CounterV2::dispatch(&mut self.counter, msg),
        }
    }
}

/// Checks `msg` holds a well-formed reply for `result` to a request whose descriptor claimed
/// `sent` handles (what the kernel would have installed).
fn check_reply(result: &Result<(), Rejected>, msg: &RawMessage<'_>, sent: usize) {
    assert!(msg.info.is_valid(), "reply descriptor {:?}", msg.info);
    match result {
        Ok(()) => assert_eq!(msg.info.label(), status::OK),
        Err(r) => {
            assert_ne!(r.error().status(), status::OK);
            assert_eq!(msg.info, MessageInfo::label_only(r.error().status()));
            assert!(r.stray_handles().len() <= sent.min(MAX_HANDLES));
            assert!(ProtocolError::from_reply(msg.info, msg.words).is_some());
        }
    }
}

/// Dispatches `req` to server `which` in a fresh buffer.
fn deliver(servers: &mut Servers, which: usize, req: &Request) -> Result<(), Rejected> {
    let mut buf = buffer();
    buf.data[..req.data.len()].copy_from_slice(&req.data);
    buf.handles[..req.handles.len()].copy_from_slice(&req.handles);
    let mut msg = RawMessage {
        info: req.info,
        words: [0; 4],
        buffer: &mut buf,
        badge: 1,
    };
    let result = servers.dispatch(which, &mut msg);
    check_reply(&result, &msg, req.info.handle_count());
    result
}

fn which_server(info: MessageInfo) -> usize {
    if info.label() >> 16 == u32::from(Console::ID) {
        0
    } else {
        1
    }
}

#[test]
fn valid_requests_are_accepted() {
    let mut servers = Servers::new();
    let requests = valid_requests();
    assert_eq!(requests.len(), 20);
    for req in &requests {
        deliver(&mut servers, which_server(req.info), req).unwrap();
    }
    assert_eq!(servers.types.calls, 18);
}

#[test]
fn unknown_methods_are_refused() {
    let (lb, server) = Loopback::serving(TypesImpl::default(), Types::dispatch);
    let mut buf = buffer();
    for method in [<Types as Protocol>::METHODS.len() as u8, 200, 255] {
        let l = label(Types::ID, Types::VERSION, method);
        let mut msg = RawMessage::new(&mut buf);
        msg.info = MessageInfo::label_only(l);
        lb.call(Handle(1), &mut msg).unwrap();
        assert_eq!(msg.info.label(), status::UNKNOWN_METHOD);
        assert_eq!(
            ProtocolError::from_reply(msg.info, msg.words),
            Some(ProtocolError::UnknownMethod { label: l })
        );
    }
    assert_eq!(server.borrow().calls, 0);
    assert_eq!(lb.rejections.borrow().len(), 3);
}

#[test]
fn truncated_requests_are_refused() {
    let mut servers = Servers::new();
    let mut refused = 0;
    for req in valid_requests() {
        for cut in 0..req.data.len() {
            let short = Request {
                info: MessageInfo::new(req.info.label(), cut, req.handles.len()),
                data: req.data[..cut].to_vec(),
                ..req.clone()
            };
            let err = deliver(&mut servers, which_server(req.info), &short).unwrap_err();
            assert_eq!(err.error(), ProtocolError::Decode);
            assert_eq!(err.stray_handles().len(), req.handles.len());
            refused += 1;
        }
    }
    assert!(refused > 200);
    assert_eq!(servers.types.calls + servers.console.lines.len(), 0);
}

#[test]
fn extra_bytes_and_wrong_handle_counts_are_refused() {
    let mut servers = Servers::new();
    for req in valid_requests() {
        let which = which_server(req.info);
        let n = req.handles.len();
        // A trailing byte.
        let mut data = req.data.clone();
        data.push(0);
        let long = Request {
            info: MessageInfo::new(req.info.label(), data.len(), n),
            data,
            ..req.clone()
        };
        assert_eq!(
            deliver(&mut servers, which, &long).unwrap_err().error(),
            ProtocolError::Decode
        );
        // One handle too many.
        if n < MAX_HANDLES {
            let mut handles = req.handles.clone();
            handles.push(5);
            let more = Request {
                info: MessageInfo::new(req.info.label(), req.data.len(), n + 1),
                handles,
                ..req.clone()
            };
            let err = deliver(&mut servers, which, &more).unwrap_err();
            assert_eq!(err.error(), ProtocolError::TooManyHandles);
            assert_eq!(err.stray_handles().len(), n + 1);
        }
        // One handle short.
        if n > 0 {
            let fewer = Request {
                info: MessageInfo::new(req.info.label(), req.data.len(), n - 1),
                handles: req.handles[1..].to_vec(),
                ..req.clone()
            };
            assert_eq!(
                deliver(&mut servers, which, &fewer).unwrap_err().error(),
                ProtocolError::Decode
            );
        }
        // Descriptors the kernel would never deliver: more than four handles, more data than
        // the buffer holds.
        for count in 5..8u64 {
            let info = MessageInfo(u64::from(req.info.label()) | (count << 44));
            let bad = Request {
                info,
                data: Vec::new(),
                handles: Vec::new(),
            };
            assert_eq!(
                deliver(&mut servers, which, &bad).unwrap_err().error(),
                ProtocolError::TooManyHandles
            );
        }
        for len in [IPC_DATA_SIZE as u64 + 1, 0xfff] {
            let info = MessageInfo(u64::from(req.info.label()) | (len << 32));
            let bad = Request {
                info,
                data: Vec::new(),
                handles: Vec::new(),
            };
            assert_eq!(
                deliver(&mut servers, which, &bad).unwrap_err().error(),
                ProtocolError::Decode
            );
        }
    }
    assert_eq!(servers.types.calls + servers.console.lines.len(), 0);
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut servers = Servers::new();
    let mut buf = buffer();
    let ids = [(1u16, 1u8, 3u64), (2, 3, 20), (3, 1, 2), (3, 2, 3)];
    let mut accepted = 0;
    for i in 0..40_000 {
        let which = i % 4;
        let (id, version, methods) = ids[which];
        let lbl = match rng.below(8) {
            0 => rng.next() as u32,
            1 => label(id, rng.next() as u8, rng.below(methods) as u8),
            2 => label(rng.next() as u16, version, rng.below(methods) as u8),
            _ => label(id, version, rng.below(methods + 2) as u8),
        };
        let len = match rng.below(4) {
            0 => rng.below(0x1000),
            _ => rng.below(24),
        };
        let handles = match rng.below(8) {
            0 => rng.below(8),
            _ => rng.below(5),
        };
        let stray_bits = if rng.below(50) == 0 {
            rng.next() << 47
        } else {
            0
        };
        let info = MessageInfo(u64::from(lbl) | (len << 32) | (handles << 44) | stray_bits);
        rng.fill(&mut buf.data[..64]);
        if rng.below(2) == 0 {
            // Small numbers reach further into decoding than uniform noise.
            for b in &mut buf.data[..64] {
                *b &= 0x07;
            }
        }
        for h in &mut buf.handles {
            *h = rng.next() as u32;
        }
        let mut msg = RawMessage {
            info,
            words: [rng.next(); 4],
            buffer: &mut buf,
            badge: rng.next(),
        };
        let result = servers.dispatch(which, &mut msg);
        check_reply(&result, &msg, (handles as usize).min(MAX_HANDLES));
        accepted += usize::from(result.is_ok());
    }
    // The noise does reach the servers now and then.
    assert!(accepted > 50, "only {accepted} accepted");
}

#[test]
fn mutated_requests_never_panic() {
    let mut rng = Rng(42);
    let mut servers = Servers::new();
    let requests = valid_requests();
    for i in 0..20_000 {
        let mut req = requests[i % requests.len()].clone();
        match rng.below(4) {
            0 if !req.data.is_empty() => {
                let at = rng.below(req.data.len() as u64) as usize;
                req.data[at] ^= 1 << rng.below(8);
            }
            1 if !req.data.is_empty() => {
                let at = rng.below(req.data.len() as u64) as usize;
                req.data[at] = rng.next() as u8;
            }
            2 => req.info = MessageInfo(req.info.0 ^ (1 << rng.below(48))),
            _ => {
                let extra = rng.below(8) as usize;
                req.data.extend((0..extra).map(|_| rng.next() as u8));
                req.info = MessageInfo::new(req.info.label(), req.data.len(), req.handles.len());
            }
        }
        if req.data.len() > IPC_DATA_SIZE || req.handles.len() > MAX_HANDLES {
            continue;
        }
        deliver(&mut servers, which_server(req.info), &req).ok();
    }
}

/// A server that answers with whatever the test says, installing reply handles in the client.
struct EvilServer {
    replies: RefCell<Rng>,
    client: RefCell<Table>,
}

impl Transport for EvilServer {
    fn call(&self, _: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError> {
        let mut rng = self.replies.borrow_mut();
        let count = rng.below(5) as usize;
        let len = rng.below(16) as usize;
        let lbl = if rng.below(4) == 0 {
            rng.below(10) as u32
        } else {
            0
        };
        rng.fill(&mut msg.buffer.data[..len]);
        if rng.below(2) == 0 {
            for b in &mut msg.buffer.data[..len] {
                *b &= 0x03;
            }
        }
        for slot in &mut msg.buffer.handles[..count] {
            *slot = self.client.borrow_mut().install(1).0;
        }
        msg.info = MessageInfo::new(lbl, len, count);
        msg.words = [rng.next(); 4];
        Ok(())
    }

    fn close(&self, handle: Handle) {
        self.client.borrow_mut().close(handle);
    }
}

#[test]
fn hostile_replies_are_errors_and_their_handles_are_closed() {
    let evil = EvilServer {
        replies: RefCell::new(Rng(7)),
        client: RefCell::new(Table::default()),
    };
    let t = TypesClient::new(&evil, Handle(1));
    let mut buf = buffer();
    let mut kept = Vec::new();
    let mut ok = 0;
    for _ in 0..5000 {
        let before: Vec<u32> = evil.client.borrow().map.keys().copied().collect();
        // Handles the client returns to the caller are kept; all others must have been closed.
        let returned: Vec<Handle> = match rng_pick(&evil) {
            0 => t
                .swap(&mut buf, Handle(1), Handle(2))
                .map(|(a, b)| vec![a, b])
                .unwrap_or_default(),
            1 => t
                .pair(&mut buf, true)
                .ok()
                .and_then(Result::ok)
                .map(|(a, b)| [Some(a), b].into_iter().flatten().collect())
                .unwrap_or_default(),
            2 => t
                .open(&mut buf, "a")
                .ok()
                .and_then(Result::ok)
                .into_iter()
                .collect(),
            3 => t
                .four(&mut buf, Handle(1), Handle(2), Handle(3), Handle(4))
                .map(|a| a.to_vec())
                .unwrap_or_default(),
            4 => t
                .maybe_handle(&mut buf, None)
                .ok()
                .flatten()
                .into_iter()
                .collect(),
            5 => t
                .echo_str(&mut buf, "x")
                .map(|_| Vec::new())
                .unwrap_or_default(),
            _ => {
                let r = t.record(
                    &mut buf,
                    Record {
                        name: "",
                        data: &[],
                        at: Point { x: 0, y: 0 },
                        flags: None,
                    },
                );
                ok += usize::from(r.is_ok());
                Vec::new()
            }
        };
        kept.extend(returned);
        let table = evil.client.borrow();
        for h in table.map.keys() {
            assert!(
                before.contains(h) || kept.contains(&Handle(*h)),
                "leaked {h}"
            );
        }
    }
    assert!(!kept.is_empty() && ok > 0);
}

fn rng_pick(evil: &EvilServer) -> u64 {
    evil.replies.borrow_mut().below(7)
}

#[test]
fn errors_cross_the_wire_in_the_receivers_view() {
    let cases = [
        (ProtocolError::Encode, ProtocolError::Encode),
        (ProtocolError::Decode, ProtocolError::Decode),
        (ProtocolError::TooManyHandles, ProtocolError::TooManyHandles),
        (
            ProtocolError::UnknownMethod { label: 0x0001_0109 },
            ProtocolError::UnknownMethod { label: 0x0001_0109 },
        ),
        (
            ProtocolError::VersionMismatch { ours: 1, theirs: 2 },
            ProtocolError::VersionMismatch { ours: 2, theirs: 1 },
        ),
        (
            ProtocolError::WrongProtocol {
                expected: 3,
                got: 4,
            },
            ProtocolError::WrongProtocol {
                expected: 4,
                got: 3,
            },
        ),
        (
            ProtocolError::Server(0xdead_beef),
            ProtocolError::Server(0xdead_beef),
        ),
        (
            ProtocolError::Ipc(KernelError::QuotaExceeded),
            ProtocolError::Ipc(KernelError::QuotaExceeded),
        ),
    ];
    for (sent, seen) in cases {
        let (info, words) = sent.to_reply();
        assert!(info.is_valid() && !info.uses_buffer());
        assert_eq!(ProtocolError::from_reply(info, words), Some(seen));
        assert!(!sent.to_string().is_empty());
    }
    assert_eq!(
        ProtocolError::from_reply(MessageInfo::label_only(0), [0; 4]),
        None
    );
    assert_eq!(
        ProtocolError::from_reply(MessageInfo::label_only(999), [0; 4]),
        Some(ProtocolError::Decode)
    );
    assert_eq!(
        ProtocolError::from(KernelError::Dead),
        ProtocolError::Ipc(KernelError::Dead)
    );
}

/// A kernel that delivers a scripted list of messages to `serve` and records the replies.
#[derive(Default)]
struct Script {
    incoming: RefCell<VecDeque<Result<Request, KernelError>>>,
    replies: RefCell<Vec<(MessageInfo, Vec<u8>)>>,
    fail_replies: RefCell<VecDeque<bool>>,
    ops: RefCell<Vec<&'static str>>,
    closed: RefCell<Vec<Handle>>,
}

impl Script {
    fn deliver(&self, msg: &mut RawMessage<'_>) -> Result<(), KernelError> {
        let next = self
            .incoming
            .borrow_mut()
            .pop_front()
            .unwrap_or(Err(KernelError::Dead))?;
        msg.info = next.info;
        msg.words = [0; 4];
        msg.badge = 9;
        msg.buffer.data[..next.data.len()].copy_from_slice(&next.data);
        msg.buffer.handles[..next.handles.len()].copy_from_slice(&next.handles);
        Ok(())
    }
}

impl Transport for Script {
    fn call(&self, _: Handle, _: &mut RawMessage<'_>) -> Result<(), KernelError> {
        Err(KernelError::UnknownSyscall)
    }

    fn close(&self, handle: Handle) {
        self.closed.borrow_mut().push(handle);
    }
}

impl ServerTransport for Script {
    fn recv(&self, _: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError> {
        self.ops.borrow_mut().push("recv");
        self.deliver(msg)
    }

    fn reply_recv(&self, _: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError> {
        self.ops.borrow_mut().push("reply_recv");
        if self.fail_replies.borrow_mut().pop_front().unwrap_or(false) {
            return Err(KernelError::BadHandle);
        }
        self.replies
            .borrow_mut()
            .push((msg.info, msg.buffer.data[..msg.info.len()].to_vec()));
        self.deliver(msg)
    }
}

fn counter_request(n: u64) -> Request {
    let mut buf = buffer();
    let mut enc = Encoder::new(&mut buf);
    enc.put(&n);
    let len = enc.len();
    let info = enc.finish(Counter::method_label("add").unwrap()).unwrap();
    Request {
        info,
        data: buf.data[..len].to_vec(),
        handles: Vec::new(),
    }
}

#[test]
fn serve_replies_receives_and_closes_stray_handles() {
    let script = Script::default();
    let garbage = Request {
        info: MessageInfo::new(label(Counter::ID, 1, 0), 1, 2),
        data: vec![0xff],
        handles: vec![31, 32],
    };
    script.incoming.borrow_mut().extend([
        Ok(counter_request(2)),
        Ok(garbage),
        Ok(counter_request(3)),
        Ok(counter_request(4)),
    ]);
    // The reply to the third request is lost (its caller died): serve receives again.
    script
        .fail_replies
        .borrow_mut()
        .extend([false, false, true]);
    let mut counter = CounterImpl(0);
    let mut buf: Box<IpcBuffer> = buffer();
    let end = serve(&script, Handle(3), &mut buf, |msg| {
        Counter::dispatch(&mut counter, msg)
    });
    assert_eq!(end, KernelError::Dead);
    assert_eq!(counter.0, 9);
    assert_eq!(
        *script.ops.borrow(),
        [
            "recv",
            "reply_recv",
            "reply_recv",
            "reply_recv",
            "recv",
            "reply_recv",
            "recv"
        ]
    );
    let replies = script.replies.borrow();
    assert_eq!(replies[0], (MessageInfo::new(0, 1, 0), vec![2]));
    assert_eq!(replies[1].0, MessageInfo::label_only(status::DECODE));
    assert_eq!(replies[2], (MessageInfo::new(0, 1, 0), vec![9]));
    assert_eq!(*script.closed.borrow(), [Handle(31), Handle(32)]);
}

//! Typed calls through the loopback kernel.

mod common;

use common::*;
use nimbus_protocol::{
    Encoder, Handle, KernelError, Protocol, ProtocolError, RawMessage, Transport,
};

fn types() -> (Loopback, std::rc::Rc<std::cell::RefCell<TypesImpl>>) {
    Loopback::serving(TypesImpl::default(), Types::dispatch)
}

#[test]
fn console_round_trip() {
    let (lb, server) = Loopback::serving(ConsoleImpl::default(), Console::dispatch);
    lb.badge.set(0x55);
    let client = ConsoleClient::new(&lb, Handle(1));
    let mut buf = buffer();

    client.log(&mut buf, 3, "hello, nimbus").unwrap();
    client.log(&mut buf, 0, "").unwrap();
    assert_eq!(client.uptime(&mut buf).unwrap(), 123_456_789);

    let ep = lb.client_object(42);
    assert_eq!(
        client
            .register_command(&mut buf, "ps", "list processes", ep)
            .unwrap(),
        Ok(())
    );
    assert_eq!(
        client
            .register_command(&mut buf, "ps", "again", ep)
            .unwrap(),
        Err(CommandError::Exists)
    );
    assert_eq!(
        client
            .register_command(&mut buf, "a-very-long-command-name", "", ep)
            .unwrap(),
        Err(CommandError::NameTooLong { max: 16 })
    );

    let s = server.borrow();
    assert_eq!(
        s.lines,
        vec![
            (0x55, 3, "hello, nimbus".to_owned()),
            (0x55, 0, String::new())
        ]
    );
    assert_eq!(s.commands.len(), 1);
    let (name, help, handle) = &s.commands[0];
    assert_eq!((name.as_str(), help.as_str()), ("ps", "list processes"));
    // The server got its own handle to the same object.
    assert_ne!(*handle, ep);
    assert_eq!(lb.server_sees(*handle), Some(42));
    assert!(lb.rejections.borrow().is_empty());
}

#[test]
fn integers_bools_and_floats() {
    let (lb, _) = types();
    let c = TypesClient::new(&lb, Handle(1));
    let mut buf = buffer();
    let max = (
        u8::MAX,
        u16::MAX,
        u32::MAX,
        u64::MAX,
        i8::MIN,
        i16::MIN,
        i32::MIN,
        i64::MIN,
    );
    assert_eq!(
        c.ints(
            &mut buf, max.0, max.1, max.2, max.3, max.4, max.5, max.6, max.7
        )
        .unwrap(),
        max
    );
    assert_eq!(
        c.ints(&mut buf, 0, 1, 2, 3, -1, 0, 7, -9).unwrap(),
        (0, 1, 2, 3, -1, 0, 7, -9)
    );
    assert_eq!(
        c.wide(&mut buf, u128::MAX - 1, i128::MIN + 1).unwrap(),
        (u128::MAX, i128::MIN)
    );
    assert!(!c.flip(&mut buf, true).unwrap());
    assert!(c.flip(&mut buf, false).unwrap());
    assert_eq!(
        c.misc(&mut buf, 'λ', 1.25, usize::MAX).unwrap(),
        ('λ', 2.5, usize::MAX)
    );
    c.nothing(&mut buf).unwrap();
}

#[test]
fn strings_and_bytes_borrow_from_the_buffer() {
    let (lb, _) = types();
    let c = TypesClient::new(&lb, Handle(1));
    let mut buf = buffer();
    assert_eq!(c.echo_str(&mut buf, "").unwrap(), "");
    let s = c.echo_str(&mut buf, "grüße, 世界").unwrap();
    assert_eq!(s, "grüße, 世界");
    // The result points into the reply buffer, not a copy.
    let data_range = buf.data.as_ptr_range();
    let s = c.echo_str(&mut buf, "zero copy").unwrap();
    assert!(data_range.contains(&s.as_ptr()));

    let bytes: Vec<u8> = (0..=255).collect();
    assert_eq!(c.echo_bytes(&mut buf, &bytes).unwrap(), &bytes[..]);
    assert_eq!(c.echo_bytes(&mut buf, &[]).unwrap(), &[] as &[u8]);
    assert_eq!(c.byte_len(&mut buf, &[1, 2, 3]).unwrap(), 3);
}

#[test]
fn options_results_and_structs() {
    let (lb, _) = types();
    let c = TypesClient::new(&lb, Handle(1));
    let mut buf = buffer();
    assert_eq!(c.maybe(&mut buf, Some("four")).unwrap(), Some(4));
    assert_eq!(c.maybe(&mut buf, None).unwrap(), None);
    assert_eq!(c.checked(&mut buf, 21).unwrap(), Ok(42));
    assert_eq!(c.checked(&mut buf, -1).unwrap(), Err(TypesError::Negative));
    assert_eq!(
        c.checked(&mut buf, 5000).unwrap(),
        Err(TypesError::TooBig(5000))
    );
    assert_eq!(
        c.scale(&mut buf, Point { x: 2, y: -3 }, 4).unwrap(),
        Point { x: 8, y: -12 }
    );

    let r = Record {
        name: "abc",
        data: &[1, 2, 255],
        at: Point { x: 1, y: 2 },
        flags: Some(0x00ff),
    };
    let back = c.record(&mut buf, r).unwrap();
    assert_eq!(
        back,
        Record {
            name: "cba",
            data: &[2, 3, 0],
            at: Point { x: 2, y: 1 },
            flags: Some(0xff00)
        }
    );
    let r = Record {
        name: "",
        data: &[],
        at: Point { x: 0, y: 0 },
        flags: None,
    };
    assert_eq!(c.record(&mut buf, r.clone()).unwrap(), r);
}

#[test]
fn handles_in_and_out() {
    let (lb, server) = types();
    let c = TypesClient::new(&lb, Handle(1));
    let mut buf = buffer();
    let [a, b, x, y] = [10, 11, 12, 13].map(|o| lb.client_object(o));

    // Four in, four out; every received handle is a new value for the same object.
    let out = c.four(&mut buf, a, b, x, y).unwrap();
    assert_eq!(
        out.map(|h| lb.client_sees(h)),
        [Some(13), Some(12), Some(11), Some(10)]
    );
    assert!(out.iter().all(|h| ![a, b, x, y].contains(h)));
    let got = server.borrow().received.clone();
    assert_eq!(
        got.iter().map(|&h| lb.server_sees(h)).collect::<Vec<_>>(),
        [10, 11, 12, 13].map(Some)
    );

    let (p, q) = c.swap(&mut buf, a, b).unwrap();
    assert_eq!((lb.client_sees(p), lb.client_sees(q)), (Some(11), Some(10)));

    assert_eq!(c.maybe_handle(&mut buf, Some(a)).unwrap(), None);
    let h = c.maybe_handle(&mut buf, None).unwrap().unwrap();
    assert_eq!(lb.client_sees(h), Some(OBJECT_A));

    assert_eq!(
        lb.client_sees(c.open(&mut buf, "b").unwrap().unwrap()),
        Some(OBJECT_B)
    );
    assert_eq!(
        c.open(&mut buf, "zz").unwrap(),
        Err(TypesError::NoSuchName { len: 2 })
    );

    let (one, two) = c.pair(&mut buf, true).unwrap().unwrap();
    assert_eq!(
        (lb.client_sees(one), two.and_then(|h| lb.client_sees(h))),
        (Some(OBJECT_A), Some(OBJECT_B))
    );
    let (one, two) = c.pair(&mut buf, false).unwrap().unwrap();
    assert_eq!((lb.client_sees(one), two), (Some(OBJECT_A), None));

    let (tag, h, len) = c.tagged(&mut buf, 254, x, "trailer").unwrap();
    assert_eq!((tag, lb.client_sees(h), len), (255, Some(12), 7));
    assert!(lb.rejections.borrow().is_empty());
}

#[test]
fn a_bad_handle_is_the_kernels_error() {
    let (lb, server) = types();
    let c = TypesClient::new(&lb, Handle(1));
    let mut buf = buffer();
    assert_eq!(
        c.swap(&mut buf, Handle(1), Handle(2)),
        Err(ProtocolError::Ipc(KernelError::BadHandle))
    );
    assert_eq!(server.borrow().calls, 0);
}

#[test]
fn versions_and_protocol_ids_are_checked() {
    let (lb, counter) = Loopback::serving(CounterImpl(5), Counter::dispatch);
    let mut buf = buffer();
    assert_eq!(
        CounterClient::new(&lb, Handle(1)).add(&mut buf, 2).unwrap(),
        7
    );

    let newer = CounterV2Client::new(&lb, Handle(1));
    assert_eq!(
        newer.get(&mut buf),
        Err(ProtocolError::VersionMismatch { ours: 2, theirs: 1 })
    );
    assert_eq!(
        newer.reset(&mut buf),
        Err(ProtocolError::VersionMismatch { ours: 2, theirs: 1 })
    );
    let rejected = lb.rejections.borrow()[0];
    assert_eq!(
        rejected.error(),
        ProtocolError::VersionMismatch { ours: 1, theirs: 2 }
    );

    let console = ConsoleClient::new(&lb, Handle(1));
    assert_eq!(
        console.uptime(&mut buf),
        Err(ProtocolError::WrongProtocol {
            expected: 1,
            got: 3
        })
    );
    assert_eq!(
        lb.rejections.borrow()[2].error(),
        ProtocolError::WrongProtocol {
            expected: 3,
            got: 1
        }
    );
    assert_eq!(counter.borrow().0, 7);

    // A v2 server answers v2 clients.
    let (lb2, _) = Loopback::serving(CounterImpl(5), CounterV2::dispatch);
    let c2 = CounterV2Client::new(&lb2, Handle(1));
    c2.reset(&mut buf).unwrap();
    assert_eq!(c2.add(&mut buf, 3).unwrap(), 3);
}

#[test]
fn rejected_handles_are_closed_not_leaked() {
    let (lb, server) = types();
    let mut buf = buffer();
    let a = lb.client_object(10);
    let b = lb.client_object(11);
    let before = lb.server.borrow().map.len();
    // A request of another version carrying handles: the server never sees them; they are closed.
    let mut enc = Encoder::new(&mut buf);
    enc.put_handle(a);
    enc.put_handle(b);
    let info = enc
        .finish(nimbus_protocol::label(Types::ID, 9, 14))
        .unwrap();
    let mut msg = RawMessage {
        info,
        words: [0; 4],
        buffer: &mut buf,
        badge: 0,
    };
    lb.call(Handle(1), &mut msg).unwrap();
    assert_eq!(
        ProtocolError::from_reply(msg.info, msg.words),
        Some(ProtocolError::VersionMismatch { ours: 9, theirs: 3 })
    );
    assert_eq!(msg.info.handle_count(), 0);
    assert_eq!(lb.server.borrow().map.len(), before);
    assert_eq!(lb.server.borrow().closed.len(), 2);
    assert_eq!(lb.rejections.borrow()[0].stray_handles().len(), 2);
    assert_eq!(server.borrow().calls, 0);
}

#[test]
fn too_large_bodies_fail_to_encode() {
    let (lb, server) = types();
    let c = TypesClient::new(&lb, Handle(1));
    let mut buf = buffer();
    let big = vec![7u8; 5000];
    assert_eq!(c.byte_len(&mut buf, &big), Err(ProtocolError::Encode));
    let text = "x".repeat(4079);
    assert_eq!(c.echo_str(&mut buf, &text), Err(ProtocolError::Encode));
    assert_eq!(lb.calls.get(), 0, "nothing was sent");

    // The largest body that fits: a 2-byte length and 4078 bytes.
    let fits = vec![1u8; 4078];
    assert_eq!(c.byte_len(&mut buf, &fits).unwrap(), 4078);
    assert_eq!(
        c.byte_len(&mut buf, &[1u8; 4079]),
        Err(ProtocolError::Encode)
    );

    // A result too large for the buffer is the server's Encode error, reported to the client.
    assert_eq!(c.blob(&mut buf, 4000).unwrap().len(), 4000);
    assert_eq!(c.blob(&mut buf, 8000), Err(ProtocolError::Encode));
    assert_eq!(lb.rejections.borrow()[0].error(), ProtocolError::Encode);
    assert_eq!(server.borrow().calls, 3);

    // The server's own handle in a result that does not fit stays the server's: the kernel
    // copies handles, so it was never the client's and must not be closed.
    assert_eq!(c.too_big_with_handle(&mut buf), Err(ProtocolError::Encode));
    assert!(lb.rejections.borrow()[1].stray_handles().is_empty());
    assert_eq!(lb.server_sees(SERVER_OBJECT_A), Some(OBJECT_A));
    assert!(lb.server.borrow().closed.is_empty());
}

#[test]
fn labels_and_metadata() {
    assert_eq!(nimbus_protocol::label(0x0102, 0x03, 0x04), 0x0102_0304);
    assert_eq!(
        nimbus_protocol::split_label(0xfffe_ab07),
        (0xfffe, 0xab, 0x07)
    );
    assert_eq!((Console::ID, Console::VERSION), (1, 1));
    assert_eq!(<Console as Protocol>::NAME, "Console");
    assert_eq!(
        <Console as Protocol>::METHODS,
        ["log", "register_command", "uptime"]
    );
    assert_eq!(Console::method_label("uptime"), Some(0x0001_0102));
    assert_eq!(Console::method_label("nope"), None);
    assert_eq!(
        Types::method_label("tagged"),
        Some(nimbus_protocol::label(2, 3, 18))
    );
}

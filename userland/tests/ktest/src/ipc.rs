//! IPC: calls and replies in registers and in the IPC buffer, handle transfer between
//! processes, timeouts, notifications, shared memory, and a server dying mid-call.

use crate::child::{self, Give};
use crate::harness::{Context, Env, Test, ensure};
use alloc::string::String;
use nimbus_abi::ipc::IPC_DATA_SIZE;
use nimbus_abi::layout::MAP_AREA;
use nimbus_abi::rights::{MAP_READ, MAP_WRITE};
use nimbus_abi::syscall::{TIMEOUT_FOREVER, TIMEOUT_NONE};
use nimbus_abi::{Error, Handle, MessageInfo, ObjectType, Rights};
use nimbus_ktest_child::{Mode, SHARED_PATTERN};
use nimbus_rt::{sys, thread};

pub const TESTS: &[Test] = &[
    Test {
        name: "user::ipc::call_and_reply_carry_label_and_words",
        run: call_reply,
    },
    Test {
        name: "user::ipc::fast_and_general_paths_agree",
        run: fast_and_general_agree,
    },
    Test {
        name: "user::ipc::buffer_carries_data_and_handles_between_processes",
        run: buffer_and_handles,
    },
    Test {
        name: "user::ipc::receive_times_out",
        run: recv_timeout,
    },
    Test {
        name: "user::ipc::call_without_a_receiver_does_not_block_with_zero_timeout",
        run: would_block,
    },
    Test {
        name: "user::ipc::notifications_accumulate_and_wake",
        run: notifications,
    },
    Test {
        name: "user::ipc::memory_is_shared_between_processes",
        run: shared_memory,
    },
    Test {
        name: "user::ipc::caller_learns_that_the_server_died",
        run: peer_died,
    },
];

const SECOND: u64 = 1_000_000_000;

/// The kernel takes its IPC fast path for a register-only call without a timeout between
/// threads on one CPU, and the general path otherwise (here: the same call with a timeout). Both
/// must deliver the same message, badge and reply.
fn fast_and_general_agree(_env: &mut Env) -> Result<(), String> {
    let ep = sys::endpoint_create().context("endpoint")?;
    let badged = sys::handle_mint(ep, Rights::SEND, 0x5eed).context("mint")?;
    let server = thread::spawn(12, Some(0), move || {
        let mut msg = sys::ipc_recv(ep, TIMEOUT_FOREVER);
        while let Ok(m) = msg {
            let w = m.words;
            let reply = MessageInfo::label_only(m.info.label() ^ 0xffff);
            msg = sys::ipc_reply_recv(
                ep,
                reply,
                [m.badge, w[0].wrapping_add(w[3]), w[1], w[2]],
                TIMEOUT_FOREVER,
            );
        }
    })
    .context("server")?;
    let outcome =
        alloc::sync::Arc::new(spin::Mutex::new(Err(String::from("the client never ran"))));
    let result = outcome.clone();
    let client = thread::spawn(12, Some(0), move || {
        *result.lock() = compare_paths(badged);
    })
    .context("client")?;
    client.join().context("join client")?;
    // Closing every handle destroys the endpoint: the server wakes with an error and ends.
    for h in [badged, ep] {
        let _ = sys::handle_close(h);
    }
    server.join().context("join server")?;
    outcome.lock().clone()
}

/// Calls through `badged` with and without a timeout and compares the replies.
fn compare_paths(badged: Handle) -> Result<(), String> {
    for i in 0..50u64 {
        let words = [i, i * 3, !i, 1 << (i % 64)];
        let label = 0x100 + i as u32;
        let info = MessageInfo::label_only(label);
        let fast = sys::ipc_call(badged, info, words, TIMEOUT_FOREVER).context("fast call")?;
        let general = sys::ipc_call(badged, info, words, 10 * SECOND).context("general call")?;
        let want = [0x5eed, i.wrapping_add(1 << (i % 64)), i * 3, !i];
        ensure!(
            fast.words == want && fast.info.label() == label ^ 0xffff,
            "call {i} on the fast path got {:#x} {:x?}, want {want:x?}",
            fast.info.label(),
            fast.words
        );
        ensure!(
            general.words == fast.words && general.info.0 == fast.info.0,
            "call {i}: the general path got {:#x} {:x?}, the fast path {:#x} {:x?}",
            general.info.label(),
            general.words,
            fast.info.label(),
            fast.words
        );
    }
    Ok(())
}

fn call_reply(_env: &mut Env) -> Result<(), String> {
    let ep = sys::endpoint_create().context("endpoint")?;
    let server = thread::spawn(12, None, move || {
        let mut msg = sys::ipc_recv(ep, TIMEOUT_FOREVER);
        while let Ok(m) = msg {
            let w = m.words;
            let reply = MessageInfo::label_only(m.info.label() + 1);
            msg = sys::ipc_reply_recv(ep, reply, [w[3], w[2], w[1], w[0]], TIMEOUT_FOREVER);
        }
    })
    .context("server")?;
    for i in 0..100u64 {
        let r = sys::ipc_call(
            ep,
            MessageInfo::label_only(7),
            [i, i + 1, i + 2, i + 3],
            TIMEOUT_FOREVER,
        )
        .context("call")?;
        ensure!(r.info.label() == 8, "reply label {}", r.info.label());
        ensure!(
            r.words == [i + 3, i + 2, i + 1, i],
            "reply words {:?}",
            r.words
        );
    }
    // Closing the only handle destroys the endpoint: the server wakes with an error and ends.
    let _ = sys::handle_close(ep);
    server.join().context("server")?;
    Ok(())
}

fn buffer_and_handles(env: &mut Env) -> Result<(), String> {
    let ep = sys::endpoint_create().context("endpoint")?;
    let c = child::spawn(
        env,
        Mode::Echo,
        &[Give::Handle(
            "serve",
            ep,
            Rights::RECEIVE,
            ObjectType::Endpoint,
        )],
    )?;
    let note = sys::notification_create().context("notification")?;
    let result = (|| {
        let pattern = |i: usize| (i * 7 + 3) as u8;
        thread::with_ipc_buffer(|b| {
            for (i, byte) in b.data.iter_mut().enumerate() {
                *byte = pattern(i);
            }
            b.handles[0] = note.0;
        })
        .context("buffer")?;
        let info = MessageInfo::new(9, IPC_DATA_SIZE, 1);
        let r = sys::ipc_call(ep, info, [1, 2, 3, 4], 5 * SECOND).context("call")?;
        ensure!(r.words == [2, 3, 4, 5], "echo words {:?}", r.words);
        ensure!(
            r.info.len() == IPC_DATA_SIZE,
            "echo length {}",
            r.info.len()
        );
        let ok = thread::with_ipc_buffer(|b| {
            b.data
                .iter()
                .enumerate()
                .all(|(i, byte)| *byte == pattern(IPC_DATA_SIZE - 1 - i))
        })
        .context("buffer")?;
        ensure!(ok, "the data did not come back reversed");
        // The server received our notification handle and sent it back: a new handle here.
        let back = thread::with_ipc_buffer(|b| Handle(b.handles[0])).context("buffer")?;
        ensure!(
            r.info.handle_count() == 1 && back != note,
            "handle came back as {back:?}"
        );
        sys::signal(back, 2).context("signal through the returned handle")?;
        ensure!(
            sys::wait(note, SECOND) == Ok(2),
            "the returned handle names another object"
        );
        let _ = sys::handle_close(back);
        Ok(())
    })();
    child::reap(c);
    let _ = sys::handle_close(note);
    let _ = sys::handle_close(ep);
    result
}

fn recv_timeout(_env: &mut Env) -> Result<(), String> {
    let ep = sys::endpoint_create().context("endpoint")?;
    let start = sys::clock_now();
    let r = sys::ipc_recv(ep, 20_000_000);
    let elapsed = sys::clock_now() - start;
    let _ = sys::handle_close(ep);
    ensure!(
        r == Err(Error::TimedOut),
        "receive on an idle endpoint gave {r:?}"
    );
    ensure!(
        elapsed >= 20_000_000,
        "timed out after {elapsed} ns, before its 20 ms"
    );
    Ok(())
}

fn would_block(_env: &mut Env) -> Result<(), String> {
    let ep = sys::endpoint_create().context("endpoint")?;
    let call = sys::ipc_call(ep, MessageInfo::label_only(1), [0; 4], TIMEOUT_NONE);
    let recv = sys::ipc_recv(ep, TIMEOUT_NONE);
    let _ = sys::handle_close(ep);
    ensure!(
        call == Err(Error::WouldBlock) && recv == Err(Error::WouldBlock),
        "call {call:?}, receive {recv:?}"
    );
    Ok(())
}

fn notifications(_env: &mut Env) -> Result<(), String> {
    let note = sys::notification_create().context("notification")?;
    sys::signal(note, 1).context("signal")?;
    sys::signal(note, 4).context("signal")?;
    ensure!(
        sys::wait(note, TIMEOUT_NONE) == Ok(5),
        "bits did not accumulate"
    );
    ensure!(
        sys::wait(note, TIMEOUT_NONE) == Err(Error::WouldBlock),
        "bits were not cleared"
    );
    ensure!(
        sys::wait(note, 10_000_000) == Err(Error::TimedOut),
        "waiting with nothing pending did not time out"
    );
    let signaller = sys::handle_duplicate(note, Rights::SIGNAL).context("dup")?;
    let waker = thread::spawn(12, None, move || {
        sys::sleep(5_000_000);
        let _ = sys::signal(signaller, 0x80);
    })
    .context("thread")?;
    let bits = sys::wait(note, 5 * SECOND);
    let _ = waker.join();
    let _ = sys::handle_close(note);
    ensure!(bits == Ok(0x80), "a waiting thread woke with {bits:?}");
    let badged = sys::notification_create().context("notification")?;
    let minted = sys::handle_mint(badged, Rights::SIGNAL, 0x100).context("mint")?;
    sys::signal(minted, 1).context("signal")?;
    ensure!(
        sys::wait(badged, TIMEOUT_NONE) == Ok(0x101),
        "a badged signal did not carry its badge"
    );
    Ok(())
}

fn shared_memory(env: &mut Env) -> Result<(), String> {
    let len = 16 * 4096u64;
    let shm = sys::mem_create(len, 0).context("memory")?;
    let done = sys::notification_create().context("notification")?;
    let va = MAP_AREA + (3 << 30);
    sys::mem_map(Handle::NONE, shm, va, 0, len, MAP_READ | MAP_WRITE).context("map")?;
    let c = child::spawn(
        env,
        Mode::SharedWriter,
        &[
            Give::Handle("shm", shm, Rights::READ | Rights::WRITE, ObjectType::Memory),
            Give::Handle("done", done, Rights::SIGNAL, ObjectType::Notification),
            Give::Value("len", len as u32),
        ],
    )?;
    let signalled = sys::wait(done, 10 * SECOND);
    let mut bad = None;
    for i in 0..len / 8 {
        // SAFETY: the shared memory is mapped read-only-for-us-here at `va` for `len` bytes.
        let value = unsafe { ((va + i * 8) as *const u64).read_volatile() };
        if value != i ^ SHARED_PATTERN {
            bad = Some(i);
            break;
        }
    }
    child::reap(c);
    // SAFETY: nothing refers to the mapping any more.
    unsafe { sys::mem_unmap(Handle::NONE, va, len) }.context("unmap")?;
    let _ = sys::handle_close(shm);
    let _ = sys::handle_close(done);
    ensure!(
        signalled == Ok(1),
        "the writer did not signal: {signalled:?}"
    );
    ensure!(
        bad.is_none(),
        "word {bad:?} differs from what the other process wrote"
    );
    Ok(())
}

fn peer_died(env: &mut Env) -> Result<(), String> {
    let ep = sys::endpoint_create().context("endpoint")?;
    let c = child::spawn(
        env,
        Mode::Silent,
        &[Give::Handle(
            "serve",
            ep,
            Rights::RECEIVE,
            ObjectType::Endpoint,
        )],
    )?;
    let process = c.process;
    let killer = thread::spawn(12, None, move || {
        sys::sleep(50_000_000);
        let _ = sys::process_kill(process);
    })
    .context("killer thread")?;
    let r = sys::ipc_call(ep, MessageInfo::label_only(1), [0; 4], 10 * SECOND);
    let _ = killer.join();
    child::reap(c);
    let _ = sys::handle_close(ep);
    ensure!(
        r == Err(Error::PeerDied),
        "a call to a server killed while it held the call gave {r:?}"
    );
    Ok(())
}

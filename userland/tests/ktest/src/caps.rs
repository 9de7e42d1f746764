//! Capabilities: rights only shrink, badges, transfer, no ambient authority, quotas, and
//! reclamation of everything a process owned.

use crate::child::{self, Notice};
use crate::harness::{Context, Env, Test, ensure};
use alloc::string::String;
use alloc::vec::Vec;
use nimbus_abi::rights::{MAP_READ, MAP_WRITE};
use nimbus_abi::syscall::TIMEOUT_FOREVER;
use nimbus_abi::{Error, Handle, MessageInfo, ObjectType, Quota, Rights};
use nimbus_ktest_child::Mode;
use nimbus_rt::{sys, thread};

pub const TESTS: &[Test] = &[
    Test {
        name: "user::caps::rights_only_shrink",
        run: rights_only_shrink,
    },
    Test {
        name: "user::caps::badges_tell_the_server_who_called",
        run: badges,
    },
    Test {
        name: "user::caps::handles_transfer_only_with_the_transfer_right",
        run: transfer,
    },
    Test {
        name: "user::caps::a_process_reaches_nothing_it_holds_no_handle_for",
        run: no_ambient_authority,
    },
    Test {
        name: "user::caps::stale_and_forged_handles_are_refused",
        run: stale_handles,
    },
    Test {
        name: "user::caps::memory_quota_is_enforced",
        run: memory_quota,
    },
    Test {
        name: "user::caps::handle_and_thread_quotas_are_enforced",
        run: handle_thread_quota,
    },
    Test {
        name: "user::caps::a_child_quota_comes_out_of_the_parent",
        run: quota_carved,
    },
    Test {
        name: "user::caps::1000_create_destroy_cycles_leak_nothing",
        run: no_leaks,
    },
    Test {
        name: "user::caps::a_child_dropped_before_it_starts_is_reclaimed",
        run: dropped_child,
    },
];

fn rights_only_shrink(_env: &mut Env) -> Result<(), String> {
    let ep = sys::endpoint_create().context("endpoint")?;
    let send_only =
        sys::handle_duplicate(ep, Rights::SEND | Rights::DUPLICATE).context("duplicate")?;
    let widened = sys::handle_duplicate(send_only, Rights::SEND | Rights::RECEIVE);
    ensure!(
        widened == Err(Error::AccessDenied),
        "widening rights gave {widened:?}"
    );
    let recv = sys::ipc_recv(send_only, 0);
    ensure!(
        recv == Err(Error::AccessDenied),
        "receiving without RECEIVE gave {recv:?}"
    );
    let no_dup = sys::handle_duplicate(send_only, Rights::SEND).context("second duplicate")?;
    let again = sys::handle_duplicate(no_dup, Rights::SEND);
    ensure!(
        again == Err(Error::AccessDenied),
        "duplicating without DUPLICATE gave {again:?}"
    );
    let (kind, rights, _) = sys::handle_info(no_dup).context("info")?;
    ensure!(
        kind == Some(ObjectType::Endpoint) && rights == Rights::SEND,
        "info says {kind:?} {rights:?}"
    );
    for h in [ep, send_only, no_dup] {
        sys::handle_close(h).context("close")?;
    }
    Ok(())
}

fn badges(_env: &mut Env) -> Result<(), String> {
    let ep = sys::endpoint_create().context("endpoint")?;
    let a = sys::handle_mint(ep, Rights::SEND | Rights::DUPLICATE, 0xa).context("mint a")?;
    let b = sys::handle_mint(ep, Rights::SEND, 0xb).context("mint b")?;
    let remint = sys::handle_mint(a, Rights::SEND, 0xc);
    ensure!(
        remint == Err(Error::InvalidArgument),
        "re-badging a badged handle gave {remint:?}"
    );
    let server = thread::spawn(12, None, move || {
        let mut msg = sys::ipc_recv(ep, TIMEOUT_FOREVER);
        while let Ok(m) = msg {
            msg = sys::ipc_reply_recv(
                ep,
                MessageInfo::label_only(0),
                [m.badge, 0, 0, 0],
                TIMEOUT_FOREVER,
            );
        }
    })
    .context("server thread")?;
    let got_a = sys::ipc_call(a, MessageInfo::label_only(1), [0; 4], TIMEOUT_FOREVER)
        .context("call a")?
        .words[0];
    let got_b = sys::ipc_call(b, MessageInfo::label_only(1), [0; 4], TIMEOUT_FOREVER)
        .context("call b")?
        .words[0];
    ensure!(
        got_a == 0xa && got_b == 0xb,
        "server saw badges {got_a:#x} and {got_b:#x}"
    );
    // Closing every handle destroys the endpoint: the server wakes with an error and ends.
    for h in [a, b, ep] {
        let _ = sys::handle_close(h);
    }
    server.join().context("server")?;
    Ok(())
}

fn transfer(_env: &mut Env) -> Result<(), String> {
    let ep = sys::endpoint_create().context("endpoint")?;
    let note = sys::notification_create().context("notification")?;
    let sendable = sys::handle_duplicate(note, Rights::SIGNAL | Rights::TRANSFER).context("dup")?;
    let stuck = sys::handle_duplicate(note, Rights::SIGNAL).context("dup")?;
    let server = thread::spawn(12, None, move || {
        let mut msg = sys::ipc_recv(ep, TIMEOUT_FOREVER);
        while let Ok(m) = msg {
            // Signal through the received handle, report its value and rights, close it.
            let received =
                thread::with_ipc_buffer(|b| Handle(b.handles[0])).unwrap_or(Handle::NONE);
            let rights = sys::handle_info(received)
                .map(|(_, r, _)| r.bits())
                .unwrap_or(0);
            let signalled = u64::from(sys::signal(received, 4).is_ok());
            let _ = sys::handle_close(received);
            let words = [
                u64::from(received.0),
                u64::from(rights),
                signalled,
                m.info.handle_count() as u64,
            ];
            msg = sys::ipc_reply_recv(ep, MessageInfo::label_only(0), words, TIMEOUT_FOREVER);
        }
    })
    .context("server thread")?;
    let send = |h: Handle| {
        thread::with_ipc_buffer(|b| b.handles[0] = h.0)
            .map_err(|e| alloc::format!("{e}"))
            .and_then(|()| {
                sys::ipc_call(ep, MessageInfo::new(1, 0, 1), [0; 4], TIMEOUT_FOREVER)
                    .context("call")
            })
    };
    let refused = send(stuck);
    ensure!(
        refused
            .as_ref()
            .err()
            .is_some_and(|e| e.contains("access denied")),
        "sending a handle without TRANSFER gave {refused:?}"
    );
    let reply = send(sendable)?;
    let [value, rights, signalled, count] = reply.words;
    ensure!(
        count == 1 && value != 0 && value != u64::from(sendable.0),
        "the receiver got handle {value:#x} ({count} handles)"
    );
    ensure!(
        rights == u64::from((Rights::SIGNAL | Rights::TRANSFER).bits()),
        "the received handle has rights {rights:#x}"
    );
    ensure!(signalled == 1, "the received handle could not signal");
    let bits = sys::wait(note, 1_000_000_000).context("wait")?;
    ensure!(bits == 4, "notification got bits {bits:#x}");
    // Closing the endpoint ends the server; then the rest goes too.
    let _ = sys::handle_close(ep);
    server.join().context("server")?;
    for h in [note, sendable, stuck] {
        let _ = sys::handle_close(h);
    }
    Ok(())
}

fn no_ambient_authority(env: &mut Env) -> Result<(), String> {
    // No handles at all: not even a log handle.
    let quota = child::QUOTA;
    let c = child::spawn_with(env, Mode::ProbeHandles, &quota, 10, &[])?;
    let notice = child::notice(env, &c, 30 * 1_000_000_000);
    child::reap(c);
    match notice? {
        Notice::Exit(0) => Ok(()),
        Notice::Exit(1000) => {
            Err("an operation needing authority did not fail with BadHandle".into())
        }
        Notice::Exit(n) => Err(alloc::format!(
            "a process with no handles found {n} working handle values"
        )),
        other => Err(alloc::format!("the probe ended with {other:?}")),
    }
}

fn stale_handles(_env: &mut Env) -> Result<(), String> {
    let note = sys::notification_create().context("notification")?;
    sys::handle_close(note).context("close")?;
    ensure!(
        sys::signal(note, 1) == Err(Error::BadHandle),
        "a closed handle still works"
    );
    let fresh = sys::notification_create().context("notification")?;
    ensure!(
        sys::signal(note, 1) == Err(Error::BadHandle),
        "a closed handle reached the object that reused its slot"
    );
    ensure!(
        sys::signal(fresh, 1).is_ok(),
        "the new handle does not work"
    );
    ensure!(
        sys::signal(Handle(0), 1) == Err(Error::BadHandle),
        "handle 0 works"
    );
    ensure!(
        sys::signal(Handle(u32::MAX), 1) == Err(Error::BadHandle),
        "handle 0xffffffff works"
    );
    let too_big = sys::raw(nimbus_abi::Syscall::Signal, [1 << 40, 1, 0, 0, 0, 0, 0, 0]);
    ensure!(
        too_big[0] == Error::BadHandle as u64,
        "a 64-bit handle value was accepted"
    );
    sys::handle_close(fresh).context("close")?;
    Ok(())
}

fn memory_quota(env: &mut Env) -> Result<(), String> {
    let quota = Quota {
        memory_bytes: 1 << 20,
        handles: 64,
        threads: 2,
        max_priority: 10,
        reserved: 0,
    };
    let c = child::spawn_with(env, Mode::AllocUntilQuota, &quota, 10, &[])?;
    let notice = child::notice(env, &c, 10 * 1_000_000_000);
    child::reap(c);
    match notice? {
        Notice::Exit(n) if n > 0 && (n as u64) * (64 << 10) < quota.memory_bytes => Ok(()),
        other => Err(alloc::format!(
            "a 1 MiB child allocating 64 KiB objects ended with {other:?}"
        )),
    }
}

fn handle_thread_quota(_env: &mut Env) -> Result<(), String> {
    let quota = Quota {
        memory_bytes: 1 << 20,
        handles: 3,
        threads: 2,
        max_priority: 10,
        reserved: 0,
    };
    let process = sys::process_create("quota", &quota, Handle::NONE, 0).context("create")?;
    let note = sys::notification_create().context("notification")?;
    let mut granted = 0;
    let result = loop {
        match sys::handle_grant(process, note, Rights::SIGNAL) {
            Ok(_) => granted += 1,
            Err(e) => break e,
        }
        if granted > 10 {
            break Error::InvalidArgument;
        }
    };
    let threads: Vec<_> = (0..3)
        .map(|_| {
            sys::thread_create(
                process,
                0x20_0000,
                0x1000,
                0,
                5,
                nimbus_abi::object::ANY_CPU,
            )
        })
        .collect();
    let too_high = sys::thread_create(
        process,
        0x20_0000,
        0x1000,
        0,
        11,
        nimbus_abi::object::ANY_CPU,
    );
    let _ = sys::process_kill(process);
    let _ = sys::handle_close(process);
    let _ = sys::handle_close(note);
    for h in threads.iter().flatten() {
        let _ = sys::handle_close(*h);
    }
    ensure!(
        granted == 3 && result == Error::QuotaExceeded,
        "granted {granted} handles into a 3-handle process, then {result:?}"
    );
    ensure!(
        threads[0].is_ok() && threads[1].is_ok() && threads[2] == Err(Error::QuotaExceeded),
        "thread quota: {threads:?}"
    );
    ensure!(
        too_high == Err(Error::AccessDenied),
        "a thread above the priority limit: {too_high:?}"
    );
    Ok(())
}

fn quota_carved(env: &mut Env) -> Result<(), String> {
    let parent_quota = Quota {
        memory_bytes: 1 << 20,
        handles: 16,
        threads: 4,
        max_priority: 10,
        reserved: 0,
    };
    let parent = sys::process_create("parent", &parent_quota, Handle::NONE, 0).context("create")?;
    // A child bigger than the parent is refused; the parent has no way to create it anyway, but
    // the root task creating a process with more than it has must fail too.
    let huge = Quota {
        memory_bytes: u64::MAX / 2,
        ..parent_quota
    };
    let refused = sys::process_create("huge", &huge, Handle::NONE, 0);
    let _ = sys::process_kill(parent);
    let _ = sys::handle_close(parent);
    ensure!(
        refused == Err(Error::QuotaExceeded),
        "a process larger than all memory was created: {refused:?}"
    );
    let _ = env;
    Ok(())
}

/// One create/use/destroy cycle: a process with memory mapped, an endpoint granted, a thread.
fn cycle() -> Result<(), String> {
    let quota = Quota {
        memory_bytes: 256 << 10,
        handles: 16,
        threads: 2,
        max_priority: 5,
        reserved: 0,
    };
    let process = sys::process_create("cycle", &quota, Handle::NONE, 0).context("create")?;
    let result = (|| {
        let memory = sys::mem_create_for(process, 8192, 0).context("memory")?;
        sys::mem_map(process, memory, 0x40_0000, 0, 8192, MAP_READ | MAP_WRITE).context("map")?;
        let _ = sys::handle_close(memory);
        let ep = sys::endpoint_create().context("endpoint")?;
        sys::handle_grant(process, ep, Rights::SEND).context("grant")?;
        let _ = sys::handle_close(ep);
        let thread = sys::thread_create(
            process,
            0x40_0000,
            0x40_2000,
            0,
            1,
            nimbus_abi::object::ANY_CPU,
        )
        .context("thread")?;
        let _ = sys::handle_close(thread);
        Ok(())
    })();
    let _ = sys::process_kill(process);
    let _ = sys::handle_close(process);
    result
}

/// A parent builds a child (memory, a thread, even handles to itself and its thread in its own
/// table) and closes its handles without starting or killing it. Nobody can ever run the child,
/// so the kernel must end it and give everything back.
fn dropped_child(env: &mut Env) -> Result<(), String> {
    let build = || -> Result<(), String> {
        let quota = Quota {
            memory_bytes: 256 << 10,
            handles: 16,
            threads: 2,
            max_priority: 5,
            reserved: 0,
        };
        let process = sys::process_create("dropped", &quota, Handle::NONE, 0).context("create")?;
        let memory = sys::mem_create_for(process, 8192, 0).context("memory")?;
        sys::mem_map(process, memory, 0x40_0000, 0, 8192, MAP_READ | MAP_WRITE).context("map")?;
        let _ = sys::handle_close(memory);
        let thread = sys::thread_create(
            process,
            0x40_0000,
            0x40_2000,
            0,
            1,
            nimbus_abi::object::ANY_CPU,
        )
        .context("thread")?;
        sys::handle_grant(process, thread, Rights::MANAGE).context("grant thread")?;
        sys::handle_grant(process, process, Rights::MANAGE).context("grant process")?;
        let _ = sys::handle_close(thread);
        let _ = sys::handle_close(process);
        Ok(())
    };
    build()?;
    let before = env.kernel()?;
    for _ in 0..100 {
        build()?;
    }
    let after = env.kernel()?;
    crate::harness::no_leak(&before, &after)
}

fn no_leaks(env: &mut Env) -> Result<(), String> {
    // Warm up: let the kernel's tables reach their working size.
    for _ in 0..20 {
        cycle()?;
    }
    let before = env.kernel()?;
    for _ in 0..1000 {
        cycle()?;
    }
    let after = env.kernel()?;
    crate::harness::no_leak(&before, &after)
}

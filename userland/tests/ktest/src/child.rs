//! Starting the test child in a mode and hearing what became of it.

use crate::harness::{Context, Env};
use alloc::format;
use alloc::string::String;
use nimbus_abi::fault::FaultKind;
use nimbus_abi::ipc::{EXIT_LABEL, FAULT_LABEL};
use nimbus_abi::start::{KIND_VALUE, StartInfo};
use nimbus_abi::{Handle, ObjectType, Quota, Rights};
use nimbus_ktest_child::Mode;
use nimbus_rt::{process, sys};

/// Path of the child in the boot archive.
pub const CHILD: &str = "bin/ktest-child";

/// A generous quota for a child.
pub const QUOTA: Quota = Quota {
    memory_bytes: 2 << 20,
    handles: 64,
    threads: 8,
    max_priority: 20,
    reserved: 0,
};

/// A running child.
pub struct Child {
    /// Its process.
    pub process: Handle,
    /// The badge its notices carry.
    pub badge: u64,
}

/// What the kernel said about a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// It stopped on a fault: kind, address, pc.
    Fault(Option<FaultKind>, u64, u64),
    /// It exited with this code.
    Exit(i64),
}

/// Extra handles and values for a child's start block.
pub enum Give {
    /// A handle, granted with these rights.
    Handle(&'static str, Handle, Rights, ObjectType),
    /// A plain value.
    Value(&'static str, u32),
}

/// Starts the child in `mode` with `quota` and `extra`.
pub fn spawn_with(
    env: &mut Env,
    mode: Mode,
    quota: &Quota,
    priority: u8,
    extra: &[Give],
) -> Result<Child, String> {
    let image = env
        .archive
        .file(CHILD)
        .ok_or_else(|| format!("no {CHILD} in the boot archive"))?;
    let badge = env.next_badge;
    env.next_badge += 1;
    let name = format!("child-{}", mode as u32);
    let process =
        sys::process_create(&name, quota, env.supervisor, badge).context("creating the child")?;
    let result = (|| {
        let mut start = StartInfo::new(&name).map_err(|_| String::from("start block"))?;
        start
            .push("mode", mode as u32, KIND_VALUE)
            .map_err(|_| String::from("start block"))?;
        for give in extra {
            match give {
                Give::Handle(n, h, rights, kind) => {
                    process::give(process, &mut start, n, *h, *rights, *kind as u32)
                        .map_err(|e| format!("giving {n}: {e}"))?;
                }
                Give::Value(n, v) => start
                    .push(n, *v, KIND_VALUE)
                    .map_err(|_| String::from("start block"))?,
            }
        }
        process::start_process(process, image, &start, priority)
            .map_err(|e| format!("starting the child: {e}"))
    })();
    match result {
        Ok(()) => Ok(Child { process, badge }),
        Err(e) => {
            let _ = sys::process_kill(process);
            let _ = sys::handle_close(process);
            Err(e)
        }
    }
}

/// Starts the child in `mode` with the default quota, a log handle and `extra`.
pub fn spawn(env: &mut Env, mode: Mode, extra: &[Give]) -> Result<Child, String> {
    let system = env.system;
    let mut all = alloc::vec![Give::Handle(
        "system",
        system,
        Rights::LOG,
        ObjectType::System
    )];
    for give in extra {
        all.push(match give {
            Give::Handle(n, h, r, k) => Give::Handle(n, *h, *r, *k),
            Give::Value(n, v) => Give::Value(n, *v),
        });
    }
    spawn_with(env, mode, &QUOTA, 10, &all)
}

/// Waits up to `timeout_ns` for the kernel's notice about `child`. Notices about other children
/// that arrive meanwhile are kept for when they are asked for.
pub fn notice(env: &mut Env, child: &Child, timeout_ns: u64) -> Result<Notice, String> {
    if let Some(i) = env
        .notices
        .iter()
        .position(|(badge, _)| *badge == child.badge)
    {
        return Ok(env.notices.swap_remove(i).1);
    }
    let deadline = sys::clock_now() + timeout_ns;
    loop {
        let left = deadline.saturating_sub(sys::clock_now()).max(1);
        let msg = sys::ipc_recv(env.supervisor, left).context("waiting for the child's notice")?;
        let notice = match msg.info.label() {
            FAULT_LABEL => Notice::Fault(
                FaultKind::from_code(msg.words[0]),
                msg.words[1],
                msg.words[2],
            ),
            EXIT_LABEL => Notice::Exit(msg.words[0] as i64),
            other => return Err(format!("unexpected notice label {other:#x}")),
        };
        if msg.badge == child.badge {
            return Ok(notice);
        }
        env.notices.push((msg.badge, notice));
    }
}

/// Ends `child` and closes its handle.
pub fn reap(child: Child) {
    let _ = sys::process_kill(child.process);
    let _ = sys::handle_close(child.process);
}

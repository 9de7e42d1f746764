//! The benchmarks. Each runs in threads pinned to chosen CPUs, against a peer process where it
//! measures something between processes, and returns its samples.
//!
//! Placement: the measuring thread runs on CPU 0 at [`PRIORITY`]; peers are pinned too. The
//! conducting thread (last CPU, priority 30) and the root task's own thread (priority 20) are
//! blocked while a benchmark runs, so nothing else is runnable on the CPUs involved; an idle CPU
//! sits in WFI and executes nothing, which is what makes a one-CPU figure count one CPU's
//! instructions.
//!
//! [`PRIORITY`] is above the root task's 20 on purpose: a lower-priority thread left ready behind a running
//! higher-priority one on the same CPU trips a kernel bug once the running thread's time slice
//! has expired: the scheduler keeps re-arming the timer at the slice's past end without
//! switching, and the CPU livelocks in timer interrupts. No benchmark here leaves a
//! lower-priority thread ready for long (the notification signaller waits behind the waiter only
//! while the waiter handles one wake-up, and each switch starts a new slice).

use crate::env::{Env, Peer};
use crate::error::{BenchError, Context, check};
use crate::measure::{Series, on_cpu, sample};
use core::sync::atomic::Ordering;
use nimbus_abi::ipc::EXIT_LABEL;
use nimbus_abi::layout::MAP_AREA;
use nimbus_abi::rights::{MAP_READ, MAP_WRITE};
use nimbus_abi::start::StartInfo;
use nimbus_abi::{Handle, ObjectType, Quota, Rights};
use nimbus_bench::counter::now;
use nimbus_bench::peer::{Mode, NOTIFY, NotifyPage, SERVE, SHARED_VA};
use nimbus_bench::raw;
use nimbus_rt::{process, sys};

/// Priority of the measuring threads and their peers (above the root task's 20, see above).
pub const PRIORITY: u8 = 25;
/// Priority of the notification waiter: above the signaller, so a signal switches to it at once.
pub const WAITER_PRIORITY: u8 = 27;
/// The CPU the measuring threads run on.
const CPU: u64 = 0;
/// The other CPU of the cross-CPU round trip.
const OTHER_CPU: u64 = 1;
/// Where map_unmap maps its page.
const MAP_VA: u64 = MAP_AREA + (33 << 30);
/// How long the spawn benchmark waits for one child's exit notice (virtual time).
const EXIT_TIMEOUT_NS: u64 = 10_000_000_000;

/// A loop of exactly 100 instructions, 1000 times a sample: the known quantity. Expect 100.0.
pub fn calibration() -> Result<Series, BenchError> {
    on_cpu(CPU, PRIORITY, || {
        sample("calibration", 1000, 11, || {
            let start = now();
            raw::hundred_instruction_loop(1000);
            Ok(now() - start)
        })
    })
}

/// The Nop system call: into the kernel and out again.
pub fn null_syscall() -> Result<Series, BenchError> {
    on_cpu(CPU, PRIORITY, || {
        sample("null_syscall", 64, 201, || {
            let start = now();
            raw::nop_loop(64);
            Ok(now() - start)
        })
    })
}

/// Call + ReplyRecv between this process and a server process, register-only messages; the
/// server's thread pinned to `server_cpu`, the client's to CPU 0.
fn ipc_round_trip(
    env: &mut Env,
    name: &'static str,
    server_cpu: u64,
    ops: u64,
) -> Result<Series, BenchError> {
    let endpoint = sys::endpoint_create().context("creating the endpoint")?;
    let result = (|| {
        let mut server = Peer::new(env, Mode::IpcServer)?;
        server.give(SERVE, endpoint, Rights::RECEIVE, ObjectType::Endpoint)?;
        server.start(env, server_cpu, PRIORITY)?;
        let series = on_cpu(CPU, PRIORITY, move || {
            sample(name, ops, 201, || {
                let start = now();
                let status = raw::call_loop(endpoint, ops);
                let ticks = now() - start;
                check("calling the server", status)?;
                Ok(ticks)
            })
        });
        drop(server);
        series
    })();
    let _ = sys::handle_close(endpoint);
    result
}

/// Call + reply with client and server on the same CPU.
pub fn ipc_same_cpu(env: &mut Env) -> Result<Series, BenchError> {
    ipc_round_trip(env, "ipc_call_reply_same_cpu", CPU, 64)
}

/// Call + reply with the server on the other CPU.
pub fn ipc_cross_cpu(env: &mut Env) -> Result<Series, BenchError> {
    ipc_round_trip(env, "ipc_call_reply_cross_cpu", OTHER_CPU, 16)
}

/// Signal to wake-up: from the signaller's timestamp right before Signal to the waiter's right
/// after its Wait returns. The waiter is a peer process pinned to the same CPU at a higher
/// priority, so the signal switches straight to it.
///
/// Each latency is rounded to whole ticks, so the batch sums 32 of them with the start phase
/// walked across the tick (see `raw::pad_odd`): over 32 signals every phase occurs twice and the
/// rounding cancels exactly, leaving the latency to the instruction.
pub fn notify_wake(env: &mut Env) -> Result<Series, BenchError> {
    const SIGNALS: u64 = 32;
    let notification = sys::notification_create().context("creating the notification")?;
    let page = sys::mem_create(4096, 0).context("creating the shared page");
    let result = page.and_then(|page| {
        let result = (|| {
            sys::mem_map(Handle::NONE, page, SHARED_VA, 0, 4096, MAP_READ | MAP_WRITE)
                .context("mapping the shared page")?;
            let mut waiter = Peer::new(env, Mode::NotifyWaiter)?;
            waiter.give(NOTIFY, notification, Rights::WAIT, ObjectType::Notification)?;
            waiter.map_page(page, SHARED_VA)?;
            waiter.start(env, CPU, WAITER_PRIORITY)?;
            let series = on_cpu(CPU, PRIORITY, move || {
                // SAFETY: SHARED_VA holds the zeroed page mapped just above, until after this
                // thread ends; the page holds only atomics.
                let shared = unsafe { &*(SHARED_VA as *const NotifyPage) };
                sample("notify_wake", SIGNALS, 201, || {
                    shared.latency_ticks.store(0, Ordering::Relaxed);
                    shared.wakes.store(0, Ordering::Relaxed);
                    for i in 0..SIGNALS {
                        raw::pad_odd(i);
                        shared.signalled_at.store(now(), Ordering::Relaxed);
                        check("signalling", raw::signal(notification))?;
                    }
                    let wakes = shared.wakes.load(Ordering::Relaxed);
                    if wakes != SIGNALS {
                        return Err(BenchError::LostWakeups {
                            signals: SIGNALS,
                            wakes,
                        });
                    }
                    Ok(shared.latency_ticks.load(Ordering::Relaxed))
                })
            });
            drop(waiter);
            series
        })();
        // SAFETY: the benchmark thread that used the mapping has ended, and the waiter that
        // shared it is dead.
        let _ = unsafe { sys::mem_unmap(Handle::NONE, SHARED_VA, 4096) };
        let _ = sys::handle_close(page);
        result
    });
    let _ = sys::handle_close(notification);
    result
}

/// Yield between a thread here and one in a peer process, equal priorities, same CPU: each
/// Yield switches to the other. 64 yields here make 128 switches; the figure is per switch.
pub fn yield_switch(env: &mut Env) -> Result<Series, BenchError> {
    const YIELDS: u64 = 64;
    let mut partner = Peer::new(env, Mode::Yield)?;
    partner.start(env, CPU, PRIORITY)?;
    let series = on_cpu(CPU, PRIORITY, || {
        sample("yield", 2 * YIELDS, 201, || {
            let start = now();
            raw::yield_loop(YIELDS);
            Ok(now() - start)
        })
    });
    drop(partner);
    series
}

/// Map one page of a memory object read-write into this process, and unmap it.
pub fn map_unmap() -> Result<Series, BenchError> {
    const PAIRS: u64 = 16;
    let memory = sys::mem_create(4096, 0).context("creating the memory object")?;
    let result = on_cpu(CPU, PRIORITY, move || {
        sample("map_unmap", PAIRS, 101, || {
            let start = now();
            for _ in 0..PAIRS {
                sys::mem_map(Handle::NONE, memory, MAP_VA, 0, 4096, MAP_READ | MAP_WRITE)
                    .context("mapping the page")?;
                // SAFETY: nothing uses the page: it was mapped just above and never touched.
                unsafe { sys::mem_unmap(Handle::NONE, MAP_VA, 4096) }
                    .context("unmapping the page")?;
            }
            Ok(now() - start)
        })
    });
    let _ = sys::handle_close(memory);
    result
}

/// `nimbus_rt::process::spawn` of `bin/bench-exit` (create the process, load the program, start
/// its thread), the program running to its exit, the kernel's exit notice received, and the
/// process handle closed. The child is not pinned: the kernel places it as it would any program.
pub fn spawn(env: &mut Env) -> Result<Series, BenchError> {
    let image = env.exit_image;
    let supervisor = env.supervisor;
    let first_badge = env.badge() << 16;
    let start = StartInfo::new("bench-exit").map_err(|_| BenchError::StartBlock)?;
    let quota = Quota {
        memory_bytes: 4 << 20,
        handles: 16,
        threads: 2,
        max_priority: u32::from(PRIORITY),
        reserved: 0,
    };
    on_cpu(CPU, PRIORITY, move || {
        let mut badge = first_badge;
        sample("spawn", 1, 51, || {
            badge += 1;
            let begin = now();
            let child = process::spawn(image, &start, &quota, supervisor, badge, PRIORITY)?;
            let notice = loop {
                let notice = sys::ipc_recv(supervisor, EXIT_TIMEOUT_NS)
                    .context("waiting for the exit notice");
                match notice {
                    Ok(n) if n.badge != badge => continue,
                    other => break other,
                }
            };
            let closed = sys::handle_close(child).context("closing the process handle");
            let ticks = now() - begin;
            let notice = notice?;
            closed?;
            if notice.info.label() != EXIT_LABEL || notice.words[0] != 0 {
                return Err(BenchError::ChildFailed {
                    label: notice.info.label(),
                    code: notice.words[0],
                });
            }
            Ok(ticks)
        })
    })
}

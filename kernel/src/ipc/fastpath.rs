//! The IPC fast path: Call and ReplyRecv in the case that makes up almost every round trip.
//!
//! A client calls a server that is already waiting to receive, and the server answers with
//! ReplyRecv while no other client is queued: both are a direct switch between two threads on
//! one CPU, with the message in registers. The general path handles that correctly but pays
//! for generality (argument copies, the run queue, re-deciding what runs, reprogramming the
//! timer). Like seL4's fastpath, this one checks every condition of the simple case up front
//! and, if one fails, changes nothing and lets the general path run; if all hold, it does
//! exactly what the general path would do, so the two can never disagree on an outcome.
//!
//! The conditions, all cheap to check:
//! - a register-only message (no buffer bytes, no handles) and no timeout;
//! - the handle names an endpoint with the right (SEND for Call, RECEIVE for ReplyRecv);
//! - Call: a receiver is waiting, without a timeout. ReplyRecv: the caller is waiting for this
//!   reply without a timeout, and nothing waits to be received (no sender, no notice);
//! - the thread switched to may run on this CPU, and nothing of higher priority is ready here;
//! - the CPU has no reschedule pending.
//!
//! The timer needs no reprogramming: no timeout is added or removed, and the thread switched to
//! finishes the current time slice, whose end is already armed.

use crate::object::thread::{Block, Thread, ThreadState};
use crate::object::{Kernel, ObjectRef};
use crate::sched::QueueLinks;
use crate::smp;
use nimbus_abi::syscall::TIMEOUT_FOREVER;
use nimbus_abi::{Rights, Syscall};
use nimbus_kcore::slab::Id;

/// Message registers: x1 = info, x2..x5 = words, x6 = badge (to the receiver).
const INFO: usize = 1;
const WORDS: usize = 2;
const BADGE: usize = 6;
/// Registers a call names: x0 = handle, x6 = timeout, x8 = call number.
const HANDLE: usize = 0;
const TIMEOUT: usize = 6;
const NUMBER: usize = 8;

/// The message a fast-path call carries: info and four words.
#[derive(Clone, Copy)]
struct Message {
    info: u64,
    words: [u64; 4],
}

impl Kernel {
    /// Runs the system call of `cpu`'s current thread on the fast path if it qualifies. Returns
    /// false, having changed nothing, if the general path must handle it.
    pub fn ipc_fast_path(&mut self, cpu: usize) -> bool {
        let Some(c) = self.sched.cpus.get(cpu) else {
            return false;
        };
        let (Some(me), false) = (c.current, c.resched) else {
            return false;
        };
        let Some(t) = self
            .threads
            .get(me)
            .filter(|t| t.state == ThreadState::Running)
        else {
            return false;
        };

        let x = &t.context.x;
        let number = x[NUMBER];
        let is_call = number == Syscall::Call as u64;
        if !is_call && number != Syscall::ReplyRecv as u64 {
            return false;
        }
        // Register-only: no length, no handles and no stray bits above the label.
        if x[INFO] >> 32 != 0 || x[TIMEOUT] != TIMEOUT_FOREVER {
            return false;
        }
        let message = Message {
            info: x[INFO],
            words: [x[WORDS], x[WORDS + 1], x[WORDS + 2], x[WORDS + 3]],
        };
        let Ok(handle) = u32::try_from(x[HANDLE]) else {
            return false;
        };
        let Some(entry) = self
            .processes
            .get(t.process)
            .and_then(|p| p.handles.get(handle))
        else {
            return false;
        };
        let ObjectRef::Endpoint(endpoint) = entry.object else {
            return false;
        };
        if is_call {
            entry.rights.contains(Rights::SEND)
                && self.fast_call(cpu, me, endpoint, entry.badge, message)
        } else {
            entry.rights.contains(Rights::RECEIVE)
                && self.fast_reply_recv(cpu, me, endpoint, message)
        }
    }

    /// Call: hand the message to the first waiting receiver and switch to it.
    fn fast_call(
        &mut self,
        cpu: usize,
        caller: Id,
        endpoint: Id,
        badge: u64,
        message: Message,
    ) -> bool {
        let best_ready = self.best_ready(cpu);
        let Some(ep) = self.endpoints.get_mut(endpoint) else {
            return false;
        };
        let Some(receiver) = ep.receivers.front() else {
            return false;
        };
        if !self
            .threads
            .get(receiver)
            .is_some_and(|r| switchable(r, cpu, best_ready))
        {
            return false;
        }
        ep.receivers.pop_front(&mut QueueLinks(&mut self.threads));
        if let Some(c) = self.threads.get_mut(caller) {
            c.state = ThreadState::Blocked(Block::Reply { server: receiver });
        }
        self.switch_to(cpu, receiver, message, badge, Some(caller));
        true
    }

    /// ReplyRecv: answer the caller, wait on `endpoint`, and switch to the caller.
    fn fast_reply_recv(&mut self, cpu: usize, server: Id, endpoint: Id, message: Message) -> bool {
        let best_ready = self.best_ready(cpu);
        let Some(caller) = self.threads.get(server).and_then(|s| s.reply_to) else {
            return false;
        };
        let caller_ready = self.threads.get(caller).is_some_and(|c| {
            c.state == ThreadState::Blocked(Block::Reply { server })
                && switchable(c, cpu, best_ready)
        });
        if !caller_ready {
            return false;
        }
        let Some(ep) = self
            .endpoints
            .get_mut(endpoint)
            .filter(|ep| ep.senders.is_empty() && ep.notices.is_empty())
        else {
            return false;
        };
        if let Some(s) = self.threads.get_mut(server) {
            s.reply_to = None;
            s.state = ThreadState::Blocked(Block::Recv { endpoint });
        }
        ep.receivers
            .push_back(&mut QueueLinks(&mut self.threads), server);
        self.switch_to(cpu, caller, message, 0, None);
        true
    }

    /// The highest priority ready on `cpu`.
    fn best_ready(&self, cpu: usize) -> Option<u8> {
        self.sched.cpus.get(cpu).and_then(|c| c.runq.highest())
    }

    /// Makes `thread` current on `cpu` in place of the thread that just blocked, with `message`
    /// (and `badge`) in its registers and, for a call, the right to reply to `reply_to`.
    fn switch_to(
        &mut self,
        cpu: usize,
        thread: Id,
        message: Message,
        badge: u64,
        reply_to: Option<Id>,
    ) {
        let Some(t) = self.threads.get_mut(thread) else {
            return;
        };
        let x = &mut t.context.x;
        x[0] = 0;
        x[INFO] = message.info;
        x[WORDS..WORDS + 4].copy_from_slice(&message.words);
        x[BADGE] = badge;
        if reply_to.is_some() {
            t.reply_to = reply_to;
        }
        t.state = ThreadState::Running;
        t.cpu = cpu;
        let process = t.process;
        smp::set_current_context(core::ptr::addr_of_mut!(t.context));
        if let Some(c) = self.sched.cpus.get_mut(cpu) {
            c.current = Some(thread);
        }
        self.load_tables(cpu, Some(process));
    }
}

/// Whether `thread` may be switched to on `cpu` right now: allowed there, not waiting with a
/// timeout, and not below the best thread ready there.
fn switchable(thread: &Thread, cpu: usize, best_ready: Option<u8>) -> bool {
    thread.deadline.is_none()
        && thread.affinity.is_none_or(|a| a == cpu)
        && best_ready.is_none_or(|best| thread.priority >= best)
}

//! Threads: a user register state, a priority, and where the thread is waiting.

use super::{Kernel, process::ProcState};
use crate::arch::aarch64::user::UserContext;
use crate::sched::QueueLinks;
use nimbus_abi::Error;
use nimbus_kcore::list::Link;
use nimbus_kcore::slab::Id;

/// Bytes charged to a process for each of its threads.
pub const THREAD_COST: u64 = 2048;

/// What a blocked thread waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// Its message to be taken from an endpoint (`call`: then a reply).
    Send { endpoint: Id, call: bool },
    /// A message on an endpoint.
    Recv { endpoint: Id },
    /// The reply from a server thread.
    Reply { server: Id },
    /// Bits on a notification.
    Notification { notification: Id },
    /// Its deadline (Sleep).
    Sleep,
    /// Its process was stopped by a fault.
    Stopped,
}

/// Where a thread is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadState {
    /// Created, not started.
    Created,
    /// In a run queue.
    Ready,
    /// Current on `Thread::cpu`.
    Running,
    /// Waiting.
    Blocked(Block),
    /// Ended; freed once nothing refers to it and no CPU runs it.
    Dead,
}

/// A thread.
pub struct Thread {
    /// Saved user registers (live ones while it runs).
    pub context: UserContext,
    /// The process it belongs to.
    pub process: Id,
    /// Life state.
    pub state: ThreadState,
    /// 0 (lowest) ..= 31.
    pub priority: u8,
    /// The CPU it must run on, if pinned.
    pub affinity: Option<usize>,
    /// The CPU it runs or last ran on.
    pub cpu: usize,
    /// Membership of a run queue or wait queue.
    pub link: Link<Id>,
    /// When its wait times out (counter ticks).
    pub deadline: Option<u64>,
    /// Membership of the timeout list.
    pub timer_link: Link<Id>,
    /// User address of its IPC buffer.
    pub ipc_buffer: Option<u64>,
    /// The caller this thread must reply to.
    pub reply_to: Option<Id>,
    /// Badge of the handle a queued send used.
    pub send_badge: u64,
    /// Handles referring to it.
    pub refs: u32,
}

impl Thread {
    /// A new, not yet started thread.
    pub fn new(process: Id, context: UserContext, priority: u8, affinity: Option<usize>) -> Self {
        Self {
            context,
            process,
            state: ThreadState::Created,
            priority,
            affinity,
            cpu: affinity.unwrap_or(0),
            link: Link::new(),
            deadline: None,
            timer_link: Link::new(),
            ipc_buffer: None,
            reply_to: None,
            send_badge: 0,
            refs: 0,
        }
    }
}

impl Kernel {
    /// Creates a suspended thread in `process`, charged to it.
    pub fn create_thread(
        &mut self,
        process: Id,
        context: UserContext,
        priority: u8,
        affinity: Option<usize>,
    ) -> Result<Id, Error> {
        let p = self.processes.get_mut(process).ok_or(Error::Dead)?;
        if p.state != ProcState::Running {
            return Err(Error::Dead);
        }
        if priority > p.max_priority {
            return Err(Error::AccessDenied);
        }
        if p.threads.len() >= p.max_threads as usize {
            return Err(Error::QuotaExceeded);
        }
        p.threads.try_reserve(1).map_err(|_| Error::OutOfMemory)?;
        p.memory
            .charge(THREAD_COST)
            .map_err(|_| Error::QuotaExceeded)?;
        let thread = crate::alloc_util::try_box(Thread::new(process, context, priority, affinity));
        let id = match thread
            .map_err(|_| ())
            .and_then(|t| self.threads.insert(t).map_err(|_| ()))
        {
            Ok(id) => id,
            Err(()) => {
                if let Some(p) = self.processes.get_mut(process) {
                    p.memory.uncharge(THREAD_COST);
                }
                return Err(Error::OutOfMemory);
            }
        };
        if let Some(p) = self.processes.get_mut(process) {
            p.threads.push(id);
        }
        Ok(id)
    }

    /// Makes a created thread runnable.
    pub fn start_thread(&mut self, thread: Id) -> Result<(), Error> {
        let t = self.threads.get_mut(thread).ok_or(Error::Dead)?;
        if t.state != ThreadState::Created {
            return Err(Error::InvalidArgument);
        }
        self.make_ready(thread);
        Ok(())
    }

    /// Takes a thread out of whatever queue or timeout it is waiting in, without waking it.
    pub fn unblock_silently(&mut self, thread: Id) {
        let Some(t) = self.threads.get(thread) else {
            return;
        };
        let state = t.state;
        let cpu = t.cpu;
        let priority = t.priority;
        match state {
            ThreadState::Blocked(Block::Send { endpoint, .. }) => {
                if let Some(ep) = self.endpoints.get_mut(endpoint) {
                    ep.senders
                        .remove(&mut QueueLinks(&mut self.threads), thread);
                }
            }
            ThreadState::Blocked(Block::Recv { endpoint }) => {
                if let Some(ep) = self.endpoints.get_mut(endpoint) {
                    ep.receivers
                        .remove(&mut QueueLinks(&mut self.threads), thread);
                }
            }
            ThreadState::Blocked(Block::Notification { notification }) => {
                if let Some(n) = self.notifications.get_mut(notification)
                    && n.waiter == Some(thread)
                {
                    n.waiter = None;
                }
            }
            ThreadState::Blocked(Block::Reply { server }) => {
                if let Some(s) = self.threads.get_mut(server)
                    && s.reply_to == Some(thread)
                {
                    s.reply_to = None;
                }
            }
            ThreadState::Ready => {
                if let Some(c) = self.sched.cpus.get_mut(cpu) {
                    c.runq
                        .remove(&mut QueueLinks(&mut self.threads), thread, priority);
                }
            }
            _ => {}
        }
        self.cancel_timeout(thread);
    }

    /// Wakes a blocked thread with `status` in x0 (the result of the call it was blocked in).
    pub fn wake_with(&mut self, thread: Id, status: Result<(), Error>) {
        self.unblock_silently(thread);
        let Some(t) = self.threads.get_mut(thread) else {
            return;
        };
        if !matches!(t.state, ThreadState::Blocked(_)) {
            return;
        }
        t.context.x[0] = match status {
            Ok(()) => 0,
            Err(e) => e as u64,
        };
        self.make_ready(thread);
    }

    /// Ends a thread: it leaves every queue, a caller waiting for its reply learns that the peer
    /// died, and it is freed once no CPU runs it and no handle names it.
    pub fn kill_thread(&mut self, thread: Id) {
        let Some(t) = self.threads.get(thread) else {
            return;
        };
        if t.state == ThreadState::Dead {
            return;
        }
        let (process, reply_to, running, cpu) = (
            t.process,
            t.reply_to,
            t.state == ThreadState::Running,
            t.cpu,
        );
        self.unblock_silently(thread);
        if let Some(caller) = reply_to {
            let waiting = self
                .threads
                .get(caller)
                .is_some_and(|c| c.state == ThreadState::Blocked(Block::Reply { server: thread }));
            if waiting {
                self.wake_with(caller, Err(Error::PeerDied));
            }
        }
        if let Some(t) = self.threads.get_mut(thread) {
            t.state = ThreadState::Dead;
            t.reply_to = None;
        }
        if let Some(p) = self.processes.get_mut(process) {
            p.threads.retain(|t| *t != thread);
            p.memory.uncharge(THREAD_COST);
        }
        if running {
            // The CPU running it will switch away on its next kernel entry.
            self.sched.request_reschedule(cpu);
        }
        self.reap_thread(thread);
    }

    /// Frees a dead thread if nothing needs it any more.
    pub fn reap_thread(&mut self, thread: Id) {
        let Some(t) = self.threads.get(thread) else {
            return;
        };
        if t.state == ThreadState::Dead && t.refs == 0 && !self.sched.is_current_anywhere(thread) {
            self.threads.remove(thread);
        }
    }

    /// The last handle to a thread was closed.
    pub(super) fn thread_unreferenced(&mut self, thread: Id) {
        let Some((process, state)) = self.threads.get(thread).map(|t| (t.process, t.state)) else {
            return;
        };
        // Nobody can start it any more: it goes now rather than when its process exits.
        if state == ThreadState::Created {
            self.kill_thread(thread);
        }
        self.end_if_unreachable(process);
        self.reap_thread(thread);
    }
}

//! Scheduling: preemptive, by priority, on every CPU.
//!
//! Each CPU has a run queue (highest priority first, round robin within a priority by time
//! slice) and a list of timeouts for threads that blocked on it. A thread that becomes ready goes
//! to the CPU it is pinned to, else to its last CPU if that CPU would run it now, else to the
//! least loaded CPU; a CPU that must change what it runs is sent an IPI. All of it runs under the
//! big kernel lock.

use crate::arch::aarch64::{timer, user};
use crate::object::process::ProcState;
use crate::object::thread::{Block, Thread, ThreadState};
use crate::object::{Kernel, KernelGuard};
use crate::smp::{self, MAX_CPUS};
use crate::time;
use alloc::boxed::Box;
use nimbus_abi::Error;
use nimbus_kcore::list::{Link, Links, List, RunQueue};
use nimbus_kcore::slab::{Id, Slab};

/// Length of a time slice.
pub const TIME_SLICE_NS: u64 = 10_000_000;

/// Run/wait queue links of threads.
pub struct QueueLinks<'a>(pub &'a mut Slab<Box<Thread>>);

impl Links<Id> for QueueLinks<'_> {
    fn link(&mut self, id: Id) -> Option<&mut Link<Id>> {
        self.0.get_mut(id).map(|t| &mut t.link)
    }
}

/// Timeout list links of threads.
pub struct TimerLinks<'a>(pub &'a mut Slab<Box<Thread>>);

impl Links<Id> for TimerLinks<'_> {
    fn link(&mut self, id: Id) -> Option<&mut Link<Id>> {
        self.0.get_mut(id).map(|t| &mut t.timer_link)
    }
}

/// One CPU's scheduling state.
pub struct CpuSched {
    /// The thread running (or about to run) on it.
    pub current: Option<Id>,
    /// Ready threads.
    pub runq: RunQueue<Id>,
    /// Blocked threads' deadlines, earliest first.
    pub timeouts: List<Id>,
    /// When the current thread's slice ends.
    pub slice_end: u64,
    /// Whose page tables are in TTBR0.
    pub loaded: Option<Id>,
    /// Pick again at the next exit from the kernel.
    pub resched: bool,
}

/// All CPUs' scheduling state.
pub struct Scheduler {
    /// Per CPU.
    pub cpus: [CpuSched; MAX_CPUS],
    /// Physical address of an empty table for TTBR0 when no process runs.
    pub empty_table: u64,
    /// A time slice in counter ticks.
    pub slice_ticks: u64,
}

impl Scheduler {
    /// Empty queues.
    pub fn new() -> Self {
        Self {
            cpus: core::array::from_fn(|cpu| CpuSched {
                current: None,
                runq: RunQueue::new(0x1000 + cpu as u64 * 64),
                timeouts: List::new(0x10_0000 + cpu as u64),
                slice_end: 0,
                loaded: None,
                resched: false,
            }),
            empty_table: 0,
            slice_ticks: time::ns_to_ticks(TIME_SLICE_NS),
        }
    }

    /// Whether `thread` is current on any CPU.
    pub fn is_current_anywhere(&self, thread: Id) -> bool {
        self.cpus.iter().any(|c| c.current == Some(thread))
    }

    /// Makes `cpu` choose again: directly if it is this CPU, else with an IPI.
    pub fn request_reschedule(&mut self, cpu: usize) {
        if let Some(c) = self.cpus.get_mut(cpu) {
            c.resched = true;
        }
        if cpu != smp::current_cpu() {
            smp::wake(cpu);
        }
    }

    fn load(&self, cpu: usize) -> usize {
        self.cpus.get(cpu).map_or(usize::MAX, |c| {
            c.runq.len() + usize::from(c.current.is_some())
        })
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl Kernel {
    fn current_priority(&self, cpu: usize) -> Option<u8> {
        let current = self.sched.cpus.get(cpu)?.current?;
        self.threads.get(current).map(|t| t.priority)
    }

    /// The CPU a thread that became ready should go to.
    fn place(&self, last: usize, priority: u8) -> usize {
        let online = smp::online_count().max(1);
        let would_run_now = |cpu: usize| self.current_priority(cpu).is_none_or(|p| p < priority);
        if last < online && would_run_now(last) {
            return last;
        }
        (0..online)
            .filter(|&c| smp::cpu(c).is_some_and(|p| p.is_online()))
            .min_by_key(|&c| (self.sched.load(c), usize::from(c != last)))
            .unwrap_or(last)
    }

    /// Queues `thread` to run.
    pub fn make_ready(&mut self, thread: Id) {
        let Some(t) = self.threads.get(thread) else {
            return;
        };
        if matches!(
            t.state,
            ThreadState::Ready | ThreadState::Running | ThreadState::Dead
        ) {
            return;
        }
        let stopped = self
            .processes
            .get(t.process)
            .is_none_or(|p| p.state != ProcState::Running);
        if stopped {
            return;
        }
        let priority = t.priority;
        let cpu = match t.affinity {
            Some(cpu) => cpu,
            None => self.place(t.cpu, priority),
        };
        let Some(t) = self.threads.get_mut(thread) else {
            return;
        };
        t.state = ThreadState::Ready;
        t.cpu = cpu;
        let Some(c) = self.sched.cpus.get_mut(cpu) else {
            return;
        };
        c.runq
            .push(&mut QueueLinks(&mut self.threads), thread, priority);
        if self.current_priority(cpu).is_none_or(|p| p < priority) {
            self.sched.request_reschedule(cpu);
        }
    }

    /// Blocks the current thread of `cpu` until something wakes it or `timeout_ns` passes.
    pub fn block_current(&mut self, cpu: usize, block: Block, timeout_ns: u64) {
        let Some(c) = self.sched.cpus.get_mut(cpu) else {
            return;
        };
        let Some(thread) = c.current.take() else {
            return;
        };
        c.resched = true;
        if let Some(t) = self.threads.get_mut(thread) {
            t.state = ThreadState::Blocked(block);
        }
        if timeout_ns != nimbus_abi::syscall::TIMEOUT_FOREVER {
            let deadline = timer::now().saturating_add(time::ns_to_ticks(timeout_ns));
            self.set_timeout(cpu, thread, deadline);
        }
    }

    fn set_timeout(&mut self, cpu: usize, thread: Id, deadline: u64) {
        if let Some(t) = self.threads.get_mut(thread) {
            t.deadline = Some(deadline);
        }
        let Some(c) = self.sched.cpus.get_mut(cpu) else {
            return;
        };
        let mut before = c.timeouts.front();
        while let Some(other) = before {
            let Some(o) = self.threads.get(other) else {
                break;
            };
            if o.deadline.unwrap_or(u64::MAX) > deadline {
                break;
            }
            before = o.timer_link.next();
        }
        c.timeouts
            .insert_before(&mut TimerLinks(&mut self.threads), before, thread);
    }

    /// Removes `thread`'s pending timeout.
    pub fn cancel_timeout(&mut self, thread: Id) {
        let Some(t) = self.threads.get_mut(thread) else {
            return;
        };
        t.deadline = None;
        let Some(tag) = t.timer_link.list_tag() else {
            return;
        };
        if let Some(c) = self.sched.cpus.iter_mut().find(|c| c.timeouts.tag() == tag) {
            c.timeouts
                .remove(&mut TimerLinks(&mut self.threads), thread);
        }
    }

    /// Expires due timeouts of `cpu` and ends the current slice if it is over.
    pub fn on_timer(&mut self, cpu: usize) {
        let now = timer::now();

        loop {
            let Some(c) = self.sched.cpus.get(cpu) else {
                return;
            };
            let Some(thread) = c.timeouts.front() else {
                break;
            };
            let due = self
                .threads
                .get(thread)
                .and_then(|t| t.deadline)
                .is_none_or(|d| d <= now);
            if !due {
                break;
            }
            let state = self.threads.get(thread).map(|t| t.state);
            let status = if state == Some(ThreadState::Blocked(Block::Sleep)) {
                Ok(())
            } else {
                Err(Error::TimedOut)
            };
            self.cancel_timeout(thread);
            self.wake_with(thread, status);
        }
        let Some(c) = self.sched.cpus.get_mut(cpu) else {
            return;
        };
        if c.current.is_some() && now >= c.slice_end {
            c.resched = true;
        }
    }

    /// Decides what `cpu` runs next and installs it (context pointer, TTBR0). Returns false if
    /// there is nothing to run.
    pub fn schedule(&mut self, cpu: usize) -> bool {
        let Some(c) = self.sched.cpus.get(cpu) else {
            return false;
        };
        let current = c.current.filter(|t| {
            self.threads
                .get(*t)
                .is_some_and(|t| t.state == ThreadState::Running)
        });
        let preempt = match (current, c.runq.highest()) {
            (Some(t), Some(best)) => {
                let p = self.threads.get(t).map_or(0, |t| t.priority);
                best > p || (best == p && timer::now() >= c.slice_end)
            }
            (None, _) => true,
            (Some(_), None) => false,
        };
        let mut next = current;
        if preempt {
            if let Some(t) = current {
                self.make_ready_on(cpu, t);
            }
            next = self
                .sched
                .cpus
                .get_mut(cpu)
                .and_then(|c| c.runq.pop(&mut QueueLinks(&mut self.threads)));
        }
        let previous = self.sched.cpus.get(cpu).and_then(|c| c.current);
        if let Some(c) = self.sched.cpus.get_mut(cpu) {
            c.resched = false;
            c.current = next;
            let now = timer::now();
            // A thread that keeps the CPU (alone, or above everything waiting) starts a new slice
            // when its last one is over, so the tick never falls into the past.
            if next != previous || now >= c.slice_end {
                c.slice_end = now.saturating_add(self.sched.slice_ticks);
            }
        }
        if let Some(prev) = previous.filter(|p| Some(*p) != next) {
            self.reap_thread(prev);
        }
        match next {
            Some(t) => {
                self.install(cpu, t);
                true
            }
            None => {
                self.load_tables(cpu, None);
                false
            }
        }
    }

    /// Requeues a preempted thread on its own CPU.
    fn make_ready_on(&mut self, cpu: usize, thread: Id) {
        let Some(t) = self.threads.get_mut(thread) else {
            return;
        };
        t.state = ThreadState::Ready;
        t.cpu = cpu;
        let priority = t.priority;
        if let Some(c) = self.sched.cpus.get_mut(cpu) {
            c.runq
                .push(&mut QueueLinks(&mut self.threads), thread, priority);
        }
    }

    /// Makes `thread` the one `cpu` returns to.
    fn install(&mut self, cpu: usize, thread: Id) {
        let Some(t) = self.threads.get_mut(thread) else {
            return;
        };
        t.state = ThreadState::Running;
        t.cpu = cpu;
        let process = t.process;
        let context = core::ptr::addr_of_mut!(t.context);
        smp::set_current_context(context);
        self.load_tables(cpu, Some(process));
    }

    /// Puts `process`'s tables (or the empty table) in this CPU's TTBR0.
    pub(crate) fn load_tables(&mut self, cpu: usize, process: Option<Id>) {
        let Some(c) = self.sched.cpus.get_mut(cpu) else {
            return;
        };
        if c.loaded == process {
            return;
        }
        let previous = core::mem::replace(&mut c.loaded, process);
        let mut tables = (self.sched.empty_table, 0);
        if let Some(p) = process.and_then(|p| self.processes.get_mut(p)) {
            p.active_cpus |= 1 << cpu;
            if let Some(space) = p.space.as_ref() {
                tables = (space.table.root(), space.asid);
            }
        }
        user::set_user_tables(tables.0, tables.1);

        if let Some(prev) = previous
            && let Some(p) = self.processes.get_mut(prev)
        {
            p.active_cpus &= !(1 << cpu);
            if p.teardown_pending {
                self.try_finish_teardown(prev);
            }
        }
    }

    /// Programs `cpu`'s timer for its next event: a timeout or the end of the slice.
    pub fn program_timer(&mut self, cpu: usize) {
        let Some(c) = self.sched.cpus.get(cpu) else {
            return;
        };
        let timeout = c
            .timeouts
            .front()
            .and_then(|t| self.threads.get(t))
            .and_then(|t| t.deadline);
        // A running thread always has its slice's end armed, even alone: a CPU never runs longer
        // than a slice without a tick. That bounds how long an equal that becomes ready from
        // another CPU waits without an IPI, and under QEMU's single-threaded `-icount` mode it
        // is what lets the other CPUs run at all while this one is busy.
        let slice = c.current.is_some().then_some(c.slice_end);

        match (timeout, slice) {
            (None, None) => timer::disarm(),
            (a, b) => timer::arm_at(a.unwrap_or(u64::MAX).min(b.unwrap_or(u64::MAX))),
        }
    }
}

/// Leaves the kernel on `cpu`: installs the thread to run and returns (to `el0_return`), or idles
/// with the lock released until there is one.
pub fn exit_to_user(mut kernel: KernelGuard, cpu: usize) {
    loop {
        let runnable = kernel.schedule(cpu);
        kernel.program_timer(cpu);
        if runnable {
            return;
        }
        drop(kernel);
        // Interrupts stay masked: a pending one ends WFI all the same, and polling the GIC here
        // costs far less than taking it as an exception with a full register frame.
        crate::arch::aarch64::cpu::wait_for_interrupt_masked();
        kernel = crate::object::lock();
        crate::irq::handle_pending_locked(cpu, &mut kernel);
    }
}

/// Makes `cpu` run user threads from now on.
pub fn run_cpu(cpu: usize) -> ! {
    let kernel = crate::object::lock();
    exit_to_user(kernel, cpu);
    user::return_to_user()
}

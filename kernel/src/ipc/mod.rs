//! Synchronous IPC: call, send, receive, reply.
//!
//! A message lives in the sender's registers (x1 = MessageInfo, x2..x5 = words) and, when it
//! carries bytes or handles, its IPC buffer; it is copied when sender and receiver meet, straight
//! into the receiver's registers and buffer. A call leaves the caller waiting for the reply and
//! gives the receiver the right to reply once. On one CPU the kernel switches straight from the
//! caller to the receiver and back, without going through the run queue.

use crate::mm::phys_to_virt;
use crate::object::process::{ChargedTables, Notice};
use crate::object::thread::{Block, ThreadState};
use crate::object::{Kernel, ObjectRef};
use crate::sched::QueueLinks;
use nimbus_abi::ipc::{IpcBuffer, MAX_HANDLES};
use nimbus_abi::syscall::TIMEOUT_NONE;
use nimbus_abi::{Error, MessageInfo, Rights};
use nimbus_kcore::handles::HandleEntry;
use nimbus_kcore::slab::Id;

mod fastpath;

/// Register holding the message info on entry and exit.
const INFO: usize = 1;
/// First message word register.
const WORDS: usize = 2;
/// Register receiving the badge.
const BADGE: usize = 6;

impl Kernel {
    /// The physical address of `thread`'s IPC buffer, if mapped with the access needed.
    fn ipc_buffer_pa(&mut self, thread: Id, write: bool) -> Result<u64, Error> {
        let t = self.threads.get(thread).ok_or(Error::Dead)?;
        let va = t.ipc_buffer.ok_or(Error::NoIpcBuffer)?;
        let p = self.processes.get_mut(t.process).ok_or(Error::Dead)?;
        let space = p.space.as_ref().ok_or(Error::Dead)?;
        let (pa, flags) = space
            .table
            .translate(
                &mut ChargedTables {
                    account: &mut p.memory,
                },
                va,
            )
            .ok_or(Error::NoIpcBuffer)?;
        if (write && !flags.write) || flags.device {
            return Err(Error::NoIpcBuffer);
        }
        Ok(pa)
    }

    /// Copies the message of `from` into `to`, transferring handles; `to` sees `badge`.
    fn transfer(&mut self, from: Id, to: Id, badge: u64) -> Result<(), Error> {
        let f = self.threads.get(from).ok_or(Error::Dead)?;
        let info = MessageInfo(f.context.x[INFO]);
        let mut words = [0u64; 4];
        words.copy_from_slice(&f.context.x[WORDS..WORDS + 4]);
        let from_process = f.process;
        if !info.is_valid() {
            return Err(Error::InvalidArgument);
        }
        if info.uses_buffer() {
            let src = self.ipc_buffer_pa(from, false)?;
            let dst = self.ipc_buffer_pa(to, true)?;
            let to_process = self.threads.get(to).ok_or(Error::Dead)?.process;
            let src_buf = phys_to_virt(src) as *const IpcBuffer;
            let dst_buf = phys_to_virt(dst) as *mut IpcBuffer;
            let count = info.handle_count().min(MAX_HANDLES);
            let mut installed = [0u32; MAX_HANDLES];
            for i in 0..count {
                // SAFETY: the buffer is a user page mapped in the sender (checked above) and
                // reached through the linear map; user threads may write it concurrently, so it
                // is read with a volatile load and the value is treated as untrusted.
                let value = unsafe { core::ptr::addr_of!((*src_buf).handles[i]).read_volatile() };
                let result = self
                    .transferable(from_process, value)
                    .and_then(|entry| self.install_handle(to_process, entry));
                match result {
                    Ok(handle) => installed[i] = handle,
                    Err(e) => {
                        for h in &installed[..i] {
                            let _ = self.close_handle(to_process, *h);
                        }
                        return Err(e);
                    }
                }
            }
            // SAFETY: both buffers are whole user pages in the linear map; they may be the same
            // page (a process can use one buffer for two threads), so the copy tolerates
            // overlap. len() is at most IPC_DATA_SIZE, checked by is_valid().
            unsafe {
                core::ptr::copy(
                    core::ptr::addr_of!((*src_buf).data).cast::<u8>(),
                    core::ptr::addr_of_mut!((*dst_buf).data).cast::<u8>(),
                    info.len(),
                );
                for (i, h) in installed.iter().enumerate().take(count) {
                    core::ptr::addr_of_mut!((*dst_buf).handles[i]).write_volatile(*h);
                }
            }
        }
        let t = self.threads.get_mut(to).ok_or(Error::Dead)?;
        t.context.x[0] = 0;
        t.context.x[INFO] = info.0;
        t.context.x[WORDS..WORDS + 4].copy_from_slice(&words);
        t.context.x[BADGE] = badge;
        Ok(())
    }

    /// The entry a handle of `process` would transfer as, if it may be sent.
    fn transferable(&self, process: Id, handle: u32) -> Result<HandleEntry<ObjectRef>, Error> {
        let p = self.processes.get(process).ok_or(Error::Dead)?;
        let entry = p.handles.get(handle).ok_or(Error::BadHandle)?;
        if !entry.rights.contains(Rights::TRANSFER) {
            return Err(Error::AccessDenied);
        }
        Ok(*entry)
    }

    /// Puts `thread` on `cpu` right away if it may run there and the CPU has nothing current
    /// (its previous thread just blocked); otherwise queues it.
    fn run_here_or_queue(&mut self, cpu: usize, thread: Id) {
        let here = self
            .sched
            .cpus
            .get(cpu)
            .is_some_and(|c| c.current.is_none());
        let Some(t) = self.threads.get_mut(thread) else {
            return;
        };
        if here && t.affinity.is_none_or(|a| a == cpu) {
            t.state = ThreadState::Running;
            t.cpu = cpu;
            if let Some(c) = self.sched.cpus.get_mut(cpu) {
                c.current = Some(thread);
            }
        } else {
            self.make_ready(thread);
        }
    }

    /// Call or Send by the current thread of `cpu` on `endpoint`.
    pub fn ipc_send(
        &mut self,
        cpu: usize,
        sender: Id,
        endpoint: Id,
        badge: u64,
        call: bool,
        timeout: u64,
    ) {
        let receiver = self
            .endpoints
            .get_mut(endpoint)
            .and_then(|ep| ep.receivers.pop_front(&mut QueueLinks(&mut self.threads)));
        if let Some(receiver) = receiver {
            match self.transfer(sender, receiver, badge) {
                Ok(()) => {
                    self.cancel_timeout(receiver);
                    if call {
                        if let Some(r) = self.threads.get_mut(receiver) {
                            r.reply_to = Some(sender);
                        }
                        self.block_current(cpu, Block::Reply { server: receiver }, timeout);
                        self.run_here_or_queue(cpu, receiver);
                    } else {
                        self.set_status(sender, Ok(()));
                        self.make_ready(receiver);
                    }
                    return;
                }
                Err(e) => {
                    // The receiver keeps waiting; the sender learns why its message failed.
                    if let Some(ep) = self.endpoints.get_mut(endpoint) {
                        let front = ep.receivers.front();
                        ep.receivers.insert_before(
                            &mut QueueLinks(&mut self.threads),
                            front,
                            receiver,
                        );
                    }
                    if let Some(r) = self.threads.get_mut(receiver) {
                        r.state = ThreadState::Blocked(Block::Recv { endpoint });
                    }
                    self.set_status(sender, Err(e));
                    return;
                }
            }
        }
        if timeout == TIMEOUT_NONE {
            self.set_status(sender, Err(Error::WouldBlock));
            return;
        }
        if let Some(t) = self.threads.get_mut(sender) {
            t.send_badge = badge;
        }
        if let Some(ep) = self.endpoints.get_mut(endpoint) {
            ep.senders
                .push_back(&mut QueueLinks(&mut self.threads), sender);
        }
        self.block_current(cpu, Block::Send { endpoint, call }, timeout);
    }

    /// Receive by the current thread of `cpu` on `endpoint`.
    pub fn ipc_recv(&mut self, cpu: usize, receiver: Id, endpoint: Id, timeout: u64) {
        self.drop_reply_right(receiver);
        if let Some(notice) = self
            .endpoints
            .get_mut(endpoint)
            .and_then(|ep| ep.notices.pop_front())
        {
            self.write_notice(receiver, notice);
            return;
        }
        loop {
            let sender = self
                .endpoints
                .get_mut(endpoint)
                .and_then(|ep| ep.senders.pop_front(&mut QueueLinks(&mut self.threads)));
            let Some(sender) = sender else { break };
            let (badge, call) = match self.threads.get(sender) {
                Some(s) => (
                    s.send_badge,
                    s.state
                        == ThreadState::Blocked(Block::Send {
                            endpoint,
                            call: true,
                        }),
                ),
                None => continue,
            };
            match self.transfer(sender, receiver, badge) {
                Ok(()) => {
                    // A caller's timeout keeps running: it covers the whole call.
                    if !call {
                        self.cancel_timeout(sender);
                    }
                    if call {
                        if let Some(s) = self.threads.get_mut(sender) {
                            s.state = ThreadState::Blocked(Block::Reply { server: receiver });
                        }
                        if let Some(r) = self.threads.get_mut(receiver) {
                            r.reply_to = Some(sender);
                        }
                    } else {
                        self.set_status(sender, Ok(()));
                        self.make_ready(sender);
                    }
                    return;
                }
                Err(e) => {
                    self.cancel_timeout(sender);
                    self.set_status(sender, Err(e));
                    self.make_ready(sender);
                }
            }
        }
        if timeout == TIMEOUT_NONE {
            self.set_status(receiver, Err(Error::WouldBlock));
            return;
        }
        if let Some(ep) = self.endpoints.get_mut(endpoint) {
            ep.receivers
                .push_back(&mut QueueLinks(&mut self.threads), receiver);
        }
        self.block_current(cpu, Block::Recv { endpoint }, timeout);
    }

    /// Reply by `replier` to the call it received; returns the caller to resume (None if the
    /// caller is gone).
    pub fn ipc_reply(&mut self, replier: Id) -> Result<Option<Id>, Error> {
        let caller = self
            .threads
            .get_mut(replier)
            .ok_or(Error::Dead)?
            .reply_to
            .take()
            .ok_or(Error::NoReplyTarget)?;
        let waiting = self
            .threads
            .get(caller)
            .is_some_and(|c| c.state == ThreadState::Blocked(Block::Reply { server: replier }));
        if !waiting {
            // The caller timed out or died: the reply has nowhere to go, which is not an error.
            return Ok(None);
        }
        self.cancel_timeout(caller);
        if let Err(e) = self.transfer(replier, caller, 0) {
            self.wake_with(caller, Err(e));
            return Err(e);
        }
        Ok(Some(caller))
    }

    /// Makes a caller the reply went to runnable: here, if the replier is about to block.
    pub fn resume_caller(&mut self, cpu: usize, caller: Id, replier_blocked: bool) {
        if replier_blocked {
            self.run_here_or_queue(cpu, caller);
        } else {
            self.make_ready(caller);
        }
    }

    /// A receiver that still holds an unused right to reply gives it up: the caller learns that
    /// no reply will come.
    fn drop_reply_right(&mut self, thread: Id) {
        let Some(caller) = self.threads.get_mut(thread).and_then(|t| t.reply_to.take()) else {
            return;
        };
        let waiting = self
            .threads
            .get(caller)
            .is_some_and(|c| c.state == ThreadState::Blocked(Block::Reply { server: thread }));
        if waiting {
            self.wake_with(caller, Err(Error::PeerDied));
        }
    }

    /// Hands a kernel notice to a thread waiting to receive.
    pub fn deliver_notice(&mut self, receiver: Id, notice: Notice) {
        self.unblock_silently(receiver);
        self.write_notice(receiver, notice);
        self.make_ready(receiver);
    }

    fn write_notice(&mut self, receiver: Id, notice: Notice) {
        if let Some(t) = self.threads.get_mut(receiver) {
            t.context.x[0] = 0;
            t.context.x[INFO] = MessageInfo::label_only(notice.label).0;
            t.context.x[WORDS..WORDS + 4].copy_from_slice(&notice.words);
            t.context.x[BADGE] = notice.badge;
        }
    }

    /// Sets x0 of `thread` to the status of the call it made.
    pub fn set_status(&mut self, thread: Id, status: Result<(), Error>) {
        if let Some(t) = self.threads.get_mut(thread) {
            t.context.x[0] = match status {
                Ok(()) => 0,
                Err(e) => e as u64,
            };
        }
    }
}

//! IPC endpoints: where senders and receivers meet. Senders and receivers wait in FIFO order;
//! kernel notices (faults and exits of supervised processes) wait in a queue whose capacity was
//! reserved when each supervised process was created, so posting one never allocates.

use super::process::Notice;
use super::{Kernel, SMALL_OBJECT_COST};
use crate::sched::QueueLinks;
use alloc::collections::VecDeque;
use nimbus_abi::Error;
use nimbus_kcore::list::List;
use nimbus_kcore::slab::Id;

/// An IPC endpoint.
pub struct Endpoint {
    /// Threads waiting to send (or call).
    pub senders: List<Id>,
    /// Threads waiting to receive.
    pub receivers: List<Id>,
    /// Kernel messages for a supervisor.
    pub notices: VecDeque<Notice>,
    /// Processes supervised through this endpoint (notices reserved).
    pub notice_slots: usize,
    /// References (handles, supervised processes).
    pub refs: u32,
    /// Whose quota pays for it.
    pub owner: Option<Id>,
}

impl Kernel {
    /// A new endpoint charged to `owner`.
    pub fn create_endpoint(&mut self, owner: Id) -> Result<Id, Error> {
        self.charge(owner, SMALL_OBJECT_COST)?;
        let endpoint = Endpoint {
            senders: List::new(self.new_list_tag()),
            receivers: List::new(self.new_list_tag()),
            notices: VecDeque::new(),
            notice_slots: 0,
            refs: 0,
            owner: Some(owner),
        };
        self.endpoints.insert(endpoint).map_err(|_| {
            self.uncharge(owner, SMALL_OBJECT_COST);
            Error::OutOfMemory
        })
    }

    /// The last reference is gone: everyone still waiting learns it is dead.
    pub(super) fn destroy_endpoint(&mut self, id: Id) {
        loop {
            let waiter = self.endpoints.get_mut(id).and_then(|ep| {
                let mut links = QueueLinks(&mut self.threads);
                ep.senders
                    .pop_front(&mut links)
                    .or_else(|| ep.receivers.pop_front(&mut links))
            });
            let Some(thread) = waiter else { break };
            if let Some(t) = self.threads.get_mut(thread) {
                // Already off the queue; make it runnable with the error.
                t.context.x[0] = Error::Dead as u64;
            }
            self.cancel_timeout(thread);
            self.make_ready(thread);
        }
        if let Some(ep) = self.endpoints.remove(id)
            && let Some(owner) = ep.owner
        {
            self.uncharge(owner, SMALL_OBJECT_COST);
        }
    }

    /// Charges `bytes` to a process's memory quota.
    pub fn charge(&mut self, process: Id, bytes: u64) -> Result<(), Error> {
        let p = self.processes.get_mut(process).ok_or(Error::Dead)?;
        p.memory.charge(bytes).map_err(|_| Error::QuotaExceeded)
    }

    /// Returns `bytes` to a process's memory quota (if it still exists).
    pub fn uncharge(&mut self, process: Id, bytes: u64) {
        if let Some(p) = self.processes.get_mut(process) {
            p.memory.uncharge(bytes);
        }
    }
}

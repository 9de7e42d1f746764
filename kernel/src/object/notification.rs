//! Notifications: a word of event bits for asynchronous events (interrupts, wake-ups). Signals
//! accumulate until someone waits; one thread may wait at a time.

use super::thread::{Block, ThreadState};
use super::{Kernel, SMALL_OBJECT_COST};
use nimbus_abi::Error;
use nimbus_kcore::slab::Id;

/// A notification object.
pub struct Notification {
    /// Pending bits.
    pub bits: u64,
    /// The thread waiting, if any.
    pub waiter: Option<Id>,
    /// References (handles, interrupt bindings).
    pub refs: u32,
    /// Whose quota pays for it.
    pub owner: Option<Id>,
}

/// What a wait did.
pub enum WaitOutcome {
    /// Bits were pending and are returned.
    Bits(u64),
    /// The thread now waits.
    Blocked,
}

impl Kernel {
    /// A new notification charged to `owner`.
    pub fn create_notification(&mut self, owner: Id) -> Result<Id, Error> {
        self.charge(owner, SMALL_OBJECT_COST)?;
        let n = Notification {
            bits: 0,
            waiter: None,
            refs: 0,
            owner: Some(owner),
        };
        self.notifications.insert(n).map_err(|_| {
            self.uncharge(owner, SMALL_OBJECT_COST);
            Error::OutOfMemory
        })
    }

    /// Sets `bits`; a waiting thread wakes with all pending bits.
    pub fn signal(&mut self, id: Id, bits: u64) {
        let Some(n) = self.notifications.get_mut(id) else {
            return;
        };
        n.bits |= bits;
        if n.bits == 0 {
            return;
        }
        if let Some(waiter) = n.waiter.take() {
            let pending = core::mem::take(&mut n.bits);
            if let Some(t) = self.threads.get_mut(waiter) {
                t.context.x[1] = pending;
            }
            self.wake_with(waiter, Ok(()));
        }
    }

    /// `thread` waits for bits on `id` (it must be current; the caller blocks it on `Blocked`).
    pub fn wait(&mut self, thread: Id, id: Id, may_block: bool) -> Result<WaitOutcome, Error> {
        let n = self.notifications.get_mut(id).ok_or(Error::Dead)?;
        if n.bits != 0 {
            return Ok(WaitOutcome::Bits(core::mem::take(&mut n.bits)));
        }
        if !may_block {
            return Err(Error::WouldBlock);
        }
        if n.waiter.is_some_and(|w| w != thread) {
            return Err(Error::Busy);
        }
        n.waiter = Some(thread);
        if let Some(t) = self.threads.get_mut(thread) {
            t.state = ThreadState::Blocked(Block::Notification { notification: id });
        }
        Ok(WaitOutcome::Blocked)
    }

    /// The last reference is gone: a waiter learns it is dead.
    pub(super) fn destroy_notification(&mut self, id: Id) {
        let waiter = self.notifications.get(id).and_then(|n| n.waiter);
        if let Some(waiter) = waiter {
            self.wake_with(waiter, Err(Error::Dead));
        }
        if let Some(n) = self.notifications.remove(id)
            && let Some(owner) = n.owner
        {
            self.uncharge(owner, SMALL_OBJECT_COST);
        }
    }
}

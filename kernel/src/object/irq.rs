//! Device interrupts handed to userland drivers.
//!
//! When one fires the kernel masks it at the interrupt controller and signals the bound
//! notification; the driver services its device and acknowledges, which unmasks it. A
//! level-triggered line therefore cannot storm the kernel while its driver is busy.

use super::{Kernel, ObjectRef, SMALL_OBJECT_COST};
use crate::arch::aarch64::gic;
use nimbus_abi::Error;
use nimbus_kcore::slab::Id;

/// First INTID userland may have (SGIs and PPIs stay with the kernel).
pub const FIRST_DEVICE_INTID: u32 = 32;
/// One past the last INTID.
pub const INTID_LIMIT: u32 = 1020;

/// An interrupt a driver holds.
pub struct IrqObject {
    /// Its INTID.
    pub intid: u32,
    /// Notification and bits it signals.
    pub binding: Option<(Id, u64)>,
    /// Handles naming it.
    pub refs: u32,
    /// Whose quota pays for it.
    pub owner: Option<Id>,
}

impl Kernel {
    /// An interrupt object for `intid`, which no other object may hold.
    pub fn create_irq(&mut self, owner: Id, intid: u32) -> Result<Id, Error> {
        if !(FIRST_DEVICE_INTID..INTID_LIMIT).contains(&intid) {
            return Err(Error::InvalidArgument);
        }
        if self.irq_owners.is_empty() {
            self.irq_owners
                .try_reserve_exact(INTID_LIMIT as usize)
                .map_err(|_| Error::OutOfMemory)?;
            self.irq_owners.resize(INTID_LIMIT as usize, None);
        }
        let slot = self
            .irq_owners
            .get(intid as usize)
            .ok_or(Error::InvalidArgument)?;
        if slot.is_some() {
            return Err(Error::Busy);
        }
        self.charge(owner, SMALL_OBJECT_COST)?;
        let id = self
            .irqs
            .insert(IrqObject {
                intid,
                binding: None,
                refs: 0,
                owner: Some(owner),
            })
            .map_err(|_| {
                self.uncharge(owner, SMALL_OBJECT_COST);
                Error::OutOfMemory
            })?;
        if let Some(slot) = self.irq_owners.get_mut(intid as usize) {
            *slot = Some(id);
        }
        Ok(id)
    }

    /// Routes the interrupt to `notification`'s `bits` and enables it.
    pub fn bind_irq(&mut self, irq: Id, notification: Id, bits: u64) -> Result<(), Error> {
        if bits == 0 || !self.notifications.contains(notification) {
            return Err(Error::InvalidArgument);
        }
        let object = self.irqs.get_mut(irq).ok_or(Error::Dead)?;
        let old = object.binding.replace((notification, bits));
        let intid = object.intid;
        self.retain(ObjectRef::Notification(notification));
        if let Some((old, _)) = old {
            self.release(ObjectRef::Notification(old));
        }
        gic::enable(intid, 0, false).map_err(|_| Error::InvalidArgument)
    }

    /// Unmasks the interrupt after the driver has serviced its device.
    pub fn ack_irq(&mut self, irq: Id) -> Result<(), Error> {
        let object = self.irqs.get(irq).ok_or(Error::Dead)?;
        if object.binding.is_none() {
            return Err(Error::InvalidArgument);
        }
        gic::unmask(object.intid);
        Ok(())
    }

    /// A device interrupt arrived: mask it and signal its driver. Returns false if nobody holds it.
    pub fn device_interrupt(&mut self, intid: u32) -> bool {
        let Some(id) = self.irq_owners.get(intid as usize).copied().flatten() else {
            return false;
        };
        gic::mask(intid);
        if let Some((notification, bits)) = self.irqs.get(id).and_then(|o| o.binding) {
            self.signal(notification, bits);
        }
        true
    }

    /// The last handle is gone: mask the line and free it. Returns the notification it held.
    pub(super) fn destroy_irq(&mut self, irq: Id) -> Option<ObjectRef> {
        let object = self.irqs.remove(irq)?;
        gic::mask(object.intid);
        if let Some(slot) = self.irq_owners.get_mut(object.intid as usize) {
            *slot = None;
        }
        if let Some(owner) = object.owner {
            self.uncharge(owner, SMALL_OBJECT_COST);
        }
        object.binding.map(|(n, _)| ObjectRef::Notification(n))
    }
}

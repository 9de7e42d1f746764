//! Per-process handle tables.
//!
//! A handle value packs a slot index and the slot's generation, so a closed handle's value stays
//! invalid even after the slot is reused, and forged values almost never name a live slot (and
//! if one does, it is a slot the process owns anyway: a table only ever holds the process's own
//! handles). The table enforces the handle quota.

extern crate alloc;
use alloc::vec::Vec;
use nimbus_abi::Rights;

/// What a handle grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandleEntry<O> {
    /// The object.
    pub object: O,
    /// What the holder may do with it.
    pub rights: Rights,
    /// The badge receivers see (endpoints and notifications; 0 = none).
    pub badge: u64,
}

/// Why a handle could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleError {
    /// The table is at its quota.
    QuotaExceeded,
    /// The kernel heap could not grow.
    OutOfMemory,
}

struct Slot<O> {
    generation: u16,
    entry: Option<HandleEntry<O>>,
}

/// Most slots a table can have (the index field is 16 bits and 0 is never a handle).
pub const MAX_SLOTS: usize = 0xffff;

/// A process's handles.
pub struct HandleTable<O> {
    slots: Vec<Slot<O>>,
    free: Vec<u16>,
    count: usize,
    limit: usize,
}

fn pack(index: usize, generation: u16) -> u32 {
    (u32::from(generation) << 16) | (index as u32 + 1)
}

fn unpack(handle: u32) -> Option<(usize, u16)> {
    let index = (handle & 0xffff) as usize;
    let generation = (handle >> 16) as u16;
    (index != 0 && generation != 0).then(|| (index - 1, generation))
}

impl<O: Copy> HandleTable<O> {
    /// An empty table holding at most `limit` handles.
    pub fn new(limit: usize) -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            count: 0,
            limit: limit.min(MAX_SLOTS),
        }
    }

    /// Handles held.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no handle is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The quota.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Adds a handle and returns its value.
    pub fn insert(&mut self, entry: HandleEntry<O>) -> Result<u32, HandleError> {
        if self.count >= self.limit {
            return Err(HandleError::QuotaExceeded);
        }
        let index = match self.free.pop() {
            Some(index) => usize::from(index),
            None => {
                self.slots
                    .try_reserve(1)
                    .map_err(|_| HandleError::OutOfMemory)?;
                self.free
                    .try_reserve(1)
                    .map_err(|_| HandleError::OutOfMemory)?;
                self.slots.push(Slot {
                    generation: 0,
                    entry: None,
                });
                self.slots.len() - 1
            }
        };
        let slot = self.slots.get_mut(index).ok_or(HandleError::OutOfMemory)?;
        slot.generation = slot.generation.wrapping_add(1).max(1);
        slot.entry = Some(entry);
        self.count += 1;
        Ok(pack(index, slot.generation))
    }

    /// What `handle` grants, if it is live.
    pub fn get(&self, handle: u32) -> Option<&HandleEntry<O>> {
        let (index, generation) = unpack(handle)?;
        let slot = self.slots.get(index)?;
        if slot.generation != generation {
            return None;
        }
        slot.entry.as_ref()
    }

    /// Closes `handle`, returning what it held.
    pub fn remove(&mut self, handle: u32) -> Option<HandleEntry<O>> {
        let (index, generation) = unpack(handle)?;
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        let entry = slot.entry.take()?;
        self.count -= 1;
        // Capacity was reserved when the slot was created.
        self.free.push(index as u16);
        Some(entry)
    }

    /// Every live handle and what it holds.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &HandleEntry<O>)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.entry.as_ref().map(|e| (pack(i, s.generation), e)))
    }

    /// Empties the table, returning every entry (when a process dies).
    pub fn drain(&mut self) -> Vec<HandleEntry<O>> {
        let entries: Vec<_> = self
            .slots
            .iter_mut()
            .filter_map(|s| s.entry.take())
            .collect();
        self.count = 0;
        self.free = (0..self.slots.len() as u16).collect();
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(object: u32) -> HandleEntry<u32> {
        HandleEntry {
            object,
            rights: Rights::SEND,
            badge: 0,
        }
    }

    #[test]
    fn closed_handles_stay_invalid_after_reuse() {
        let mut table = HandleTable::new(8);
        let h1 = table.insert(entry(1)).unwrap();
        assert_eq!(table.get(h1).unwrap().object, 1);
        table.remove(h1).unwrap();
        let h2 = table.insert(entry(2)).unwrap();
        assert_ne!(h1, h2);
        assert!(
            table.get(h1).is_none(),
            "stale handle reached the new entry"
        );
        assert_eq!(table.get(h2).unwrap().object, 2);
        assert!(table.remove(h1).is_none());
    }

    #[test]
    fn zero_and_garbage_are_never_handles() {
        let mut table = HandleTable::new(8);
        let h = table.insert(entry(1)).unwrap();
        assert!(table.get(0).is_none());
        assert!(table.get(0xffff_ffff).is_none());
        assert!(table.get(h & 0xffff).is_none(), "generation 0 accepted");
        for forged in 0..200_000u32 {
            if let Some(e) = table.get(forged.wrapping_mul(2_654_435_761)) {
                assert_eq!(e.object, 1);
            }
        }
    }

    #[test]
    fn enforces_the_quota_and_drains() {
        let mut table = HandleTable::new(3);
        for i in 0..3 {
            table.insert(entry(i)).unwrap();
        }
        assert_eq!(table.insert(entry(9)), Err(HandleError::QuotaExceeded));
        assert_eq!(table.drain().len(), 3);
        assert!(table.is_empty());
        for i in 0..3 {
            table.insert(entry(i)).unwrap();
        }
        assert_eq!(table.len(), 3);
    }
}

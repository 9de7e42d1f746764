//! Memory objects (pages of RAM) and MMIO regions (device registers), both mappable into
//! address spaces.

use super::{Kernel, ObjectRef, SMALL_OBJECT_COST};
use crate::mm::frames;
use alloc::vec::Vec;
use nimbus_abi::Error;
use nimbus_kcore::slab::Id;

/// Where a memory object's pages are.
pub enum Frames {
    /// Individually allocated frames, owned by the object.
    Scattered(Vec<u64>),
    /// One physically contiguous run. `owned` runs came from the frame allocator (DMA objects);
    /// unowned ones are memory the kernel holds for the system (the boot archive, the device
    /// tree) and lend read-only.
    Contiguous { base: u64, count: u64, owned: bool },
}

/// Pages of memory.
pub struct MemoryObject {
    /// The pages.
    pub frames: Frames,
    /// Whether its physical address may be revealed (DMA objects).
    pub dma: bool,
    /// References (handles, mappings).
    pub refs: u32,
    /// Whose quota pays for it.
    pub owner: Option<Id>,
}

impl MemoryObject {
    /// Number of pages.
    pub fn pages(&self) -> u64 {
        match &self.frames {
            Frames::Scattered(f) => f.len() as u64,
            Frames::Contiguous { count, .. } => *count,
        }
    }

    /// The frame holding page `index`.
    pub fn frame(&self, index: u64) -> Option<u64> {
        match &self.frames {
            Frames::Scattered(f) => f.get(usize::try_from(index).ok()?).copied(),
            Frames::Contiguous { base, count, .. } => (index < *count).then(|| base + index * 4096),
        }
    }
}

/// Device registers a driver may map.
pub struct MmioObject {
    /// Physical base (page aligned).
    pub base: u64,
    /// Bytes (page multiple).
    pub size: u64,
    /// References (handles, mappings).
    pub refs: u32,
    /// Whose quota pays for it.
    pub owner: Option<Id>,
}

impl Kernel {
    /// A zeroed memory object of `pages` pages, charged to `owner`.
    pub fn create_memory(&mut self, owner: Id, pages: u64, dma: bool) -> Result<Id, Error> {
        if pages == 0 || pages > (1 << 20) {
            return Err(Error::InvalidArgument);
        }
        let bytes = pages * 4096;
        self.charge(owner, bytes + SMALL_OBJECT_COST)?;
        let frames = if dma {
            frames::alloc_contiguous_zeroed(pages, 4096).map(|base| Frames::Contiguous {
                base,
                count: pages,
                owned: true,
            })
        } else {
            let mut list = Vec::new();
            if list.try_reserve_exact(pages as usize).is_ok() {
                while (list.len() as u64) < pages {
                    match frames::alloc_zeroed() {
                        Some(pa) => list.push(pa),
                        None => break,
                    }
                }
            }
            if list.len() as u64 == pages {
                Some(Frames::Scattered(list))
            } else {
                list.into_iter().for_each(frames::free);
                None
            }
        };
        let Some(frames) = frames else {
            self.uncharge(owner, bytes + SMALL_OBJECT_COST);
            return Err(Error::OutOfMemory);
        };
        let object = MemoryObject {
            frames,
            dma,
            refs: 0,
            owner: Some(owner),
        };
        self.memories.insert(object).map_err(|e| {
            let _ = e;
            Error::OutOfMemory
        })
    }

    /// A memory object over RAM the kernel already holds (not freed when the object goes).
    pub fn lend_memory(&mut self, base: u64, pages: u64) -> Result<Id, Error> {
        let frames = Frames::Contiguous {
            base,
            count: pages,
            owned: false,
        };
        self.memories
            .insert(MemoryObject {
                frames,
                dma: false,
                refs: 0,
                owner: None,
            })
            .map_err(|_| Error::OutOfMemory)
    }

    /// The last reference is gone: frames go back to the allocator and the quota.
    pub(super) fn destroy_memory(&mut self, id: Id) {
        let Some(object) = self.memories.remove(id) else {
            return;
        };
        let pages = object.pages();
        match object.frames {
            Frames::Scattered(list) => list.into_iter().for_each(frames::free),
            Frames::Contiguous {
                base,
                count,
                owned: true,
            } => frames::free_contiguous(base, count),
            Frames::Contiguous { owned: false, .. } => {}
        }
        if let Some(owner) = object.owner {
            self.uncharge(owner, pages * 4096 + SMALL_OBJECT_COST);
        }
    }

    /// An MMIO region handle's object, charged to `owner`.
    pub fn create_mmio(&mut self, owner: Id, base: u64, size: u64) -> Result<Id, Error> {
        self.charge(owner, SMALL_OBJECT_COST)?;
        self.mmios
            .insert(MmioObject {
                base,
                size,
                refs: 0,
                owner: Some(owner),
            })
            .map_err(|_| {
                self.uncharge(owner, SMALL_OBJECT_COST);
                Error::OutOfMemory
            })
    }

    /// The physical frame behind page `index` of a mappable object.
    pub fn frame_of(&self, target: ObjectRef, index: u64) -> Option<u64> {
        match target {
            ObjectRef::Memory(id) => self.memories.get(id)?.frame(index),
            ObjectRef::Mmio(id) => {
                let m = self.mmios.get(id)?;
                let offset = index.checked_mul(4096)?;
                (offset < m.size).then(|| m.base + offset)
            }
            _ => None,
        }
    }
}

//! The `virtio_drivers::Hal` for Nimbus userland drivers.
//!
//! A driver process gets device registers as an MMIO handle and memory the device can reach as
//! DMA memory objects, whose physical address the kernel reveals only to holders of the DMA right.
//! This crate turns those into what virtio-drivers expects:
//!
//! - `dma_alloc`: a zeroed, physically contiguous DMA memory object, mapped into the driver.
//! - `share`/`unshare`: bounce buffers. Drivers hand virtio-drivers buffers on their heap or
//!   stack, which are neither contiguous nor of known physical address, so each shared buffer is
//!   copied into a DMA allocation (and back for buffers the device writes).
//! - `mmio_phys_to_virt`: looks up device registers the driver registered with [`register_mmio`].
//!
//! Without an IOMMU a driver holding DMA memory can program its device to reach any memory, so
//! drivers are trusted; the point here is that they run isolated from everything else.

#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use core::ptr::NonNull;
use nimbus_abi::layout::MAP_AREA;
use nimbus_abi::object::MEM_DMA;
use nimbus_abi::rights::{MAP_READ, MAP_WRITE};
use nimbus_abi::{Error, Handle};
use nimbus_rt::sys;
use spin::Mutex;
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

/// Where DMA allocations are mapped in the driver.
const DMA_AREA: u64 = MAP_AREA + (32 << 30);
/// Size of the DMA mapping area.
const DMA_AREA_SIZE: u64 = 1 << 30;
const PAGE: u64 = 4096;

struct Allocation {
    va: u64,
    pa: u64,
    pages: u64,
    memory: Handle,
}

struct Bounce {
    pa: u64,
    va: u64,
    pages: u64,
}

struct State {
    next_va: u64,
    free_va: Vec<(u64, u64)>,
    allocations: Vec<Allocation>,
    mmio: Vec<(u64, u64, u64)>,
}

static STATE: Mutex<State> = Mutex::new(State {
    next_va: DMA_AREA,
    free_va: Vec::new(),
    allocations: Vec::new(),
    mmio: Vec::new(),
});

/// The HAL type to name in virtio-drivers' generics.
pub struct NimbusHal;

/// Records that device registers at physical `pa` (`size` bytes) are mapped at `va`, for
/// `mmio_phys_to_virt`.
pub fn register_mmio(pa: u64, size: u64, va: u64) {
    STATE.lock().mmio.push((pa, size, va));
}

fn take_va(state: &mut State, pages: u64) -> Option<u64> {
    if let Some(i) = state.free_va.iter().position(|(_, p)| *p == pages) {
        return Some(state.free_va.swap_remove(i).0);
    }
    let va = state.next_va;
    let end = va.checked_add(pages * PAGE)?;
    if end > DMA_AREA + DMA_AREA_SIZE {
        return None;
    }
    state.next_va = end;
    Some(va)
}

/// Allocates `pages` zeroed contiguous pages the device can reach: (physical, virtual).
pub fn alloc(pages: u64) -> Result<(u64, u64), Error> {
    let mut state = STATE.lock();
    let va = take_va(&mut state, pages).ok_or(Error::OutOfMemory)?;
    let result = (|| {
        let memory = sys::mem_create(pages * PAGE, MEM_DMA)?;
        let mapped = sys::mem_map(
            Handle::NONE,
            memory,
            va,
            0,
            pages * PAGE,
            MAP_READ | MAP_WRITE,
        )
        .and_then(|()| sys::mem_phys_addr(memory));
        match mapped {
            Ok(pa) => Ok((pa, memory)),
            Err(e) => {
                let _ = sys::handle_close(memory);
                Err(e)
            }
        }
    })();
    match result {
        Ok((pa, memory)) => {
            state.allocations.push(Allocation {
                va,
                pa,
                pages,
                memory,
            });
            Ok((pa, va))
        }
        Err(e) => {
            state.free_va.push((va, pages));
            Err(e)
        }
    }
}

/// Frees an allocation made by [`alloc`].
pub fn free(pa: u64) -> Result<(), Error> {
    let mut state = STATE.lock();
    let index = state
        .allocations
        .iter()
        .position(|a| a.pa == pa)
        .ok_or(Error::InvalidArgument)?;
    let a = state.allocations.swap_remove(index);
    // SAFETY: the allocation is being freed; its owner (virtio-drivers, or share/unshare) no
    // longer uses it.
    unsafe { sys::mem_unmap(Handle::NONE, a.va, a.pages * PAGE)? };
    let _ = sys::handle_close(a.memory);
    state.free_va.push((a.va, a.pages));
    Ok(())
}

// SAFETY: dma_alloc returns zeroed, page-aligned, physically contiguous memory mapped only for the
// device's driver; share returns the physical address of a bounce copy that stays valid until
// unshare; mmio_phys_to_virt only returns mappings the driver registered.
unsafe impl Hal for NimbusHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        match alloc(pages as u64) {
            Ok((pa, va)) => match NonNull::new(va as *mut u8) {
                Some(ptr) => (pa as PhysAddr, ptr),
                None => (0, NonNull::dangling()),
            },
            // virtio-drivers cannot be told; queue creation then fails on the zero address.
            Err(_) => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        if free(paddr).is_ok() { 0 } else { -1 }
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        let pa = paddr;
        let state = STATE.lock();
        let hit = state
            .mmio
            .iter()
            .find(|(base, len, _)| pa >= *base && pa + size as u64 <= base + len);
        hit.and_then(|(base, _, va)| NonNull::new((va + (pa - base)) as *mut u8))
            .unwrap_or(NonNull::dangling())
    }

    unsafe fn share(buffer: NonNull<[u8]>, direction: BufferDirection) -> PhysAddr {
        let len = buffer.len() as u64;
        let pages = len.div_ceil(PAGE).max(1);
        let Ok((pa, va)) = alloc(pages) else { return 0 };
        if matches!(
            direction,
            BufferDirection::DriverToDevice | BufferDirection::Both
        ) {
            // SAFETY: the caller guarantees `buffer` is valid and not accessed concurrently; the
            // bounce pages were just allocated and hold at least `len` bytes.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    buffer.as_ptr().cast::<u8>(),
                    va as *mut u8,
                    len as usize,
                )
            };
        }
        BOUNCES.lock().push(Bounce { pa, va, pages });
        pa as PhysAddr
    }

    unsafe fn unshare(paddr: PhysAddr, buffer: NonNull<[u8]>, direction: BufferDirection) {
        let mut bounces = BOUNCES.lock();
        let Some(index) = bounces.iter().position(|b| b.pa == paddr) else {
            return;
        };
        let bounce = bounces.swap_remove(index);
        drop(bounces);
        if matches!(
            direction,
            BufferDirection::DeviceToDriver | BufferDirection::Both
        ) {
            let len = buffer.len().min((bounce.pages * PAGE) as usize);
            // SAFETY: the caller guarantees `buffer` is valid and not accessed concurrently; the
            // bounce holds what the device wrote.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    bounce.va as *const u8,
                    buffer.as_ptr().cast::<u8>(),
                    len,
                )
            };
        }
        let _ = free(bounce.pa);
    }
}

static BOUNCES: Mutex<Vec<Bounce>> = Mutex::new(Vec::new());

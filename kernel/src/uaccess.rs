//! Copying between the kernel and user memory.
//!
//! The kernel never dereferences a user pointer. It translates each user page through the
//! process's own page tables, checks that user mode could make the same access, and copies
//! through the linear map. An address that is unmapped, kernel, device memory, or (for writes)
//! read-only is an error, never a kernel fault. All of it runs under the big kernel lock, so the
//! mapping cannot change during the copy.

use crate::mm::phys_to_virt;
use crate::object::Kernel;
use crate::object::process::ChargedTables;
use nimbus_abi::Error;
use nimbus_kcore::slab::Id;

const PAGE: u64 = 4096;

impl Kernel {
    fn user_page(&mut self, process: Id, va: u64, write: bool) -> Result<u64, Error> {
        let p = self.processes.get_mut(process).ok_or(Error::Dead)?;
        let space = p.space.as_ref().ok_or(Error::Dead)?;
        let (pa, flags) = space
            .table
            .translate(
                &mut ChargedTables {
                    account: &mut p.memory,
                },
                va,
            )
            .ok_or(Error::BadAddress)?;
        if flags.device || (write && !flags.write) {
            return Err(Error::BadAddress);
        }
        Ok(pa)
    }

    /// Fills `out` from user address `va` of `process`.
    pub fn copy_from_user(&mut self, process: Id, va: u64, out: &mut [u8]) -> Result<(), Error> {
        va.checked_add(out.len() as u64).ok_or(Error::BadAddress)?;
        let mut done = 0;
        while done < out.len() {
            let addr = va + done as u64;
            let chunk = ((PAGE - addr % PAGE) as usize).min(out.len() - done);
            let pa = self.user_page(process, addr, false)?;
            // SAFETY: `pa` is a user-readable RAM page (not device memory) reached through the
            // linear map; `chunk` stays inside it. User threads may write concurrently: the bytes
            // are treated as untrusted.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    phys_to_virt(pa) as *const u8,
                    out[done..].as_mut_ptr(),
                    chunk,
                )
            };
            done += chunk;
        }
        Ok(())
    }

    /// Writes `data` to user address `va` of `process`.
    pub fn copy_to_user(&mut self, process: Id, va: u64, data: &[u8]) -> Result<(), Error> {
        va.checked_add(data.len() as u64).ok_or(Error::BadAddress)?;
        let mut done = 0;
        while done < data.len() {
            let addr = va + done as u64;
            let chunk = ((PAGE - addr % PAGE) as usize).min(data.len() - done);
            let pa = self.user_page(process, addr, true)?;
            // SAFETY: `pa` is a user-writable RAM page reached through the linear map; `chunk`
            // stays inside it.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    data[done..].as_ptr(),
                    phys_to_virt(pa) as *mut u8,
                    chunk,
                )
            };
            done += chunk;
        }
        Ok(())
    }

    /// Whether the page at `va` is mapped read-write for `process` (IPC buffers must be).
    pub fn user_page_writable(&mut self, process: Id, va: u64) -> bool {
        self.user_page(process, va, true).is_ok()
    }
}

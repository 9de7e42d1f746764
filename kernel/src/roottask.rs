//! Starting the root task: `bin/init` from the boot archive, loaded by the kernel (the only
//! program it loads; init loads the rest), with handles to everything the system has.

use crate::arch::aarch64::user::UserContext;
use crate::boot_archive::BootArchive;
use crate::mm::{PAGE_SIZE, frames, phys_to_virt};
use crate::object::{self, Kernel, ObjectRef};
use nimbus_abi::layout::{IPC_BUFFERS, MAIN_STACK_SIZE, STACK_TOP, root_task};
use nimbus_abi::{Error, Quota, Rights};
use nimbus_kcore::handles::HandleEntry;
use nimbus_kcore::pagetable::PageFlags;
use nimbus_kcore::ranges::Range;
use nimbus_kcore::slab::Id;

/// Name of the root task in the boot archive.
pub const INIT_PATH: &str = "bin/init";
/// Priority of the root task's first thread.
const INIT_PRIORITY: u8 = 20;
/// Memory kept out of the root task's quota for the kernel's own use (heap, stacks).
const KERNEL_RESERVE_MIN: u64 = 8 << 20;

/// Why the root task could not start.
#[derive(Debug)]
pub enum RootTaskError {
    /// The boot archive has no `bin/init`.
    NoInit,
    /// `bin/init` is not a loadable program.
    Load(nimbus_loader::LoadError),
    /// The kernel refused (out of memory, most likely).
    Kernel(Error),
}

impl core::fmt::Display for RootTaskError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoInit => write!(f, "the boot archive has no {INIT_PATH}"),
            Self::Load(e) => write!(f, "{INIT_PATH}: {e}"),
            Self::Kernel(e) => write!(f, "cannot create the root task: {e}"),
        }
    }
}

impl From<Error> for RootTaskError {
    fn from(e: Error) -> Self {
        Self::Kernel(e)
    }
}

/// A memory object with `bytes` copied in at `offset`, mapped into `process` at `va`.
fn load_region(
    k: &mut Kernel,
    process: Id,
    va: u64,
    pages: u64,
    offset: u64,
    bytes: &[u8],
    flags: PageFlags,
) -> Result<(), Error> {
    let memory = k.create_memory(process, pages, false)?;
    k.retain(ObjectRef::Memory(memory));
    let mut copied = 0usize;
    while copied < bytes.len() {
        let at = offset + copied as u64;
        let Some(pa) = k.memories.get(memory).and_then(|m| m.frame(at / PAGE_SIZE)) else {
            break;
        };
        let in_page = (at % PAGE_SIZE) as usize;
        let n = (PAGE_SIZE as usize - in_page).min(bytes.len() - copied);
        // SAFETY: the frame belongs to the memory object just created (not yet mapped anywhere)
        // and is reached through the linear map; the copy stays inside it.
        unsafe {
            core::ptr::copy_nonoverlapping(
                bytes[copied..].as_ptr(),
                (phys_to_virt(pa) + in_page as u64) as *mut u8,
                n,
            )
        };
        copied += n;
    }
    let result = k.map_range(
        process,
        va,
        pages * PAGE_SIZE,
        ObjectRef::Memory(memory),
        0,
        flags,
    );
    k.release(ObjectRef::Memory(memory));
    result
}

/// Lends the pages covering `range` to `process` as a read-only memory object handle.
fn lend(k: &mut Kernel, process: Id, range: Range) -> Result<(u64, u64), Error> {
    let base = range.start & !(PAGE_SIZE - 1);
    let pages = (range.end - base).div_ceil(PAGE_SIZE);
    let id = k.lend_memory(base, pages)?;
    let handle = k.install_handle(
        process,
        HandleEntry {
            object: ObjectRef::Memory(id),
            rights: Rights::READ | Rights::DUPLICATE | Rights::TRANSFER,
            badge: 0,
        },
    )?;
    Ok((u64::from(handle), range.start - base))
}

/// Creates the root task and makes its first thread runnable.
pub fn start(archive: &BootArchive, dtb: Range) -> Result<(), RootTaskError> {
    let image = archive
        .archive
        .file(INIT_PATH)
        .ok_or(RootTaskError::NoInit)?;
    let program = nimbus_loader::parse(image).map_err(RootTaskError::Load)?;
    let free = frames::free_frames() * PAGE_SIZE;
    let reserve = (free / 16).max(KERNEL_RESERVE_MIN).min(free / 2);
    let quota = Quota {
        memory_bytes: free - reserve,
        handles: 8192,
        threads: 1024,
        max_priority: 31,
        reserved: 0,
    };
    let mut k = object::lock();
    let process = k.create_process(None, "init", &quota, None)?;
    for segment in &program.segments {
        let bytes = program
            .segment_bytes(image, segment)
            .ok_or(RootTaskError::Load(nimbus_loader::LoadError::BadFileRange))?;
        let flags = PageFlags {
            write: segment.write,
            execute: segment.execute,
            device: false,
        };
        load_region(
            &mut k,
            process,
            segment.page_start,
            segment.page_len / PAGE_SIZE,
            segment.data_offset,
            bytes,
            flags,
        )?;
    }
    load_region(
        &mut k,
        process,
        STACK_TOP - MAIN_STACK_SIZE,
        MAIN_STACK_SIZE / PAGE_SIZE,
        0,
        &[],
        PageFlags::READ_WRITE,
    )?;
    load_region(
        &mut k,
        process,
        IPC_BUFFERS,
        1,
        0,
        &[],
        PageFlags::READ_WRITE,
    )?;

    let system = k.install_handle(
        process,
        HandleEntry {
            object: ObjectRef::System,
            rights: Rights::all(),
            badge: 0,
        },
    )?;
    let (archive_handle, archive_offset) = lend(&mut k, process, archive.range)?;
    let (dtb_handle, dtb_offset) = lend(&mut k, process, dtb)?;
    let own = k.install_handle(
        process,
        HandleEntry {
            object: ObjectRef::Process(process),
            rights: Rights::MANAGE | Rights::DUPLICATE | Rights::TRANSFER,
            badge: 0,
        },
    )?;
    let mut args = [0u64; 8];
    args[root_task::SYSTEM] = u64::from(system);
    args[root_task::ARCHIVE] = archive_handle;
    args[root_task::ARCHIVE_OFFSET] = archive_offset;
    args[root_task::ARCHIVE_LEN] = archive.range.len();
    args[root_task::DTB] = dtb_handle;
    args[root_task::DTB_OFFSET] = dtb_offset;
    args[root_task::DTB_LEN] = dtb.len();
    args[root_task::SELF] = u64::from(own);
    let thread = k.create_thread(
        process,
        UserContext::new(program.entry, STACK_TOP, &args),
        INIT_PRIORITY,
        None,
    )?;
    if let Some(t) = k.threads.get_mut(thread) {
        t.ipc_buffer = Some(IPC_BUFFERS);
    }
    k.start_thread(thread)?;
    Ok(())
}

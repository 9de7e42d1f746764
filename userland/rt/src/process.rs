//! Loading a program into a new process: segments, stack, IPC buffer and start block, all in
//! memory charged to the new process. init starts servers with it; the test suite and the app
//! sandbox start programs the same way.

use crate::sys;
use nimbus_abi::layout::{IPC_BUFFERS, MAIN_STACK_SIZE, MAP_AREA, STACK_TOP};
use nimbus_abi::object::ANY_CPU;
use nimbus_abi::rights::{MAP_EXEC, MAP_READ, MAP_WRITE};
use nimbus_abi::start::{START_INFO, StartInfo};
use nimbus_abi::{Error, Handle};
use nimbus_abi::{Quota, Rights};
use nimbus_loader::LoadError;
use zerocopy::IntoBytes;

/// Where the loading process maps memory it fills for another process.
const SCRATCH: u64 = MAP_AREA + (8 << 30);

/// Why a program could not be loaded.
#[derive(Debug)]
pub enum LoaderError {
    /// The image is not a loadable program.
    Image(LoadError),
    /// The kernel refused something (quota, most likely).
    Kernel(Error),
    /// The start block is full.
    StartBlock,
}

impl From<Error> for LoaderError {
    fn from(e: Error) -> Self {
        Self::Kernel(e)
    }
}

impl core::fmt::Display for LoaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Image(e) => write!(f, "{e}"),
            Self::Kernel(e) => write!(f, "{e}"),
            Self::StartBlock => write!(f, "the start block is full"),
        }
    }
}

/// A memory object of `len` bytes charged to `process`, with `bytes` at `offset`, mapped into
/// `process` at `va` with `perms`.
fn place(
    process: Handle,
    va: u64,
    len: u64,
    offset: u64,
    bytes: &[u8],
    perms: u64,
) -> Result<(), Error> {
    let memory = sys::mem_create_for(process, len, 0)?;
    let result = (|| {
        if !bytes.is_empty() {
            sys::mem_map(Handle::NONE, memory, SCRATCH, 0, len, MAP_READ | MAP_WRITE)?;
            // SAFETY: SCRATCH..SCRATCH+len was just mapped read-write for this copy alone and
            // `offset + bytes.len()` fits in it (the loader plans it so).
            unsafe {
                core::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    (SCRATCH + offset) as *mut u8,
                    bytes.len(),
                )
            };
            // SAFETY: nothing refers to the scratch mapping after the copy.
            unsafe { sys::mem_unmap(Handle::NONE, SCRATCH, len)? };
        }
        sys::mem_map(process, memory, va, 0, len, perms)
    })();
    let _ = sys::handle_close(memory);
    result
}

/// Loads `image` into `process` with `start` as its start block; returns the entry point.
pub fn load(process: Handle, image: &[u8], start: &StartInfo) -> Result<u64, LoaderError> {
    let program = nimbus_loader::parse(image).map_err(LoaderError::Image)?;
    for segment in &program.segments {
        let bytes = program
            .segment_bytes(image, segment)
            .ok_or(LoaderError::Image(LoadError::BadFileRange))?;
        let mut perms = MAP_READ;
        if segment.write {
            perms |= MAP_WRITE;
        }
        if segment.execute {
            perms |= MAP_EXEC;
        }
        place(
            process,
            segment.page_start,
            segment.page_len,
            segment.data_offset,
            bytes,
            perms,
        )?;
    }
    place(
        process,
        STACK_TOP - MAIN_STACK_SIZE,
        MAIN_STACK_SIZE,
        0,
        &[],
        MAP_READ | MAP_WRITE,
    )?;
    place(process, IPC_BUFFERS, 4096, 0, &[], MAP_READ | MAP_WRITE)?;
    place(process, START_INFO, 4096, 0, start.as_bytes(), MAP_READ)?;
    Ok(program.entry)
}

/// Creates a process running `image` with start block `start`: limits `quota`, faults and exit
/// reported to `supervisor` with `badge`, first thread at `priority`. Returns the process handle;
/// on failure nothing is left behind.
pub fn spawn(
    image: &[u8],
    start: &StartInfo,
    quota: &Quota,
    supervisor: Handle,
    badge: u64,
    priority: u8,
) -> Result<Handle, LoaderError> {
    let process = sys::process_create(start.name(), quota, supervisor, badge)?;
    match start_process(process, image, start, priority) {
        Ok(()) => Ok(process),
        Err(e) => {
            let _ = sys::process_kill(process);
            let _ = sys::handle_close(process);
            Err(e)
        }
    }
}

/// Loads `image` into the empty `process` and starts its first thread.
pub fn start_process(
    process: Handle,
    image: &[u8],
    start: &StartInfo,
    priority: u8,
) -> Result<(), LoaderError> {
    let entry = load(process, image, start)?;
    let thread = sys::thread_create(process, entry, STACK_TOP, 0, u64::from(priority), ANY_CPU)?;
    let started = sys::thread_start(thread);
    let _ = sys::handle_close(thread);
    Ok(started?)
}

/// Copies `handle` into `process` with `rights` and records it in `start` under `name`.
pub fn give(
    process: Handle,
    start: &mut StartInfo,
    name: &str,
    handle: Handle,
    rights: Rights,
    kind: u32,
) -> Result<Handle, LoaderError> {
    let granted = sys::handle_grant(process, handle, rights)?;
    start
        .push(name, granted.0, kind)
        .map_err(|_| LoaderError::StartBlock)?;
    Ok(granted)
}

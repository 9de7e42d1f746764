//! Threads: each has its own stack, IPC buffer page and thread data, found through TPIDR_EL0.
//!
//! Stacks sit below the main stack, a megabyte apart, so the unmapped gap under each is its guard.
//! A thread's slot (stack, IPC buffer page, thread data) is freed by [`JoinHandle::join`]: the
//! kernel signals the joiner only once the thread has ended (ThreadExit with a notification), so
//! nothing can still be running on that stack. A thread that is never joined keeps its slot until
//! the process exits.

use crate::sys;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::Cell;
use core::sync::atomic::{AtomicU64, Ordering};
use nimbus_abi::ipc::IpcBuffer;
use nimbus_abi::layout::{
    IPC_BUFFER_STRIDE, IPC_BUFFERS, STACK_TOP, THREAD_STACK_SIZE, THREAD_STACK_STRIDE,
};
use nimbus_abi::object::ANY_CPU;
use nimbus_abi::rights::{MAP_READ, MAP_WRITE};
use nimbus_abi::syscall::TIMEOUT_FOREVER;
use nimbus_abi::{Error, Handle};

/// What each thread keeps about itself.
pub struct ThreadData {
    ipc_buffer: u64,
    index: u64,
    buffer_busy: Cell<bool>,
}

struct MainThread(ThreadData);

// SAFETY: the main thread's data is only ever reached through TPIDR_EL0 of the main thread.
unsafe impl Sync for MainThread {}

static MAIN: MainThread = MainThread(ThreadData {
    ipc_buffer: IPC_BUFFERS,
    index: 0,
    buffer_busy: Cell::new(false),
});
static NEXT_INDEX: AtomicU64 = AtomicU64::new(1);

fn set_thread_pointer(data: *const ThreadData) {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: TPIDR_EL0 is the thread pointer register, reserved for this runtime.
    unsafe {
        core::arch::asm!("msr tpidr_el0, {0}", in(reg) data as u64, options(nostack, preserves_flags));
    }
    #[cfg(not(target_arch = "aarch64"))]
    let _ = data;
}

fn current() -> Option<&'static ThreadData> {
    #[cfg(target_arch = "aarch64")]
    {
        let ptr: u64;
        // SAFETY: reading the thread pointer has no side effects.
        unsafe {
            core::arch::asm!("mrs {0}, tpidr_el0", out(reg) ptr, options(nostack, nomem, preserves_flags))
        };
        // SAFETY: TPIDR_EL0 is only set by this module, to a ThreadData that lives as long as
        // its thread (the static MAIN, or a leaked box).
        (ptr != 0).then(|| unsafe { &*(ptr as *const ThreadData) })
    }
    #[cfg(not(target_arch = "aarch64"))]
    None
}

/// Sets up the main thread (its IPC buffer page was mapped by whoever created the process).
pub fn init_main() -> Result<(), Error> {
    set_thread_pointer(&MAIN.0);
    sys::set_ipc_buffer(IPC_BUFFERS)
}

/// Index of the calling thread (0 for the main thread).
pub fn index() -> u64 {
    current().map_or(0, |d| d.index)
}

/// Runs `f` with the calling thread's IPC buffer (not re-entrantly: a nested use gets Busy).
pub fn with_ipc_buffer<R>(f: impl FnOnce(&mut IpcBuffer) -> R) -> Result<R, Error> {
    let data = current().ok_or(Error::NoIpcBuffer)?;
    if data.buffer_busy.replace(true) {
        return Err(Error::Busy);
    }
    // SAFETY: the buffer page is mapped read-write for this thread alone, and the busy flag makes
    // this the only reference to it for the duration of `f`.
    let buffer = unsafe { &mut *(data.ipc_buffer as *mut IpcBuffer) };
    let result = f(buffer);
    data.buffer_busy.set(false);
    Ok(result)
}

/// Thread slots whose thread was joined, ready for reuse.
static FREE_SLOTS: spin::Mutex<Vec<u64>> = spin::Mutex::new(Vec::new());

/// The `done` bit: the thread ran its closure.
const RAN: u64 = 1;
/// The `done` bit: the thread could not start (no IPC buffer).
const NOT_STARTED: u64 = 2;

/// Where thread slot `index` keeps its stack (top) and IPC buffer.
fn slot_addresses(index: u64) -> Result<(u64, u64), Error> {
    let stack_top = index
        .checked_mul(THREAD_STACK_STRIDE)
        .and_then(|offset| STACK_TOP.checked_sub(offset))
        .ok_or(Error::QuotaExceeded)?;
    let ipc_buffer = index
        .checked_mul(IPC_BUFFER_STRIDE)
        .and_then(|offset| IPC_BUFFERS.checked_add(offset))
        .ok_or(Error::QuotaExceeded)?;
    Ok((stack_top, ipc_buffer))
}

/// A slot for a new thread: a freed one if there is one.
fn take_slot() -> u64 {
    FREE_SLOTS
        .lock()
        .pop()
        .unwrap_or_else(|| NEXT_INDEX.fetch_add(1, Ordering::Relaxed))
}

/// Unmaps what slot `index` mapped and makes it reusable.
///
/// # Safety
///
/// No thread may run on the slot's stack or use its IPC buffer any more.
unsafe fn free_slot(index: u64) {
    if let Ok((stack_top, ipc_buffer)) = slot_addresses(index) {
        // SAFETY: our caller guarantees nothing uses the stack or the buffer; the unmapping
        // frees their memory (the mappings held the only references).
        unsafe {
            let _ = sys::mem_unmap(
                Handle::NONE,
                stack_top - THREAD_STACK_SIZE,
                THREAD_STACK_SIZE,
            );
            let _ = sys::mem_unmap(Handle::NONE, ipc_buffer, 4096);
        }
    }
    FREE_SLOTS.lock().push(index);
}

/// Waits for a spawned thread to finish.
pub struct JoinHandle {
    done: Handle,
    thread: Handle,
    index: u64,
    /// The thread's `ThreadData` (a leaked box, reclaimed by `join`).
    data: usize,
}

impl JoinHandle {
    /// Blocks until the thread has run its closure and ended, then frees its stack, IPC buffer
    /// and thread data. Fails if waiting failed or the thread could not start.
    pub fn join(self) -> Result<(), Error> {
        let bits = sys::wait(self.done, TIMEOUT_FOREVER)?;
        let _ = sys::handle_close(self.done);
        let _ = sys::handle_close(self.thread);
        // SAFETY: the kernel signalled `done` after the thread had ended, so nothing runs on
        // its stack or uses its buffer or its data any more; `data` came from Box::into_raw in
        // `spawn` and nothing else frees it.
        unsafe {
            free_slot(self.index);
            drop(Box::from_raw(self.data as *mut ThreadData));
        }
        if bits & NOT_STARTED != 0 {
            return Err(Error::NoIpcBuffer);
        }
        Ok(())
    }

    /// The kernel handle of the thread.
    pub fn thread(&self) -> Handle {
        self.thread
    }
}

struct Spawned {
    body: Box<dyn FnOnce() + Send>,
    data: *const ThreadData,
    done: Handle,
}

extern "C" fn trampoline(arg: u64) -> ! {
    // SAFETY: `arg` is the Box<Spawned> leaked by `spawn` for this thread alone.
    let spawned = unsafe { Box::from_raw(arg as *mut Spawned) };
    let Spawned { body, data, done } = *spawned;
    // SAFETY: `data` stays allocated until `join` has seen this thread end.
    let data: &ThreadData = unsafe { &*data };
    set_thread_pointer(data);
    if sys::set_ipc_buffer(data.ipc_buffer).is_err() {
        sys::thread_exit_signalling(1, done, NOT_STARTED);
    }
    body();
    // The kernel signals `done` once the thread is gone, so `join` means ended.
    sys::thread_exit_signalling(0, done, RAN)
}

fn map_fresh(va: u64, len: u64) -> Result<(), Error> {
    let memory = sys::mem_create(len, 0)?;
    let result = sys::mem_map(Handle::NONE, memory, va, 0, len, MAP_READ | MAP_WRITE);
    let _ = sys::handle_close(memory);
    result
}

/// Starts a thread running `body` at `priority`, pinned to `cpu` if given.
pub fn spawn(
    priority: u8,
    cpu: Option<usize>,
    body: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle, Error> {
    let index = take_slot();
    let started = start_in_slot(index, priority, cpu, Box::new(body));
    if started.is_err() {
        // SAFETY: no thread was started in the slot.
        unsafe { free_slot(index) };
    }
    started
}

/// Maps slot `index` and starts a thread in it; on failure everything but the slot's mappings
/// is undone (the caller frees the slot).
fn start_in_slot(
    index: u64,
    priority: u8,
    cpu: Option<usize>,
    body: Box<dyn FnOnce() + Send>,
) -> Result<JoinHandle, Error> {
    let (stack_top, ipc_buffer) = slot_addresses(index)?;
    map_fresh(stack_top - THREAD_STACK_SIZE, THREAD_STACK_SIZE)?;
    map_fresh(ipc_buffer, 4096)?;
    let done = sys::notification_create()?;
    let data = Box::into_raw(Box::new(ThreadData {
        ipc_buffer,
        index,
        buffer_busy: Cell::new(false),
    }));
    let arg = Box::into_raw(Box::new(Spawned { body, data, done })) as u64;
    let cpu = cpu.map_or(ANY_CPU, |c| c as u64);
    let created = sys::thread_create(
        Handle::NONE,
        trampoline as *const () as u64,
        stack_top,
        arg,
        u64::from(priority),
        cpu,
    );
    let started = created.and_then(|thread| match sys::thread_start(thread) {
        Ok(()) => Ok(thread),
        Err(e) => {
            let _ = sys::handle_close(thread);
            Err(e)
        }
    });
    match started {
        Ok(thread) => Ok(JoinHandle {
            done,
            thread,
            index,
            data: data as usize,
        }),
        Err(e) => {
            // SAFETY: no thread runs with these, so this is their only owner.
            unsafe {
                drop(Box::from_raw(arg as *mut Spawned));
                drop(Box::from_raw(data));
            }
            let _ = sys::handle_close(done);
            Err(e)
        }
    }
}

//! Threads: each has its own stack, IPC buffer page and thread data, found through TPIDR_EL0.
//!
//! Stacks sit below the main stack, a megabyte apart, so the unmapped gap under each is its guard.
//! A thread's stack and buffer are kept until the process exits: a thread may still be on its
//! stack between signalling that it finished and its exit.

use crate::sys;
use alloc::boxed::Box;
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

/// Waits for a spawned thread to finish.
pub struct JoinHandle {
    done: Handle,
    thread: Handle,
}

impl JoinHandle {
    /// Blocks until the thread has run its closure and ended.
    pub fn join(self) -> Result<(), Error> {
        sys::wait(self.done, TIMEOUT_FOREVER)?;
        let _ = sys::handle_close(self.done);
        let _ = sys::handle_close(self.thread);
        Ok(())
    }

    /// The kernel handle of the thread.
    pub fn thread(&self) -> Handle {
        self.thread
    }
}

struct Spawned {
    body: Box<dyn FnOnce() + Send>,
    data: ThreadData,
    done: Handle,
}

extern "C" fn trampoline(arg: u64) -> ! {
    // SAFETY: `arg` is the Box<Spawned> leaked by `spawn` for this thread alone.
    let spawned = unsafe { Box::from_raw(arg as *mut Spawned) };
    let Spawned { body, data, done } = *spawned;
    let data: &'static ThreadData = Box::leak(Box::new(data));
    set_thread_pointer(data);
    if sys::set_ipc_buffer(data.ipc_buffer).is_err() {
        sys::thread_exit(1);
    }
    body();
    // The kernel signals `done` once the thread is gone, so `join` means ended.
    sys::thread_exit_signalling(0, done, 1)
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
    let index = NEXT_INDEX.fetch_add(1, Ordering::Relaxed);
    let stack_top = STACK_TOP
        .checked_sub(
            index
                .checked_mul(THREAD_STACK_STRIDE)
                .ok_or(Error::QuotaExceeded)?,
        )
        .ok_or(Error::QuotaExceeded)?;
    let ipc_buffer = IPC_BUFFERS + index * IPC_BUFFER_STRIDE;
    map_fresh(stack_top - THREAD_STACK_SIZE, THREAD_STACK_SIZE)?;
    map_fresh(ipc_buffer, 4096)?;
    let done = sys::notification_create()?;
    let spawned = Box::new(Spawned {
        body: Box::new(body),
        data: ThreadData {
            ipc_buffer,
            index,
            buffer_busy: Cell::new(false),
        },
        done,
    });
    let arg = Box::into_raw(spawned) as u64;
    let cpu = cpu.map_or(ANY_CPU, |c| c as u64);
    let thread = match sys::thread_create(
        Handle::NONE,
        trampoline as *const () as u64,
        stack_top,
        arg,
        u64::from(priority),
        cpu,
    ) {
        Ok(t) => t,
        Err(e) => {
            // SAFETY: the thread was never created, so this is still the only owner.
            drop(unsafe { Box::from_raw(arg as *mut Spawned) });
            return Err(e);
        }
    };
    sys::thread_start(thread)?;
    Ok(JoinHandle { done, thread })
}

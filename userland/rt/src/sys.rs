//! System calls, one typed function each (see `nimbus_abi::syscall` for the register
//! conventions). The kernel checks every argument; these wrappers only shape them.

use nimbus_abi::info::CONTROL_SHUTDOWN;
use nimbus_abi::object::ProcessState;
use nimbus_abi::{Error, Handle, MessageInfo, ObjectType, Quota, Rights, Syscall};

/// Makes system call `call` with `args`; returns x0..x7.
#[cfg(target_arch = "aarch64")]
#[inline(always)]
pub fn raw(call: Syscall, args: [u64; 8]) -> [u64; 8] {
    let [
        mut x0,
        mut x1,
        mut x2,
        mut x3,
        mut x4,
        mut x5,
        mut x6,
        mut x7,
    ] = args;
    // SAFETY: `svc` enters the kernel, which validates every argument, may write only memory the
    // arguments name (and only where this process may write), and preserves every register but
    // x0..x7.
    unsafe {
        core::arch::asm!(
            "svc #0",
            inout("x0") x0, inout("x1") x1, inout("x2") x2, inout("x3") x3,
            inout("x4") x4, inout("x5") x5, inout("x6") x6, inout("x7") x7,
            in("x8") call as u64,
            options(nostack),
        );
    }
    [x0, x1, x2, x3, x4, x5, x6, x7]
}

/// On the host (unit tests of code built on this crate) there is no kernel: every call fails.
#[cfg(not(target_arch = "aarch64"))]
pub fn raw(call: Syscall, args: [u64; 8]) -> [u64; 8] {
    let _ = call;
    let mut out = args;
    out[0] = Error::UnknownSyscall as u64;
    out
}

fn call(call: Syscall, args: [u64; 8]) -> Result<[u64; 8], Error> {
    let out = raw(call, args);
    nimbus_abi::error::check(out[0]).map(|()| out)
}

fn a(args: &[u64]) -> [u64; 8] {
    let mut out = [0; 8];
    out[..args.len()].copy_from_slice(args);
    out
}

fn handle(value: u64) -> Handle {
    Handle(value as u32)
}

/// Does nothing in the kernel.
pub fn nop() {
    raw(Syscall::Nop, [0; 8]);
}

/// Nanoseconds since boot.
pub fn clock_now() -> u64 {
    raw(Syscall::ClockNow, [0; 8])[1]
}

/// Gives up the rest of the time slice.
pub fn yield_now() {
    raw(Syscall::Yield, [0; 8]);
}

/// Sleeps at least `ns` nanoseconds.
pub fn sleep(ns: u64) {
    raw(Syscall::Sleep, a(&[ns]));
}

/// Ends the calling thread.
pub fn thread_exit(code: i32) -> ! {
    loop {
        raw(Syscall::ThreadExit, a(&[code as u64]));
    }
}

/// Ends the calling thread and then signals `bits` on `notification`, so a waiter knows the
/// thread has ended. If the kernel refuses the notification the thread just ends.
pub fn thread_exit_signalling(code: i32, notification: Handle, bits: u64) -> ! {
    raw(
        Syscall::ThreadExit,
        a(&[code as u64, u64::from(notification.0), bits]),
    );
    thread_exit(code)
}

/// Ends the calling process.
pub fn process_exit(code: i32) -> ! {
    loop {
        raw(Syscall::ProcessExit, a(&[code as u64]));
    }
}

/// Closes a handle.
pub fn handle_close(h: Handle) -> Result<(), Error> {
    call(Syscall::HandleClose, a(&[h.raw()])).map(drop)
}

/// A new handle to the same object with fewer (or the same) rights.
pub fn handle_duplicate(h: Handle, rights: Rights) -> Result<Handle, Error> {
    call(
        Syscall::HandleDuplicate,
        a(&[h.raw(), u64::from(rights.bits())]),
    )
    .map(|r| handle(r[1]))
}

/// A badged copy of an endpoint or notification handle.
pub fn handle_mint(h: Handle, rights: Rights, badge: u64) -> Result<Handle, Error> {
    call(
        Syscall::HandleMint,
        a(&[h.raw(), u64::from(rights.bits()), badge]),
    )
    .map(|r| handle(r[1]))
}

/// What a handle refers to: type, rights, badge.
pub fn handle_info(h: Handle) -> Result<(Option<ObjectType>, Rights, u64), Error> {
    call(Syscall::HandleInfo, a(&[h.raw()])).map(|r| {
        (
            ObjectType::from_code(r[1]),
            Rights::from_bits_truncate(r[2] as u32),
            r[3],
        )
    })
}

/// Copies a handle into another process; returns its value there.
pub fn handle_grant(process: Handle, h: Handle, rights: Rights) -> Result<Handle, Error> {
    call(
        Syscall::HandleGrant,
        a(&[process.raw(), h.raw(), u64::from(rights.bits())]),
    )
    .map(|r| handle(r[1]))
}

/// A new endpoint.
pub fn endpoint_create() -> Result<Handle, Error> {
    call(Syscall::EndpointCreate, [0; 8]).map(|r| handle(r[1]))
}

/// A message as it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Label, data length, handle count.
    pub info: MessageInfo,
    /// Register words.
    pub words: [u64; 4],
    /// Badge of the sender's handle (0 for replies).
    pub badge: u64,
}

fn received(r: [u64; 8]) -> Received {
    Received {
        info: MessageInfo(r[1]),
        words: [r[2], r[3], r[4], r[5]],
        badge: r[6],
    }
}

/// The registers of Call, Send and ReplyRecv: handle, info, four words, timeout.
fn message(h: Handle, info: MessageInfo, words: [u64; 4], timeout: u64) -> [u64; 8] {
    let [w0, w1, w2, w3] = words;
    [h.raw(), info.0, w0, w1, w2, w3, timeout, 0]
}

/// Sends and waits for the reply.
pub fn ipc_call(
    h: Handle,
    info: MessageInfo,
    words: [u64; 4],
    timeout: u64,
) -> Result<Received, Error> {
    call(Syscall::Call, message(h, info, words, timeout)).map(received)
}

/// Sends without waiting for a reply.
pub fn ipc_send(h: Handle, info: MessageInfo, words: [u64; 4], timeout: u64) -> Result<(), Error> {
    call(Syscall::Send, message(h, info, words, timeout)).map(drop)
}

/// Waits for a message.
pub fn ipc_recv(h: Handle, timeout: u64) -> Result<Received, Error> {
    call(Syscall::Recv, a(&[h.raw(), timeout])).map(received)
}

/// Answers the last call received.
pub fn ipc_reply(info: MessageInfo, words: [u64; 4]) -> Result<(), Error> {
    call(
        Syscall::Reply,
        a(&[0, info.0, words[0], words[1], words[2], words[3]]),
    )
    .map(drop)
}

/// Answers the last call and waits for the next message.
pub fn ipc_reply_recv(
    h: Handle,
    info: MessageInfo,
    words: [u64; 4],
    timeout: u64,
) -> Result<Received, Error> {
    call(Syscall::ReplyRecv, message(h, info, words, timeout)).map(received)
}

/// A new notification.
pub fn notification_create() -> Result<Handle, Error> {
    call(Syscall::NotificationCreate, [0; 8]).map(|r| handle(r[1]))
}

/// Sets bits on a notification.
pub fn signal(h: Handle, bits: u64) -> Result<(), Error> {
    call(Syscall::Signal, a(&[h.raw(), bits])).map(drop)
}

/// Waits for bits on a notification.
pub fn wait(h: Handle, timeout: u64) -> Result<u64, Error> {
    call(Syscall::Wait, a(&[h.raw(), timeout])).map(|r| r[1])
}

/// A zeroed memory object of `size` bytes, charged to this process.
pub fn mem_create(size: u64, flags: u64) -> Result<Handle, Error> {
    call(Syscall::MemCreate, a(&[size, flags, 0])).map(|r| handle(r[1]))
}

/// A zeroed memory object of `size` bytes charged to `process` (needs MANAGE on it).
pub fn mem_create_for(process: Handle, size: u64, flags: u64) -> Result<Handle, Error> {
    call(Syscall::MemCreate, a(&[size, flags, process.raw()])).map(|r| handle(r[1]))
}

/// Maps part of a memory object or MMIO region into `process` (Handle::NONE: this process).
/// Safe: the kernel refuses to map over anything already mapped.
pub fn mem_map(
    process: Handle,
    object: Handle,
    va: u64,
    offset: u64,
    len: u64,
    perms: u64,
) -> Result<(), Error> {
    call(
        Syscall::MemMap,
        a(&[process.raw(), object.raw(), va, offset, len, perms]),
    )
    .map(drop)
}

/// Removes a mapping.
///
/// # Safety
///
/// For this process: nothing may still use the memory (no references, no stack, no heap).
pub unsafe fn mem_unmap(process: Handle, va: u64, len: u64) -> Result<(), Error> {
    call(Syscall::MemUnmap, a(&[process.raw(), va, len])).map(drop)
}

/// Physical address of a DMA memory object.
pub fn mem_phys_addr(h: Handle) -> Result<u64, Error> {
    call(Syscall::MemPhysAddr, a(&[h.raw()])).map(|r| r[1])
}

/// A new, empty process.
pub fn process_create(
    name: &str,
    quota: &Quota,
    supervisor: Handle,
    badge: u64,
) -> Result<Handle, Error> {
    let args = [
        name.as_ptr() as u64,
        name.len() as u64,
        quota as *const Quota as u64,
        supervisor.raw(),
        badge,
        0,
        0,
        0,
    ];
    call(Syscall::ProcessCreate, args).map(|r| handle(r[1]))
}

/// Stops a process and reclaims everything it holds.
pub fn process_kill(h: Handle) -> Result<(), Error> {
    call(Syscall::ProcessKill, a(&[h.raw()])).map(drop)
}

/// A process's state and exit code.
pub fn process_status(h: Handle) -> Result<(ProcessState, u64), Error> {
    call(Syscall::ProcessStatus, a(&[h.raw()])).and_then(|r| {
        ProcessState::from_code(r[1])
            .map(|s| (s, r[2]))
            .ok_or(Error::InvalidArgument)
    })
}

/// A suspended thread in `process`.
pub fn thread_create(
    process: Handle,
    entry: u64,
    stack_top: u64,
    arg: u64,
    priority: u64,
    cpu: u64,
) -> Result<Handle, Error> {
    call(
        Syscall::ThreadCreate,
        a(&[process.raw(), entry, stack_top, arg, priority, cpu]),
    )
    .map(|r| handle(r[1]))
}

/// Makes a created thread runnable.
pub fn thread_start(h: Handle) -> Result<(), Error> {
    call(Syscall::ThreadStart, a(&[h.raw()])).map(drop)
}

/// Registers the calling thread's IPC buffer.
pub fn set_ipc_buffer(va: u64) -> Result<(), Error> {
    call(Syscall::ThreadSetIpcBuffer, a(&[va])).map(drop)
}

/// A handle for device interrupt `intid`.
pub fn irq_create(system: Handle, intid: u32) -> Result<Handle, Error> {
    call(Syscall::IrqCreate, a(&[system.raw(), u64::from(intid)])).map(|r| handle(r[1]))
}

/// Routes an interrupt to notification bits.
pub fn irq_bind(irq: Handle, notification: Handle, bits: u64) -> Result<(), Error> {
    call(Syscall::IrqBind, a(&[irq.raw(), notification.raw(), bits])).map(drop)
}

/// Re-enables an interrupt after servicing the device.
pub fn irq_ack(irq: Handle) -> Result<(), Error> {
    call(Syscall::IrqAck, a(&[irq.raw()])).map(drop)
}

/// A handle for device registers.
pub fn mmio_create(system: Handle, pa: u64, size: u64) -> Result<Handle, Error> {
    call(Syscall::MmioCreate, a(&[system.raw(), pa, size])).map(|r| handle(r[1]))
}

/// Writes text to the kernel console.
pub fn debug_write(system: Handle, text: &[u8]) -> Result<(), Error> {
    call(
        Syscall::DebugWrite,
        a(&[system.raw(), text.as_ptr() as u64, text.len() as u64]),
    )
    .map(drop)
}

/// Kernel statistics into `buf`; returns bytes written.
pub fn system_info(system: Handle, kind: u64, buf: &mut [u8]) -> Result<usize, Error> {
    call(
        Syscall::SystemInfo,
        a(&[
            system.raw(),
            kind,
            buf.as_mut_ptr() as u64,
            buf.len() as u64,
        ]),
    )
    .map(|r| r[1] as usize)
}

/// A kernel control operation.
pub fn system_control(system: Handle, op: u64, arg: u64) -> Result<(), Error> {
    call(Syscall::SystemControl, a(&[system.raw(), op, arg])).map(drop)
}

/// Powers off (under QEMU: ends the run with `status`).
pub fn shutdown(system: Handle, status: u64) -> Result<(), Error> {
    system_control(system, CONTROL_SHUTDOWN, status)
}

//! System calls: decoding the registers of the calling thread, checking its handles and rights,
//! and doing the work. Every value in a register is untrusted: handles are looked up in the
//! caller's own table (so a process reaches only what it holds), sizes and addresses are checked
//! before use, and user memory is reached only through `uaccess`.

mod handles;
mod ipc;
mod memory;
mod process;
mod system;

use crate::object::{Kernel, ObjectRef};
use nimbus_abi::{Error, Rights, Syscall};
use nimbus_kcore::handles::HandleEntry;
use nimbus_kcore::slab::Id;

/// What a system call left for its caller.
pub enum Outcome {
    /// Success with these results for x1.. (x0 = 0).
    Values([u64; 6], usize),
    /// The handler already wrote the caller's registers, or the caller is blocked and will get
    /// its results when it wakes.
    Written,
}

/// Success without results.
pub fn done() -> Result<Outcome, Error> {
    Ok(Outcome::Values([0; 6], 0))
}

/// Success with results for x1, x2, ...
pub fn values(results: &[u64]) -> Result<Outcome, Error> {
    let mut regs = [0; 6];
    let n = results.len().min(6);
    regs[..n].copy_from_slice(&results[..n]);
    Ok(Outcome::Values(regs, n))
}

/// One system call being handled.
pub struct Context<'k> {
    /// All kernel state (the big lock is held).
    pub k: &'k mut Kernel,
    /// The CPU it came in on.
    pub cpu: usize,
    /// The calling thread (current on `cpu`).
    pub thread: Id,
    /// Its process.
    pub process: Id,
    /// x0..x7.
    pub args: [u64; 8],
}

impl Context<'_> {
    /// The handle-table entry for the handle in a register.
    pub fn entry(&self, handle: u64) -> Result<HandleEntry<ObjectRef>, Error> {
        let handle = u32::try_from(handle).map_err(|_| Error::BadHandle)?;
        let p = self.k.processes.get(self.process).ok_or(Error::Dead)?;
        p.handles.get(handle).copied().ok_or(Error::BadHandle)
    }

    /// The entry, which must carry `rights`.
    pub fn entry_with(&self, handle: u64, rights: Rights) -> Result<HandleEntry<ObjectRef>, Error> {
        let entry = self.entry(handle)?;
        if !entry.rights.contains(rights) {
            return Err(Error::AccessDenied);
        }
        Ok(entry)
    }

    /// A process handle with `rights`, or the caller itself for handle 0.
    pub fn process_or_self(&self, handle: u64, rights: Rights) -> Result<Id, Error> {
        if handle == 0 {
            return Ok(self.process);
        }
        match self.entry_with(handle, rights)?.object {
            ObjectRef::Process(id) => Ok(id),
            _ => Err(Error::WrongType),
        }
    }

    /// The system object, with `rights`.
    pub fn system(&self, handle: u64, rights: Rights) -> Result<(), Error> {
        match self.entry_with(handle, rights)?.object {
            ObjectRef::System => Ok(()),
            _ => Err(Error::WrongType),
        }
    }

    /// Gives the caller a new handle to `object`.
    pub fn new_handle(
        &mut self,
        object: ObjectRef,
        rights: Rights,
        badge: u64,
    ) -> Result<u64, Error> {
        let handle = self.k.install_handle(
            self.process,
            HandleEntry {
                object,
                rights,
                badge,
            },
        )?;
        Ok(u64::from(handle))
    }
}

/// Handles the system call the current thread of `cpu` made.
pub fn handle(k: &mut Kernel, cpu: usize, thread: Id) {
    let Some(t) = k.threads.get(thread) else {
        return;
    };
    let number = t.context.x[8];
    // Element by element: a slice copy would be a call to the (slow) out-of-line memcpy.
    let args: [u64; 8] = core::array::from_fn(|i| t.context.x[i]);
    let process = t.process;
    let mut ctx = Context {
        k,
        cpu,
        thread,
        process,
        args,
    };
    let result = match Syscall::from_number(number) {
        Some(call) => dispatch(&mut ctx, call),
        None => Err(Error::UnknownSyscall),
    };
    let Some(t) = ctx.k.threads.get_mut(thread) else {
        return;
    };
    match result {
        Ok(Outcome::Values(regs, n)) => {
            t.context.x[0] = 0;
            for (slot, value) in t.context.x[1..].iter_mut().zip(regs).take(n) {
                *slot = value;
            }
        }

        Ok(Outcome::Written) => {}
        Err(e) => t.context.x[0] = e as u64,
    }
}

fn dispatch(ctx: &mut Context<'_>, call: Syscall) -> Result<Outcome, Error> {
    use Syscall as S;
    match call {
        S::Nop => done(),
        S::ClockNow => values(&[crate::time::since_entry_ns()]),
        S::Yield => process::yield_now(ctx),
        S::ThreadExit => process::thread_exit(ctx),
        S::ProcessExit => process::process_exit(ctx),
        S::Sleep => process::sleep(ctx),
        S::HandleClose => handles::close(ctx),
        S::HandleDuplicate => handles::duplicate(ctx),
        S::HandleMint => handles::mint(ctx),
        S::HandleInfo => handles::info(ctx),
        S::HandleGrant => handles::grant(ctx),
        S::EndpointCreate => ipc::endpoint_create(ctx),
        S::Call => ipc::send(ctx, true),
        S::Send => ipc::send(ctx, false),
        S::Recv => ipc::recv(ctx),
        S::Reply => ipc::reply(ctx),
        S::ReplyRecv => ipc::reply_recv(ctx),
        S::NotificationCreate => ipc::notification_create(ctx),
        S::Signal => ipc::signal(ctx),
        S::Wait => ipc::wait(ctx),
        S::MemCreate => memory::create(ctx),
        S::MemMap => memory::map(ctx),
        S::MemUnmap => memory::unmap(ctx),
        S::MemPhysAddr => memory::phys_addr(ctx),
        S::ProcessCreate => process::process_create(ctx),
        S::ProcessKill => process::process_kill(ctx),
        S::ProcessStatus => process::process_status(ctx),
        S::ThreadCreate => process::thread_create(ctx),
        S::ThreadStart => process::thread_start(ctx),
        S::ThreadSetIpcBuffer => process::set_ipc_buffer(ctx),
        S::IrqCreate => system::irq_create(ctx),
        S::IrqBind => system::irq_bind(ctx),
        S::IrqAck => system::irq_ack(ctx),
        S::MmioCreate => system::mmio_create(ctx),
        S::DebugWrite => system::debug_write(ctx),
        S::SystemInfo => system::info(ctx),
        S::SystemControl => system::control(ctx),
    }
}

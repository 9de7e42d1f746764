//! Processes and threads.

use super::{Context, Outcome, done, values};
use crate::arch::aarch64::user::UserContext;
use crate::object::ObjectRef;
use crate::object::process::ProcState;
use crate::object::thread::Block;
use crate::smp;
use nimbus_abi::fault::ExitKind;
use nimbus_abi::object::{ANY_CPU, MAX_PRIORITY, ProcessState};
use nimbus_abi::{Error, Quota, Rights};
use zerocopy::FromBytes;

const PROCESS_RIGHTS: Rights = Rights::MANAGE
    .union(Rights::DUPLICATE)
    .union(Rights::TRANSFER);
const THREAD_RIGHTS: Rights = Rights::MANAGE
    .union(Rights::DUPLICATE)
    .union(Rights::TRANSFER);
/// Longest process name accepted (longer names are cut to 32 bytes).
const MAX_NAME: u64 = 64;

pub fn yield_now(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    if let Some(c) = ctx.k.sched.cpus.get_mut(ctx.cpu) {
        c.resched = true;
        c.slice_end = 0;
    }
    done()
}

pub fn thread_exit(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let code = ctx.args[0];
    // An optional notification to signal once the thread is gone: how a joiner knows it has
    // really ended, not just finished its work.
    let signal_on_exit = match ctx.args[1] {
        0 => None,
        handle => {
            let entry = ctx.entry_with(handle, Rights::SIGNAL)?;
            let ObjectRef::Notification(id) = entry.object else {
                return Err(Error::WrongType);
            };
            let bits = ctx.args[2] | entry.badge;
            if bits == 0 {
                return Err(Error::InvalidArgument);
            }
            Some((id, bits))
        }
    };
    ctx.k.kill_thread(ctx.thread);
    if let Some((notification, bits)) = signal_on_exit {
        ctx.k.signal(notification, bits);
    }

    let last = ctx
        .k
        .processes
        .get(ctx.process)
        .is_some_and(|p| p.threads.is_empty());
    if last {
        ctx.k
            .terminate_process(ctx.process, code, ExitKind::Exited, true);
    }
    Ok(Outcome::Written)
}

pub fn process_exit(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    ctx.k
        .terminate_process(ctx.process, ctx.args[0], ExitKind::Exited, true);
    Ok(Outcome::Written)
}

pub fn sleep(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let ns = ctx.args[0];
    if ns == 0 {
        return yield_now(ctx);
    }
    ctx.k.set_status(ctx.thread, Ok(()));
    ctx.k.block_current(ctx.cpu, Block::Sleep, ns);
    Ok(Outcome::Written)
}

pub fn process_create(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let [name_ptr, name_len, quota_ptr, h_supervisor, badge, ..] = ctx.args;
    let mut name_buf = [0u8; MAX_NAME as usize];
    let name_len = name_len.min(MAX_NAME) as usize;
    ctx.k
        .copy_from_user(ctx.process, name_ptr, &mut name_buf[..name_len])?;
    let name = core::str::from_utf8(&name_buf[..name_len]).map_err(|_| Error::InvalidArgument)?;
    let mut quota_bytes = [0u8; core::mem::size_of::<Quota>()];
    ctx.k
        .copy_from_user(ctx.process, quota_ptr, &mut quota_bytes)?;
    let quota = Quota::read_from_bytes(&quota_bytes).map_err(|_| Error::InvalidArgument)?;
    let supervisor = if h_supervisor == 0 {
        None
    } else {
        match ctx.entry_with(h_supervisor, Rights::SEND)?.object {
            ObjectRef::Endpoint(id) => Some((id, badge)),
            _ => return Err(Error::WrongType),
        }
    };
    let id = ctx
        .k
        .create_process(Some(ctx.process), name, &quota, supervisor)?;
    match ctx.new_handle(ObjectRef::Process(id), PROCESS_RIGHTS, 0) {
        Ok(h) => values(&[h]),
        Err(e) => {
            ctx.k.terminate_process(id, 0, ExitKind::Killed, false);
            Err(e)
        }
    }
}

pub fn process_kill(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let ObjectRef::Process(id) = ctx.entry_with(ctx.args[0], Rights::MANAGE)?.object else {
        return Err(Error::WrongType);
    };
    ctx.k.terminate_process(id, 0, ExitKind::Killed, false);
    if id == ctx.process {
        return Ok(Outcome::Written);
    }
    done()
}

pub fn process_status(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let ObjectRef::Process(id) = ctx.entry_with(ctx.args[0], Rights::MANAGE)?.object else {
        return Err(Error::WrongType);
    };
    let p = ctx.k.processes.get(id).ok_or(Error::Dead)?;
    let state = match p.state {
        ProcState::Running => ProcessState::Running,
        ProcState::Faulted => ProcessState::Faulted,
        ProcState::Exited => ProcessState::Exited,
    };
    values(&[state as u64, p.exit_code])
}

pub fn thread_create(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let [h_process, entry, stack, arg, priority, cpu, ..] = ctx.args;
    let process = ctx.process_or_self(h_process, Rights::MANAGE)?;
    if priority > MAX_PRIORITY {
        return Err(Error::InvalidArgument);
    }
    let affinity = match cpu {
        ANY_CPU => None,
        cpu if (cpu as usize) < smp::cpu_count() => Some(cpu as usize),
        _ => return Err(Error::InvalidArgument),
    };
    if entry >= nimbus_kcore::pagetable::USER_END
        || stack >= nimbus_kcore::pagetable::USER_END
        || stack % 16 != 0
    {
        return Err(Error::BadAddress);
    }
    let context = UserContext::new(entry, stack, &[arg]);
    let id = ctx
        .k
        .create_thread(process, context, priority as u8, affinity)?;
    match ctx.new_handle(ObjectRef::Thread(id), THREAD_RIGHTS, 0) {
        Ok(h) => values(&[h]),
        Err(e) => {
            ctx.k.kill_thread(id);
            Err(e)
        }
    }
}

pub fn thread_start(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let ObjectRef::Thread(id) = ctx.entry_with(ctx.args[0], Rights::MANAGE)?.object else {
        return Err(Error::WrongType);
    };
    ctx.k.start_thread(id)?;
    done()
}

pub fn set_ipc_buffer(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let va = ctx.args[0];
    if !va.is_multiple_of(4096) || !ctx.k.user_page_writable(ctx.process, va) {
        return Err(Error::BadAddress);
    }
    if let Some(t) = ctx.k.threads.get_mut(ctx.thread) {
        t.ipc_buffer = Some(va);
    }
    done()
}

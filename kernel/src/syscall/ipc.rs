//! Endpoint and notification calls.

use super::{Context, Outcome, done, values};
use crate::object::ObjectRef;
use crate::object::notification::WaitOutcome;
use crate::object::thread::Block;
use nimbus_abi::syscall::TIMEOUT_NONE;
use nimbus_abi::{Error, Rights};

/// Rights of a freshly created endpoint handle.
const ENDPOINT_RIGHTS: Rights = Rights::SEND
    .union(Rights::RECEIVE)
    .union(Rights::DUPLICATE)
    .union(Rights::TRANSFER);
/// Rights of a freshly created notification handle.
const NOTIFICATION_RIGHTS: Rights = Rights::SIGNAL
    .union(Rights::WAIT)
    .union(Rights::DUPLICATE)
    .union(Rights::TRANSFER);

pub fn endpoint_create(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let id = ctx.k.create_endpoint(ctx.process)?;
    match ctx.new_handle(ObjectRef::Endpoint(id), ENDPOINT_RIGHTS, 0) {
        Ok(h) => values(&[h]),
        Err(e) => {
            ctx.k.retain(ObjectRef::Endpoint(id));
            ctx.k.release(ObjectRef::Endpoint(id));
            Err(e)
        }
    }
}

fn endpoint(
    ctx: &Context<'_>,
    handle: u64,
    rights: Rights,
) -> Result<(nimbus_kcore::slab::Id, u64), Error> {
    let entry = ctx.entry_with(handle, rights)?;
    match entry.object {
        ObjectRef::Endpoint(id) => Ok((id, entry.badge)),
        _ => Err(Error::WrongType),
    }
}

pub fn send(ctx: &mut Context<'_>, call: bool) -> Result<Outcome, Error> {
    let (id, badge) = endpoint(ctx, ctx.args[0], Rights::SEND)?;
    ctx.k
        .ipc_send(ctx.cpu, ctx.thread, id, badge, call, ctx.args[6]);
    Ok(Outcome::Written)
}

pub fn recv(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let (id, _) = endpoint(ctx, ctx.args[0], Rights::RECEIVE)?;
    ctx.k.ipc_recv(ctx.cpu, ctx.thread, id, ctx.args[1]);
    Ok(Outcome::Written)
}

pub fn reply(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    if let Some(caller) = ctx.k.ipc_reply(ctx.thread)? {
        ctx.k.resume_caller(ctx.cpu, caller, false);
    }
    done()
}

pub fn reply_recv(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let (id, _) = endpoint(ctx, ctx.args[0], Rights::RECEIVE)?;
    // The reply goes out even if receiving then fails; a failed reply is reported instead of
    // receiving, since the server must know its answer was lost.
    let caller = ctx.k.ipc_reply(ctx.thread).or_else(|e| {
        if e == Error::NoReplyTarget {
            Ok(None)
        } else {
            Err(e)
        }
    })?;
    ctx.k.ipc_recv(ctx.cpu, ctx.thread, id, ctx.args[6]);
    if let Some(caller) = caller {
        let blocked = ctx
            .k
            .sched
            .cpus
            .get(ctx.cpu)
            .is_some_and(|c| c.current.is_none());
        ctx.k.resume_caller(ctx.cpu, caller, blocked);
    }
    Ok(Outcome::Written)
}

pub fn notification_create(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let id = ctx.k.create_notification(ctx.process)?;
    match ctx.new_handle(ObjectRef::Notification(id), NOTIFICATION_RIGHTS, 0) {
        Ok(h) => values(&[h]),
        Err(e) => {
            ctx.k.retain(ObjectRef::Notification(id));
            ctx.k.release(ObjectRef::Notification(id));
            Err(e)
        }
    }
}

pub fn signal(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let entry = ctx.entry_with(ctx.args[0], Rights::SIGNAL)?;
    let ObjectRef::Notification(id) = entry.object else {
        return Err(Error::WrongType);
    };
    let bits = ctx.args[1] | entry.badge;
    if bits == 0 {
        return Err(Error::InvalidArgument);
    }
    ctx.k.signal(id, bits);
    done()
}

pub fn wait(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let entry = ctx.entry_with(ctx.args[0], Rights::WAIT)?;
    let ObjectRef::Notification(id) = entry.object else {
        return Err(Error::WrongType);
    };
    let timeout = ctx.args[1];
    match ctx.k.wait(ctx.thread, id, timeout != TIMEOUT_NONE)? {
        WaitOutcome::Bits(bits) => values(&[bits]),
        WaitOutcome::Blocked => {
            ctx.k
                .block_current(ctx.cpu, Block::Notification { notification: id }, timeout);
            Ok(Outcome::Written)
        }
    }
}

//! Handle management: rights can only shrink.

use super::{Context, Outcome, done, values};
use crate::object::ObjectRef;
use nimbus_abi::{Error, Rights};
use nimbus_kcore::handles::HandleEntry;

fn rights_arg(value: u64) -> Result<Rights, Error> {
    let bits = u32::try_from(value).map_err(|_| Error::InvalidArgument)?;
    Rights::from_bits(bits).ok_or(Error::InvalidArgument)
}

pub fn close(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let handle = u32::try_from(ctx.args[0]).map_err(|_| Error::BadHandle)?;
    ctx.k.close_handle(ctx.process, handle)?;
    done()
}

pub fn duplicate(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let entry = ctx.entry_with(ctx.args[0], Rights::DUPLICATE)?;
    let rights = rights_arg(ctx.args[1])?;
    if !rights.is_subset_of(entry.rights) {
        return Err(Error::AccessDenied);
    }
    let handle = ctx.new_handle(entry.object, rights, entry.badge)?;
    values(&[handle])
}

pub fn mint(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let entry = ctx.entry_with(ctx.args[0], Rights::DUPLICATE)?;
    let rights = rights_arg(ctx.args[1])?;
    let badge = ctx.args[2];
    if !matches!(
        entry.object,
        ObjectRef::Endpoint(_) | ObjectRef::Notification(_)
    ) {
        return Err(Error::WrongType);
    }
    if badge == 0 || entry.badge != 0 {
        return Err(Error::InvalidArgument);
    }
    if !rights.is_subset_of(entry.rights) {
        return Err(Error::AccessDenied);
    }
    let handle = ctx.new_handle(entry.object, rights, badge)?;
    values(&[handle])
}

pub fn info(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let entry = ctx.entry(ctx.args[0])?;
    values(&[
        entry.object.object_type() as u64,
        u64::from(entry.rights.bits()),
        entry.badge,
    ])
}

pub fn grant(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let target = match ctx.entry_with(ctx.args[0], Rights::MANAGE)?.object {
        ObjectRef::Process(id) => id,
        _ => return Err(Error::WrongType),
    };
    let entry = ctx.entry_with(ctx.args[1], Rights::TRANSFER)?;
    let rights = rights_arg(ctx.args[2])?;
    if !rights.is_subset_of(entry.rights) {
        return Err(Error::AccessDenied);
    }
    let handle = ctx.k.install_handle(
        target,
        HandleEntry {
            object: entry.object,
            rights,
            badge: entry.badge,
        },
    )?;
    values(&[u64::from(handle)])
}

//! Memory objects and mappings.

use super::{Context, Outcome, done, values};
use crate::object::ObjectRef;
use nimbus_abi::object::MEM_DMA;
use nimbus_abi::rights::{MAP_EXEC, MAP_READ, MAP_WRITE};
use nimbus_abi::{Error, Rights};
use nimbus_kcore::pagetable::PageFlags;

const MEMORY_RIGHTS: Rights = Rights::READ
    .union(Rights::WRITE)
    .union(Rights::EXECUTE)
    .union(Rights::DUPLICATE)
    .union(Rights::TRANSFER);

/// Largest memory object (bytes): 4 GiB.
const MAX_MEMORY_OBJECT: u64 = 1 << 32;

pub fn create(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let (size, flags) = (ctx.args[0], ctx.args[1]);
    if size == 0 || size > MAX_MEMORY_OBJECT || flags & !MEM_DMA != 0 {
        return Err(Error::InvalidArgument);
    }
    let charged = ctx.process_or_self(ctx.args[2], Rights::MANAGE)?;
    let dma = flags & MEM_DMA != 0;
    let id = ctx.k.create_memory(charged, size.div_ceil(4096), dma)?;
    let rights = if dma {
        MEMORY_RIGHTS | Rights::DMA
    } else {
        MEMORY_RIGHTS
    };
    match ctx.new_handle(ObjectRef::Memory(id), rights, 0) {
        Ok(h) => values(&[h]),
        Err(e) => {
            ctx.k.retain(ObjectRef::Memory(id));
            ctx.k.release(ObjectRef::Memory(id));
            Err(e)
        }
    }
}

pub fn map(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let [h_process, h_target, va, offset, len, perms, ..] = ctx.args;
    let process = ctx.process_or_self(h_process, Rights::MANAGE)?;
    if perms & !(MAP_READ | MAP_WRITE | MAP_EXEC) != 0 || perms & MAP_READ == 0 {
        return Err(Error::InvalidArgument);
    }
    let (write, execute) = (perms & MAP_WRITE != 0, perms & MAP_EXEC != 0);
    if write && execute {
        return Err(Error::InvalidArgument);
    }
    let mut needed = Rights::READ;
    if write {
        needed |= Rights::WRITE;
    }
    if execute {
        needed |= Rights::EXECUTE;
    }
    let entry = ctx.entry_with(h_target, needed)?;
    let device = match entry.object {
        ObjectRef::Memory(_) => false,
        ObjectRef::Mmio(_) if !execute => true,
        ObjectRef::Mmio(_) => return Err(Error::InvalidArgument),
        _ => return Err(Error::WrongType),
    };
    ctx.k.map_range(
        process,
        va,
        len,
        entry.object,
        offset,
        PageFlags {
            write,
            execute,
            device,
        },
    )?;
    done()
}

pub fn unmap(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let process = ctx.process_or_self(ctx.args[0], Rights::MANAGE)?;
    ctx.k.unmap_range(process, ctx.args[1], ctx.args[2])?;
    done()
}

pub fn phys_addr(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let entry = ctx.entry_with(ctx.args[0], Rights::DMA)?;
    let ObjectRef::Memory(id) = entry.object else {
        return Err(Error::WrongType);
    };
    let object = ctx.k.memories.get(id).ok_or(Error::Dead)?;
    if !object.dma {
        return Err(Error::InvalidArgument);
    }
    values(&[object.frame(0).ok_or(Error::Dead)?])
}

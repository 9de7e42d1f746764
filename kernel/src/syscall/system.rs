//! Devices, the kernel console and kernel statistics: reached only through the system object.

use super::{Context, Outcome, done, values};
use crate::object::ObjectRef;
use crate::{console, klog, smp, startup, time};
use nimbus_abi::info::{
    CONTROL_LOG_LEVEL, CONTROL_RELEASE_CONSOLE, CONTROL_SHUTDOWN, CONTROL_USERLAND_READY,
    INFO_KERNEL, INFO_KERNEL_LOG, INFO_PROCESSES, KernelRecord, ProcessRecord,
};
use nimbus_abi::{Error, Rights};
use nimbus_kcore::ranges::Range;
use zerocopy::IntoBytes;

const IRQ_RIGHTS: Rights = Rights::MANAGE
    .union(Rights::DUPLICATE)
    .union(Rights::TRANSFER);
const MMIO_RIGHTS: Rights = Rights::READ
    .union(Rights::WRITE)
    .union(Rights::DUPLICATE)
    .union(Rights::TRANSFER);
/// Largest DebugWrite.
const MAX_DEBUG_WRITE: usize = 1024;

pub fn irq_create(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    ctx.system(ctx.args[0], Rights::DEVICE)?;
    let intid = u32::try_from(ctx.args[1]).map_err(|_| Error::InvalidArgument)?;
    let id = ctx.k.create_irq(ctx.process, intid)?;
    match ctx.new_handle(ObjectRef::Irq(id), IRQ_RIGHTS, 0) {
        Ok(h) => values(&[h]),
        Err(e) => {
            ctx.k.retain(ObjectRef::Irq(id));
            ctx.k.release(ObjectRef::Irq(id));
            Err(e)
        }
    }
}

pub fn irq_bind(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let ObjectRef::Irq(irq) = ctx.entry_with(ctx.args[0], Rights::MANAGE)?.object else {
        return Err(Error::WrongType);
    };
    let ObjectRef::Notification(n) = ctx.entry_with(ctx.args[1], Rights::SIGNAL)?.object else {
        return Err(Error::WrongType);
    };
    ctx.k.bind_irq(irq, n, ctx.args[2])?;
    done()
}

pub fn irq_ack(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    let ObjectRef::Irq(irq) = ctx.entry_with(ctx.args[0], Rights::MANAGE)?.object else {
        return Err(Error::WrongType);
    };
    ctx.k.ack_irq(irq)?;
    done()
}

/// Whether device registers at `range` may be handed to userland: not RAM, and not the
/// interrupt controller the kernel drives.
fn mmio_allowed(range: Range) -> bool {
    let Some(platform) = startup::platform() else {
        return false;
    };
    let overlaps =
        |start: u64, size: u64| Range::new(start, size).is_some_and(|r| r.overlaps(&range));
    if platform.memory.iter().any(|m| overlaps(m.start, m.size)) {
        return false;
    }
    match &platform.interrupt_controller {
        Some(nimbus_board::InterruptController::GicV2 {
            distributor,
            cpu_interface,
            ..
        }) => {
            !overlaps(distributor.start, distributor.size)
                && !overlaps(cpu_interface.start, cpu_interface.size)
        }
        Some(nimbus_board::InterruptController::GicV3 {
            distributor,
            redistributors,
        }) => {
            !overlaps(distributor.start, distributor.size)
                && !redistributors.iter().any(|r| overlaps(r.start, r.size))
        }
        _ => true,
    }
}

pub fn mmio_create(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    ctx.system(ctx.args[0], Rights::DEVICE)?;
    let (base, size) = (ctx.args[1], ctx.args[2]);
    if base % 4096 != 0 || size == 0 || size % 4096 != 0 || size > (1 << 30) {
        return Err(Error::InvalidArgument);
    }
    let range = Range::new(base, size).ok_or(Error::InvalidArgument)?;
    if range.end > 1 << 48 || !mmio_allowed(range) {
        return Err(Error::AccessDenied);
    }
    let id = ctx.k.create_mmio(ctx.process, base, size)?;
    match ctx.new_handle(ObjectRef::Mmio(id), MMIO_RIGHTS, 0) {
        Ok(h) => values(&[h]),
        Err(e) => {
            ctx.k.retain(ObjectRef::Mmio(id));
            ctx.k.release(ObjectRef::Mmio(id));
            Err(e)
        }
    }
}

pub fn debug_write(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    ctx.system(ctx.args[0], Rights::LOG)?;
    let len = usize::try_from(ctx.args[2])
        .map_err(|_| Error::InvalidArgument)?
        .min(MAX_DEBUG_WRITE);
    let mut buf = [0u8; MAX_DEBUG_WRITE];
    ctx.k
        .copy_from_user(ctx.process, ctx.args[1], &mut buf[..len])?;
    console::write_bytes(&buf[..len]);
    done()
}

pub fn info(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    ctx.system(ctx.args[0], Rights::INFO)?;
    let (kind, ptr, len) = (ctx.args[1], ctx.args[2], ctx.args[3]);
    match kind {
        INFO_PROCESSES => {
            let size = core::mem::size_of::<ProcessRecord>() as u64;
            let capacity = len / size;
            let mut written = 0u64;
            let ids: alloc::vec::Vec<_> = ctx.k.processes.ids().take(capacity as usize).collect();
            for id in ids {
                let Some(p) = ctx.k.processes.get(id) else {
                    continue;
                };
                let mut name = [0u8; 32];
                let bytes = p.name.as_bytes();
                name[..bytes.len().min(32)].copy_from_slice(&bytes[..bytes.len().min(32)]);
                let record = ProcessRecord {
                    pid: id.index() as u32,
                    state: match p.state {
                        crate::object::process::ProcState::Running => 1,
                        crate::object::process::ProcState::Faulted => 2,
                        crate::object::process::ProcState::Exited => 3,
                    },
                    threads: p.threads.len() as u32,
                    handles: p.handles.len() as u32,
                    memory_used: p.memory.used(),
                    memory_limit: p.memory.limit(),
                    name,
                };
                ctx.k
                    .copy_to_user(ctx.process, ptr + written * size, record.as_bytes())?;
                written += 1;
            }
            values(&[written * size])
        }
        INFO_KERNEL => {
            let (heap_size, heap_used) = crate::mm::heap::usage();
            let record = KernelRecord {
                total_frames: crate::mm::frames::managed_frames(),
                free_frames: crate::mm::frames::free_frames(),
                heap_size: heap_size as u64,
                heap_used: heap_used as u64,
                objects: ctx.k.object_count() as u64,
                processes: ctx.k.processes.len() as u64,
                threads: ctx.k.threads.len() as u64,
                uptime_ns: time::since_entry_ns(),
                cpus: smp::online_count() as u64,
            };
            let bytes = record.as_bytes();
            if (len as usize) < bytes.len() {
                return Err(Error::InvalidArgument);
            }
            ctx.k.copy_to_user(ctx.process, ptr, bytes)?;
            values(&[bytes.len() as u64])
        }
        INFO_KERNEL_LOG => {
            let mut chunk = [0u8; 512];
            let n = console::drain_log(&mut chunk[..(len as usize).min(512)]);
            ctx.k.copy_to_user(ctx.process, ptr, &chunk[..n])?;
            values(&[n as u64])
        }
        _ => Err(Error::InvalidArgument),
    }
}

pub fn control(ctx: &mut Context<'_>) -> Result<Outcome, Error> {
    ctx.system(ctx.args[0], Rights::CONTROL)?;
    match ctx.args[1] {
        CONTROL_LOG_LEVEL => {
            let level = match ctx.args[2] {
                0 => log::LevelFilter::Off,
                1 => log::LevelFilter::Error,
                2 => log::LevelFilter::Warn,
                3 => log::LevelFilter::Info,
                4 => log::LevelFilter::Debug,
                5 => log::LevelFilter::Trace,
                _ => return Err(Error::InvalidArgument),
            };
            klog::set_level(level);
        }
        CONTROL_RELEASE_CONSOLE => console::release(),
        CONTROL_USERLAND_READY => {
            crate::kprintln!(
                "nimbus: userland ready: {} processes, {} ms",
                ctx.args[2],
                time::since_entry_ns() / 1_000_000
            );
        }
        CONTROL_SHUTDOWN => crate::startup::shutdown(ctx.args[2]),
        _ => return Err(Error::InvalidArgument),
    }
    done()
}

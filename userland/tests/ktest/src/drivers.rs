//! Drivers in userland: device registers mapped as device memory, DMA memory with its physical
//! address, and a device interrupt delivered as a notification — exercised with a real device,
//! QEMU's virtio entropy source, through the virtio-drivers crate.

use crate::harness::{Context, Env, Test, ensure};
use alloc::format;
use alloc::string::String;
use core::ptr::NonNull;
use nimbus_abi::layout::MAP_AREA;
use nimbus_abi::object::MEM_DMA;
use nimbus_abi::rights::{MAP_READ, MAP_WRITE};
use nimbus_abi::{Error, Handle, Rights};
use nimbus_board::devices::find_compatible;
use nimbus_rt::sys;
use nimbus_virtio_hal::NimbusHal;
use virtio_drivers::device::rng::VirtIORng;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};

pub const TESTS: &[Test] = &[
    Test {
        name: "user::drivers::mmio_maps_device_registers",
        run: mmio_magic,
    },
    Test {
        name: "user::drivers::dma_memory_reveals_its_address_only_with_the_right",
        run: dma,
    },
    Test {
        name: "user::drivers::device_interrupt_arrives_as_a_notification",
        run: virtio_rng,
    },
    Test {
        name: "user::drivers::ram_and_the_interrupt_controller_are_not_device_memory",
        run: mmio_refused,
    },
    Test {
        name: "user::drivers::an_interrupt_has_one_owner",
        run: irq_exclusive,
    },
];

/// virtio-mmio register offsets and values (virtio spec 1.2, 4.2.2).
const MAGIC: usize = 0x000;
const DEVICE_ID: usize = 0x008;
const VIRTIO_MAGIC: u32 = 0x7472_6976;
const ENTROPY_DEVICE: u32 = 4;
/// Where this suite maps device registers.
const MMIO_VA: u64 = MAP_AREA + (5 << 30);

/// A virtio-mmio transport: registers mapped, and its interrupt.
struct Transport {
    regs: u64,
    size: u64,
    intid: Option<u32>,
}

static TRANSPORTS: spin::Once<alloc::vec::Vec<Transport>> = spin::Once::new();

/// Every virtio-mmio transport the device tree lists, mapped once for the whole suite.
fn transports(env: &Env) -> Result<&'static [Transport], String> {
    if let Some(t) = TRANSPORTS.get() {
        return Ok(t);
    }
    let mapped = map_transports(env)?;
    Ok(TRANSPORTS.call_once(|| mapped))
}

fn map_transports(env: &Env) -> Result<alloc::vec::Vec<Transport>, String> {
    let devices =
        find_compatible(env.dtb, "virtio,mmio").map_err(|e| format!("device tree: {e}"))?;
    let mut out = alloc::vec::Vec::new();
    let mut next_va = MMIO_VA;
    let mut mapped: alloc::vec::Vec<(u64, u64)> = alloc::vec::Vec::new();
    for dev in devices.filter(|d| d.enabled) {
        let Some(reg) = dev.regs.first() else {
            continue;
        };
        let page = reg.start & !0xfff;
        let va = match mapped.iter().find(|(p, _)| *p == page) {
            Some((_, va)) => *va,
            None => {
                let mmio = sys::mmio_create(env.system, page, 4096).context("MMIO handle")?;
                sys::mem_map(Handle::NONE, mmio, next_va, 0, 4096, MAP_READ | MAP_WRITE)
                    .context("mapping MMIO")?;
                let _ = sys::handle_close(mmio);
                nimbus_virtio_hal::register_mmio(page, 4096, next_va);
                mapped.push((page, next_va));
                next_va += 4096;
                next_va - 4096
            }
        };
        out.push(Transport {
            regs: va + (reg.start - page),
            size: reg.size,
            intid: dev.irqs.first().and_then(|i| i.intid()),
        });
    }
    Ok(out)
}

fn read32(addr: u64) -> u32 {
    // SAFETY: `addr` is inside a device page mapped above as device memory.
    unsafe { (addr as *const u32).read_volatile() }
}

fn mmio_magic(env: &mut Env) -> Result<(), String> {
    let all = transports(env)?;
    ensure!(
        !all.is_empty(),
        "the device tree lists no virtio-mmio transports"
    );
    for t in all {
        let magic = read32(t.regs + MAGIC as u64);
        ensure!(
            magic == VIRTIO_MAGIC,
            "transport at {:#x} reads magic {magic:#x}",
            t.regs
        );
    }
    Ok(())
}

fn dma(_env: &mut Env) -> Result<(), String> {
    let dma = sys::mem_create(3 * 4096, MEM_DMA).context("DMA memory")?;
    let pa = sys::mem_phys_addr(dma).context("physical address")?;
    ensure!(pa != 0 && pa % 4096 == 0, "DMA memory at {pa:#x}");
    let plain = sys::mem_create(4096, 0).context("memory")?;
    let refused = sys::mem_phys_addr(plain);
    let no_right = sys::handle_duplicate(dma, Rights::READ | Rights::WRITE).context("dup")?;
    let hidden = sys::mem_phys_addr(no_right);
    for h in [dma, plain, no_right] {
        let _ = sys::handle_close(h);
    }
    ensure!(
        refused == Err(Error::AccessDenied),
        "ordinary memory revealed its address: {refused:?}"
    );
    ensure!(
        hidden == Err(Error::AccessDenied),
        "a handle without DMA revealed the address: {hidden:?}"
    );
    Ok(())
}

fn virtio_rng(env: &mut Env) -> Result<(), String> {
    let all = transports(env)?;
    let rng = all
        .iter()
        .find(|t| read32(t.regs + DEVICE_ID as u64) == ENTROPY_DEVICE)
        .ok_or("no virtio entropy device (the test machines add -device virtio-rng-device)")?;
    let intid = rng.intid.ok_or("the entropy device has no interrupt")?;
    let header = NonNull::new(rng.regs as *mut VirtIOHeader).ok_or("null registers")?;
    // SAFETY: `header` points at the device's registers, mapped as device memory for this test
    // alone, `size` bytes long.
    let transport = unsafe { MmioTransport::new(header, rng.size as usize) }
        .map_err(|e| format!("transport: {e:?}"))?;
    let mut device = VirtIORng::<NimbusHal, MmioTransport>::new(transport)
        .map_err(|e| format!("device: {e:?}"))?;
    device.enable_interrupts();
    let irq = sys::irq_create(env.system, intid).context("IRQ handle")?;
    let note = sys::notification_create().context("notification")?;
    sys::irq_bind(irq, note, 1 << 3).context("bind")?;
    let mut bytes = [0u8; 64];
    let got = device
        .request_entropy(&mut bytes)
        .map_err(|e| format!("entropy: {e:?}"));
    let bits = sys::wait(note, 2_000_000_000);

    device.ack_interrupt();
    let acked = sys::irq_ack(irq);
    drop(device);
    let _ = sys::handle_close(irq);
    let _ = sys::handle_close(note);
    let got = got?;
    ensure!(got == bytes.len(), "the device returned {got} bytes");
    ensure!(
        bytes.iter().any(|b| *b != 0),
        "64 random bytes were all zero"
    );
    ensure!(bits == Ok(1 << 3), "the interrupt arrived as {bits:?}");
    ensure!(
        acked.is_ok(),
        "acknowledging the interrupt failed: {acked:?}"
    );
    Ok(())
}

fn mmio_refused(env: &mut Env) -> Result<(), String> {
    let platform = nimbus_board::discover(env.dtb).map_err(|e| format!("device tree: {e}"))?;
    let ram = platform
        .memory
        .first()
        .ok_or("no memory in the device tree")?;
    let r = sys::mmio_create(env.system, ram.start, 4096);
    ensure!(r == Err(Error::AccessDenied), "RAM as device memory: {r:?}");
    let gic = match &platform.interrupt_controller {
        Some(nimbus_board::InterruptController::GicV2 { distributor, .. }) => distributor.start,
        Some(nimbus_board::InterruptController::GicV3 { distributor, .. }) => distributor.start,
        _ => return Err("no GIC".into()),
    };
    let r = sys::mmio_create(env.system, gic, 4096);
    ensure!(
        r == Err(Error::AccessDenied),
        "the GIC as device memory: {r:?}"
    );
    let unaligned = sys::mmio_create(env.system, 0x0900_0001, 4096);
    ensure!(
        unaligned == Err(Error::InvalidArgument),
        "an unaligned region: {unaligned:?}"
    );
    Ok(())
}

fn irq_exclusive(env: &mut Env) -> Result<(), String> {
    let first = sys::irq_create(env.system, 100).context("first IRQ handle")?;
    let second = sys::irq_create(env.system, 100);
    let private = sys::irq_create(env.system, 27);
    let _ = sys::handle_close(first);
    let third = sys::irq_create(env.system, 100);
    if let Ok(h) = third {
        let _ = sys::handle_close(h);
    }
    ensure!(
        second == Err(Error::Busy),
        "a second owner of INTID 100: {second:?}"
    );
    ensure!(
        private == Err(Error::InvalidArgument),
        "the timer's PPI handed out: {private:?}"
    );
    ensure!(
        third.is_ok(),
        "INTID 100 stayed taken after its handle closed: {third:?}"
    );
    Ok(())
}

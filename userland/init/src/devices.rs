//! A server's devices: found in the device tree, handed over as MMIO and interrupt handles.
//!
//! Each matched device `n` of a manifest entry `name` becomes start-block entries
//! `name.n.mmio` (its first register range, page-aligned), `name.n.offset` (where the registers
//! start in that mapping) and `name.n.irq` (its first interrupt), plus `name.count`. The console
//! UART also gets `name.0.type` (0 PL011, 1 16550, 2 BCM2835 mini-UART), `.shift` and `.width`.

use nimbus_abi::start::{KIND_VALUE, StartInfo};
use nimbus_abi::{Handle, ObjectType, Rights};
use nimbus_board::{Irq, PhysRange, UartKind};
use nimbus_manifest::{Device, DeviceSelect};
use nimbus_rt::{Error, sys};

/// Why a server's devices could not be granted.
#[derive(Debug)]
pub enum DeviceError {
    /// The device tree could not be read.
    Tree,
    /// No device matched.
    NotFound,
    /// A start-block name was too long or the block is full.
    StartBlock,
    /// The kernel refused a handle.
    Kernel(Error),
}

impl From<Error> for DeviceError {
    fn from(e: Error) -> Self {
        Self::Kernel(e)
    }
}

impl core::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Tree => write!(f, "the device tree cannot be read"),
            Self::NotFound => write!(f, "no such device in the device tree"),
            Self::StartBlock => write!(f, "too many handles for the start block"),
            Self::Kernel(e) => write!(f, "{e}"),
        }
    }
}

struct Grant<'a> {
    system: Handle,
    process: Handle,
    start: &'a mut StartInfo,
}

impl Grant<'_> {
    fn name(prefix: &str, index: usize, field: &str) -> heapless::String<32> {
        let mut name = heapless::String::new();
        let _ = core::fmt::write(&mut name, format_args!("{prefix}.{index}.{field}"));
        name
    }

    fn value(&mut self, name: &str, value: u32) -> Result<(), DeviceError> {
        self.start
            .push(name, value, KIND_VALUE)
            .map_err(|_| DeviceError::StartBlock)
    }

    /// Gives the process `handle` (then closes init's copy).
    fn give(
        &mut self,
        name: &str,
        handle: Handle,
        rights: Rights,
        kind: ObjectType,
    ) -> Result<(), DeviceError> {
        let granted = sys::handle_grant(self.process, handle, rights);
        let _ = sys::handle_close(handle);
        self.start
            .push(name, granted?.0, kind as u32)
            .map_err(|_| DeviceError::StartBlock)
    }

    fn device(
        &mut self,
        prefix: &str,
        index: usize,
        regs: Option<&PhysRange>,
        irq: Option<&Irq>,
    ) -> Result<(), DeviceError> {
        if let Some(regs) = regs {
            let base = regs.start & !0xfff;
            let end = regs.end().ok_or(DeviceError::Tree)?.div_ceil(4096) * 4096;
            let mmio = sys::mmio_create(self.system, base, end - base)?;
            self.give(
                &Self::name(prefix, index, "mmio"),
                mmio,
                Rights::READ | Rights::WRITE,
                ObjectType::Mmio,
            )?;
            self.value(
                &Self::name(prefix, index, "offset"),
                (regs.start - base) as u32,
            )?;
        }
        if let Some(intid) = irq.and_then(Irq::intid) {
            let handle = sys::irq_create(self.system, intid)?;
            self.give(
                &Self::name(prefix, index, "irq"),
                handle,
                Rights::MANAGE,
                ObjectType::Irq,
            )?;
        }
        Ok(())
    }
}

/// Grants `process` the devices `device` selects, recording them in `start`.
pub fn grant(
    system: Handle,
    dtb: &[u8],
    device: &Device,
    process: Handle,
    start: &mut StartInfo,
) -> Result<usize, DeviceError> {
    let mut grant = Grant {
        system,
        process,
        start,
    };
    let mut count = 0;
    match &device.select {
        DeviceSelect::ConsoleUart => {
            let platform = nimbus_board::discover(dtb).map_err(|_| DeviceError::Tree)?;
            let uart = platform.console.ok_or(DeviceError::NotFound)?;
            let (kind, shift, width) = match uart.kind {
                UartKind::Pl011 => (0, 0, 4),
                UartKind::Ns16550 {
                    reg_shift,
                    reg_io_width,
                } => (1, u32::from(reg_shift), u32::from(reg_io_width)),
                UartKind::Bcm2835Aux => (2, 0, 4),
                UartKind::Unsupported => return Err(DeviceError::NotFound),
            };
            grant.device(&device.name, 0, Some(&uart.regs), uart.irq.as_ref())?;
            grant.value(&Grant::name(&device.name, 0, "type"), kind)?;
            grant.value(&Grant::name(&device.name, 0, "shift"), shift)?;
            grant.value(&Grant::name(&device.name, 0, "width"), width)?;
            count = 1;
        }
        DeviceSelect::Compatible(compatible) => {
            let found = nimbus_board::devices::find_compatible(dtb, compatible)
                .map_err(|_| DeviceError::Tree)?;
            for dev in found.filter(|d| d.enabled) {
                grant.device(&device.name, count, dev.regs.first(), dev.irqs.first())?;
                count += 1;
            }
        }
    }
    let mut name = heapless::String::<32>::new();
    let _ = core::fmt::write(&mut name, format_args!("{}.count", device.name));
    grant.value(&name, count as u32)?;
    if count == 0 {
        return Err(DeviceError::NotFound);
    }
    Ok(count)
}

//! The virtio entropy device: found among the virtio-mmio transports init granted, and driven
//! with virtio-drivers' MMIO transport and virtqueue over `nimbus_virtio_hal` (DMA memory).
//!
//! virtio-drivers' `VirtIORng` only offers `request_entropy`, which spins on the used ring until
//! the device answers. This driver sets the device up the same way (same queue, same feature
//! negotiation minus the ring extensions) but completes each request by the device's
//! interrupt: it queues a buffer, notifies the device and sleeps on the notification the
//! interrupt is bound to, acknowledging the interrupt at the device and at the kernel on every
//! wake.

use alloc::boxed::Box;
use core::ptr::NonNull;
use nimbus_abi::layout::MAP_AREA;
use nimbus_abi::rights::{MAP_READ, MAP_WRITE};
use nimbus_abi::{Error, Handle};
use nimbus_entropy_core::{Probe, probe, virtio};
use nimbus_protocols::entropy::MAX_FILL;
use nimbus_rt::{Start, sys};
use nimbus_virtio_hal::NimbusHal;
use virtio_drivers::device::common::Feature;
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::Transport;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};

/// Where the transport being probed (and then the entropy device) is mapped.
const DEVICE_VA: u64 = MAP_AREA;
const PAGE: u64 = 4096;
/// The entropy device's only queue.
const QUEUE: u16 = 0;
/// Buffers the queue holds (what virtio-drivers' own entropy driver uses).
const QUEUE_SIZE: usize = 8;
/// Notification bit the device's interrupt sets.
const IRQ_BIT: u64 = 1;
/// How long one request may take before the device counts as stuck.
const REQUEST_TIMEOUT_NS: u64 = 1_000_000_000;
/// Requests one fill may take (the device may deliver fewer bytes than asked for).
const MAX_REQUESTS: usize = 16;

/// Why the device cannot be used.
#[derive(Debug)]
pub enum FindError {
    /// The start block has no virtio transports (`virtio.count`).
    NoTransports,
    /// None of the `count` transports is an entropy device.
    NotFound {
        /// Transports looked at.
        count: u32,
    },
    /// The transport at `index` holds an entropy device that could not be set up.
    Setup {
        /// Its number in the start block.
        index: u32,
        /// What failed.
        what: &'static str,
        /// virtio-drivers' or the kernel's reason.
        why: alloc::string::String,
    },
}

impl core::fmt::Display for FindError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoTransports => f.write_str("no virtio-mmio transports in the start block"),
            Self::NotFound { count } => write!(
                f,
                "no virtio entropy device among the {count} virtio-mmio transports \
                 (QEMU needs -device virtio-rng-device)"
            ),
            Self::Setup { index, what, why } => {
                write!(f, "the entropy device on virtio.{index}: {what}: {why}")
            }
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceError {
    /// The device did not answer in time; its buffer stays queued until it does.
    Stuck,
    /// virtio-drivers refused (queue full, wrong token...).
    Queue,
    /// The device answered with no bytes too many times.
    Empty,
}

/// Where the entropy device was found.
#[derive(Debug, Clone, Copy)]
pub struct Location {
    /// Its transport's number in the start block (`virtio.<index>`).
    pub index: u32,
    /// How many transports there are.
    pub count: u32,
}

/// The running entropy device.
pub struct Rng {
    transport: MmioTransport<'static>,
    queue: VirtQueue<NimbusHal, QUEUE_SIZE>,
    irq: Handle,
    notification: Handle,
    /// What the device writes into (through a DMA bounce buffer); boxed so it never moves while
    /// the device may still own it.
    buffer: Box<[u8; MAX_FILL]>,
    /// A request the device has not answered: its token and length.
    pending: Option<(u16, usize)>,
}

fn name(index: u32, field: &str) -> heapless::String<32> {
    let mut name = heapless::String::new();
    let _ = core::fmt::write(&mut name, format_args!("virtio.{index}.{field}"));
    name
}

fn read32(va: u64) -> u32 {
    // SAFETY: callers pass an aligned address inside the transport's registers, just mapped
    // (device memory) at DEVICE_VA; reading the magic and device ID has no side effects.
    unsafe { (va as *const u32).read_volatile() }
}

/// Maps transport `index` at [`DEVICE_VA`] and tells what it holds; on anything but an entropy
/// device the mapping is removed again. Returns the probe and where its registers are.
fn probe_transport(start: &Start, index: u32) -> Option<(Probe, u64, u64)> {
    let mmio = start.handle(&name(index, "mmio"))?;
    let offset = u64::from(start.value(&name(index, "offset")).unwrap_or(0));
    let len = (offset + virtio::REGION_SIZE).div_ceil(PAGE) * PAGE;
    let mapped = sys::mem_map(Handle::NONE, mmio, DEVICE_VA, 0, len, MAP_READ | MAP_WRITE);
    // The mapping keeps the registers; the handle is not needed any more.
    let _ = sys::handle_close(mmio);
    if let Err(e) = mapped {
        log::warn!("cannot map virtio.{index}: {e}");
        return None;
    }
    let regs = DEVICE_VA + offset;
    let found = probe(
        read32(regs + virtio::MAGIC_OFFSET),
        read32(regs + virtio::DEVICE_ID_OFFSET),
    );
    if found != Probe::Entropy {
        // SAFETY: nothing refers to the probe mapping any more: only the two reads above used it.
        let _ = unsafe { sys::mem_unmap(Handle::NONE, DEVICE_VA, len) };
    }
    Some((found, regs, len - offset))
}

/// Finds the entropy device among the transports in the start block and sets it up. Handles
/// of the other transports (registers and interrupts) are closed.
pub fn find(start: &Start) -> Result<(Rng, Location), FindError> {
    let count = start.value("virtio.count").ok_or(FindError::NoTransports)?;
    let mut found = None;
    for index in 0..count {
        let irq = start.handle(&name(index, "irq"));
        let probed = if found.is_none() {
            probe_transport(start, index)
        } else {
            if let Some(mmio) = start.handle(&name(index, "mmio")) {
                let _ = sys::handle_close(mmio);
            }
            None
        };
        match probed {
            Some((Probe::Entropy, regs, size)) => found = Some((index, regs, size, irq)),
            _ => {
                if let Some(irq) = irq {
                    let _ = sys::handle_close(irq);
                }
            }
        }
    }
    let (index, regs, size, irq) = found.ok_or(FindError::NotFound { count })?;
    let setup =
        |what: &'static str, why: alloc::string::String| FindError::Setup { index, what, why };
    let irq = irq.ok_or_else(|| setup("interrupt", "the start block has none".into()))?;
    let rng = Rng::new(regs, size, irq).map_err(|(what, why)| setup(what, why))?;
    Ok((rng, Location { index, count }))
}

impl Rng {
    /// Sets up the device whose registers (`size` bytes) are mapped at `regs`, with its
    /// interrupt `irq`.
    fn new(
        regs: u64,
        size: u64,
        irq: Handle,
    ) -> Result<Self, (&'static str, alloc::string::String)> {
        let kernel = |what: &'static str| move |e: Error| (what, alloc::format!("{e}"));
        let header = NonNull::new(regs as *mut VirtIOHeader)
            .ok_or(("registers", alloc::string::String::from("null address")))?;
        // SAFETY: `header` is the transport's registers, `size` bytes mapped as device memory at
        // DEVICE_VA for the life of this process and used by this driver alone.
        let mut transport = unsafe { MmioTransport::new(header, size as usize) }
            .map_err(|e| ("transport", alloc::format!("{e:?}")))?;
        // The device is reset first (a previous instance of this server may have left it
        // running). Only VERSION_1, which a modern device requires, is accepted: no indirect
        // descriptors or event index, so interrupts follow the available ring's flag.
        let _features = transport.begin_init(Feature::VERSION_1);
        let mut queue = VirtQueue::new(&mut transport, QUEUE, false, false)
            .map_err(|e| ("queue", alloc::format!("{e:?}")))?;
        transport.finish_init();
        queue.set_dev_notify(true);
        let notification = sys::notification_create().map_err(kernel("notification"))?;
        if let Err(e) = sys::irq_bind(irq, notification, IRQ_BIT) {
            let _ = sys::handle_close(notification);
            return Err(kernel("binding the interrupt")(e));
        }
        Ok(Self {
            transport,
            queue,
            irq,
            notification,
            buffer: Box::new([0; MAX_FILL]),
            pending: None,
        })
    }

    /// Sleeps until the device has used a buffer or `deadline` passed; true if it has.
    fn wait_used(&mut self, deadline: u64) -> bool {
        while !self.queue.can_pop() {
            let left = deadline.saturating_sub(sys::clock_now());
            if left == 0 {
                return false;
            }
            // Woken by the interrupt (or the deadline): acknowledge at the device, which lowers
            // the line, then at the kernel, which lets the next interrupt through.
            let _ = sys::wait(self.notification, left);
            self.transport.ack_interrupt();
            let _ = sys::irq_ack(self.irq);
        }
        true
    }

    /// Takes back the buffer of a request that completed; its bytes are stale.
    fn finish_pending(&mut self) -> Result<(), DeviceError> {
        let Some((token, len)) = self.pending else {
            return Ok(());
        };
        if !self.queue.can_pop() {
            return Err(DeviceError::Stuck);
        }
        let out = self.buffer.get_mut(..len).ok_or(DeviceError::Queue)?;
        // SAFETY: the same buffer (same address and length) that was added with `token`.
        unsafe { self.queue.pop_used(token, &[], &mut [out]) }.map_err(|_| DeviceError::Queue)?;
        self.pending = None;
        Ok(())
    }

    /// One request for up to `len` bytes; returns how many the device wrote into the buffer.
    fn request(&mut self, len: usize) -> Result<usize, DeviceError> {
        self.finish_pending()?;
        let len = len.clamp(1, MAX_FILL);
        let out = self.buffer.get_mut(..len).ok_or(DeviceError::Queue)?;
        // SAFETY: `self.buffer` is boxed and lives as long as the queue; it is accessed again only
        // through pop_used with this token (here or in finish_pending).
        let token = unsafe { self.queue.add(&[], &mut [out]) }.map_err(|_| DeviceError::Queue)?;
        if self.queue.should_notify() {
            self.transport.notify(QUEUE);
        }
        if !self.wait_used(sys::clock_now().saturating_add(REQUEST_TIMEOUT_NS)) {
            self.pending = Some((token, len));
            return Err(DeviceError::Stuck);
        }
        let out = self.buffer.get_mut(..len).ok_or(DeviceError::Queue)?;
        // SAFETY: the same buffer that was added with `token` above.
        let written = unsafe { self.queue.pop_used(token, &[], &mut [out]) }
            .map_err(|_| DeviceError::Queue)?;
        Ok((written as usize).min(len))
    }

    /// Fills `out` (at most [`MAX_FILL`] bytes) from the device.
    pub fn fill(&mut self, out: &mut [u8]) -> Result<(), DeviceError> {
        let mut filled = 0;
        for _ in 0..MAX_REQUESTS {
            let Some(rest) = out.get_mut(filled..).filter(|r| !r.is_empty()) else {
                return Ok(());
            };
            let got = self.request(rest.len())?;
            if let (Some(dst), Some(src)) = (rest.get_mut(..got), self.buffer.get(..got)) {
                dst.copy_from_slice(src);
            }
            filled += got;
        }
        if filled == out.len() {
            Ok(())
        } else {
            Err(DeviceError::Empty)
        }
    }
}

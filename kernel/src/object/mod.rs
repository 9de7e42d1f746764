//! Kernel objects and the one structure that owns them all.
//!
//! Every object lives in a generational slab inside [`Kernel`], named by an [`Id`] that goes stale
//! when the object is destroyed. The whole structure sits behind one fair lock (the big kernel
//! lock, as in seL4's SMP kernel): kernel paths are short and never sleep, user code runs on every
//! CPU in parallel, and the kernel stays simple enough to reason about.
//!
//! Objects are reference counted: handles, mappings, interrupt bindings and supervisor links each
//! hold a reference; when the last goes, the object is destroyed and its memory returned.

pub mod asid;
pub mod endpoint;
pub mod irq;
pub mod memory;
pub mod notification;
pub mod process;
pub mod thread;

use crate::sched::Scheduler;
use crate::sync::Mutex;
use alloc::boxed::Box;
use alloc::vec::Vec;
use endpoint::Endpoint;
use irq::IrqObject;
use memory::{MemoryObject, MmioObject};
use nimbus_abi::ObjectType;
use nimbus_kcore::slab::{Id, Slab};
use notification::Notification;
use process::Process;
use thread::Thread;

/// What a handle (or another object) refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectRef {
    /// An IPC endpoint.
    Endpoint(Id),
    /// A notification.
    Notification(Id),
    /// A memory object.
    Memory(Id),
    /// A process.
    Process(Id),
    /// A thread.
    Thread(Id),
    /// A device interrupt.
    Irq(Id),
    /// Device registers.
    Mmio(Id),
    /// The kernel itself.
    System,
}

impl ObjectRef {
    /// The ABI's name for the kind of object.
    pub fn object_type(self) -> ObjectType {
        match self {
            Self::Endpoint(_) => ObjectType::Endpoint,
            Self::Notification(_) => ObjectType::Notification,
            Self::Memory(_) => ObjectType::Memory,
            Self::Process(_) => ObjectType::Process,
            Self::Thread(_) => ObjectType::Thread,
            Self::Irq(_) => ObjectType::Irq,
            Self::Mmio(_) => ObjectType::Mmio,
            Self::System => ObjectType::System,
        }
    }
}

/// Bytes charged for a small kernel object (endpoint, notification, interrupt, MMIO region).
pub const SMALL_OBJECT_COST: u64 = 256;
/// Bytes charged per handle-table slot.
pub const HANDLE_COST: u64 = 32;

/// All kernel state.
pub struct Kernel {
    /// Processes, alive or exited-but-still-referenced.
    pub processes: Slab<Process>,
    /// Threads (boxed: a running thread's context must not move).
    pub threads: Slab<Box<Thread>>,
    /// IPC endpoints.
    pub endpoints: Slab<Endpoint>,
    /// Notifications.
    pub notifications: Slab<Notification>,
    /// Memory objects.
    pub memories: Slab<MemoryObject>,
    /// Interrupts handed to userland.
    pub irqs: Slab<IrqObject>,
    /// Device register regions handed to userland.
    pub mmios: Slab<MmioObject>,
    /// Run queues, current threads, timeouts.
    pub sched: Scheduler,
    /// Address space identifiers.
    pub asids: asid::AsidAllocator,
    /// INTID -> interrupt object, for dispatch.
    pub irq_owners: Vec<Option<Id>>,
    next_tag: u64,
}

static KERNEL: Mutex<Option<Kernel>> = Mutex::new(None);

/// Holds the big kernel lock.
pub struct KernelGuard(crate::sync::MutexGuard<'static, Option<Kernel>>);

impl core::ops::Deref for KernelGuard {
    type Target = Kernel;
    fn deref(&self) -> &Kernel {
        // The option is filled by `init` before any path that locks runs.
        self.0.as_ref().unwrap_or_else(|| {
            crate::fatal!(
                nimbus_boot::status::ExitStatus::Panic,
                "kernel state used before init"
            )
        })
    }
}

impl core::ops::DerefMut for KernelGuard {
    fn deref_mut(&mut self) -> &mut Kernel {
        self.0.as_mut().unwrap_or_else(|| {
            crate::fatal!(
                nimbus_boot::status::ExitStatus::Panic,
                "kernel state used before init"
            )
        })
    }
}

/// Takes the big kernel lock. Callers run with IRQs masked (all kernel paths do).
pub fn lock() -> KernelGuard {
    KernelGuard(KERNEL.lock())
}

/// Creates the (empty) kernel state.
pub fn init() {
    let kernel = Kernel {
        processes: Slab::new(),
        threads: Slab::new(),
        endpoints: Slab::new(),
        notifications: Slab::new(),
        memories: Slab::new(),
        irqs: Slab::new(),
        mmios: Slab::new(),
        sched: Scheduler::new(),
        asids: asid::AsidAllocator::new(),
        irq_owners: Vec::new(),
        next_tag: 1 << 32,
    };
    *KERNEL.lock() = Some(kernel);
}

impl Kernel {
    /// A tag no other list uses.
    pub fn new_list_tag(&mut self) -> u64 {
        self.next_tag += 1;
        self.next_tag
    }

    /// Live objects of every kind (for leak checks and statistics).
    pub fn object_count(&self) -> usize {
        self.processes.len()
            + self.threads.len()
            + self.endpoints.len()
            + self.notifications.len()
            + self.memories.len()
            + self.irqs.len()
            + self.mmios.len()
    }

    /// Adds a reference to `object`.
    pub fn retain(&mut self, object: ObjectRef) {
        let refs = match object {
            ObjectRef::Endpoint(id) => self.endpoints.get_mut(id).map(|o| &mut o.refs),
            ObjectRef::Notification(id) => self.notifications.get_mut(id).map(|o| &mut o.refs),
            ObjectRef::Memory(id) => self.memories.get_mut(id).map(|o| &mut o.refs),
            ObjectRef::Process(id) => self.processes.get_mut(id).map(|o| &mut o.refs),
            ObjectRef::Thread(id) => self.threads.get_mut(id).map(|o| &mut o.refs),
            ObjectRef::Irq(id) => self.irqs.get_mut(id).map(|o| &mut o.refs),
            ObjectRef::Mmio(id) => self.mmios.get_mut(id).map(|o| &mut o.refs),
            ObjectRef::System => None,
        };
        if let Some(refs) = refs {
            *refs = refs.saturating_add(1);
        }
    }

    /// Drops a reference to `object`, destroying it when it was the last.
    pub fn release(&mut self, object: ObjectRef) {
        let mut work = heapless::Vec::<ObjectRef, 8>::new();
        let _ = work.push(object);
        while let Some(object) = work.pop() {
            let refs = match object {
                ObjectRef::Endpoint(id) => self.endpoints.get_mut(id).map(|o| &mut o.refs),
                ObjectRef::Notification(id) => self.notifications.get_mut(id).map(|o| &mut o.refs),
                ObjectRef::Memory(id) => self.memories.get_mut(id).map(|o| &mut o.refs),
                ObjectRef::Process(id) => self.processes.get_mut(id).map(|o| &mut o.refs),
                ObjectRef::Thread(id) => self.threads.get_mut(id).map(|o| &mut o.refs),
                ObjectRef::Irq(id) => self.irqs.get_mut(id).map(|o| &mut o.refs),
                ObjectRef::Mmio(id) => self.mmios.get_mut(id).map(|o| &mut o.refs),
                ObjectRef::System => None,
            };
            let Some(refs) = refs else { continue };
            *refs = refs.saturating_sub(1);
            if *refs > 0 {
                // What is left may be only the process's handles to itself.
                match object {
                    ObjectRef::Process(id) => self.end_if_unreachable(id),
                    ObjectRef::Thread(id) => {
                        if let Some(process) = self.threads.get(id).map(|t| t.process) {
                            self.end_if_unreachable(process);
                        }
                    }
                    _ => {}
                }
                continue;
            }

            // The last reference is gone. Objects it held are released in turn; the fixed-size
            // worklist keeps this from recursing, and anything that does not fit is released
            // directly (the chains are short: an interrupt holds one notification).
            for held in self.destroy(object) {
                if work.push(held).is_err() {
                    self.release(held);
                }
            }
        }
    }

    /// Destroys an object whose last reference is gone; returns objects it referenced.
    fn destroy(&mut self, object: ObjectRef) -> heapless::Vec<ObjectRef, 2> {
        let mut held = heapless::Vec::new();
        match object {
            ObjectRef::Endpoint(id) => self.destroy_endpoint(id),
            ObjectRef::Notification(id) => self.destroy_notification(id),
            ObjectRef::Memory(id) => self.destroy_memory(id),
            ObjectRef::Process(id) => self.process_unreferenced(id),
            ObjectRef::Thread(id) => self.thread_unreferenced(id),
            ObjectRef::Irq(id) => {
                if let Some(bound) = self.destroy_irq(id) {
                    let _ = held.push(bound);
                }
            }
            ObjectRef::Mmio(id) => {
                if let Some(owner) = self.mmios.remove(id).and_then(|m| m.owner) {
                    self.uncharge(owner, SMALL_OBJECT_COST);
                }
            }

            ObjectRef::System => {}
        }
        held
    }
}

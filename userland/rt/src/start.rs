//! Program start: the runtime's half of `_start`.

use crate::logger::{self, Sink};
use crate::{heap, sys, thread};
use log::LevelFilter;
use nimbus_abi::layout::root_task;
use nimbus_abi::start::{START_INFO, StartInfo};
use nimbus_abi::{Handle, ObjectType};

/// Exit code of a program started without a valid start block.
pub const BAD_START_EXIT_CODE: i32 = 102;

/// What the root task is given (see `nimbus_abi::layout::root_task`).
#[derive(Debug, Clone, Copy)]
pub struct RootStart {
    /// The system object, every right.
    pub system: Handle,
    /// Read-only memory object holding the boot archive.
    pub archive: Handle,
    /// Offset of the archive in it.
    pub archive_offset: u64,
    /// Archive length.
    pub archive_len: u64,
    /// Read-only memory object holding the device tree.
    pub dtb: Handle,
    /// Offset of the tree in it.
    pub dtb_offset: u64,
    /// Tree length.
    pub dtb_len: u64,
    /// The root task's own process.
    pub process: Handle,
}

/// What an ordinary program is given: its start block.
pub struct Start {
    info: &'static StartInfo,
}

impl Start {
    /// The program's name.
    pub fn name(&self) -> &str {
        self.info.name()
    }

    /// The handle given under `name`.
    pub fn handle(&self, name: &str) -> Option<Handle> {
        self.info
            .entries()
            .find(|(n, _, k)| *n == name && *k != nimbus_abi::start::KIND_VALUE)
            .map(|(_, h, _)| Handle(h))
    }

    /// A plain value given under `name` (device register offsets and types).
    pub fn value(&self, name: &str) -> Option<u32> {
        self.info
            .entries()
            .find(|(n, _, k)| *n == name && *k == nimbus_abi::start::KIND_VALUE)
            .map(|(_, v, _)| v)
    }

    /// Every named handle: (name, handle, object type).
    pub fn handles(&self) -> impl Iterator<Item = (&str, Handle, Option<ObjectType>)> {
        self.info
            .entries()
            .map(|(n, h, k)| (n, Handle(h), ObjectType::from_code(u64::from(k))))
    }
}

/// Runs the root task's `main`.
pub fn run_root(regs: [u64; 8], main: fn(&RootStart) -> i32) -> ! {
    let h = |i: usize| Handle(regs[i] as u32);
    let start = RootStart {
        system: h(root_task::SYSTEM),
        archive: h(root_task::ARCHIVE),
        archive_offset: regs[root_task::ARCHIVE_OFFSET],
        archive_len: regs[root_task::ARCHIVE_LEN],
        dtb: h(root_task::DTB),
        dtb_offset: regs[root_task::DTB_OFFSET],
        dtb_len: regs[root_task::DTB_LEN],
        process: h(root_task::SELF),
    };
    if thread::init_main().is_err() || heap::init().is_err() {
        sys::process_exit(BAD_START_EXIT_CODE);
    }
    logger::init("init", Sink::Kernel(start.system), LevelFilter::Info);
    let code = main(&start);
    sys::process_exit(code)
}

/// Runs an ordinary program's `main`.
pub fn run_program(main: fn(&Start) -> i32) -> ! {
    if thread::init_main().is_err() || heap::init().is_err() {
        sys::process_exit(BAD_START_EXIT_CODE);
    }
    // SAFETY: the process's creator maps a read-only start block at START_INFO before starting
    // it; StartInfo is plain data (any bytes are a valid value), and it is checked below.
    let info: &'static StartInfo = unsafe { &*(START_INFO as *const StartInfo) };
    if !info.is_valid() {
        sys::process_exit(BAD_START_EXIT_CODE);
    }
    let start = Start { info };
    let sink = match (start.handle("system"), start.handle("console")) {
        (_, Some(console)) => Sink::Endpoint(console),
        (Some(system), None) => Sink::Kernel(system),
        (None, None) => Sink::Kernel(Handle::NONE),
    };
    logger::init(start.name(), sink, LevelFilter::Info);
    let code = main(&start);
    sys::process_exit(code)
}

//! The test child: one behaviour per run, chosen by the start value `mode`.

#![no_std]
#![no_main]

extern crate alloc;

mod fuzz;

use nimbus_abi::layout::MAP_AREA;
use nimbus_abi::rights::{MAP_READ, MAP_WRITE};
use nimbus_abi::syscall::TIMEOUT_FOREVER;
use nimbus_abi::{Error, Handle, MessageInfo};
use nimbus_ktest_child::{EXIT_CODE, Mode, SHARED_PATTERN, UNMAPPED_ADDRESS};
use nimbus_rt::{Start, sys};

nimbus_rt::entry!(main);

fn main(start: &Start) -> i32 {
    let Some(mode) = start.value("mode").and_then(Mode::from_u32) else {
        log::error!("no or unknown mode");
        return 1;
    };
    match mode {
        Mode::Exit => EXIT_CODE,
        Mode::WriteText => {
            let code = main as *const () as *mut u8;
            // SAFETY: deliberately wrong: the write must fault (code is read-only), and the
            // process dies before anything observes the result.
            unsafe { code.write_volatile(0) };
            2
        }
        Mode::ReadUnmapped => {
            // SAFETY: deliberately wrong: nothing is mapped there, so the read faults.
            let value = unsafe { (UNMAPPED_ADDRESS as *const u64).read_volatile() };
            value as i32
        }
        Mode::ExecData => {
            let code: [u32; 2] = [0xd280_0000, 0xd65f_03c0]; // mov x0, #0; ret
            // SAFETY: deliberately wrong: the stack is not executable, so the call faults.
            let f: extern "C" fn() -> i32 = unsafe { core::mem::transmute(code.as_ptr()) };
            f()
        }
        Mode::Undefined => {
            // SAFETY: deliberately executes an undefined instruction; the process dies.
            unsafe { core::arch::asm!("udf #0") };
            5
        }
        Mode::Privileged => {
            // Masking interrupts is the kernel's business: at EL0 it traps (SCTLR_EL1.UMA is 0).
            // SAFETY: deliberately executes a privileged instruction; the process dies.
            unsafe { core::arch::asm!("msr daifset, #2") };
            6
        }
        Mode::StackOverflow => recurse(0) as i32,
        Mode::Misaligned => {
            let words = [0u64; 2];
            let odd = words.as_ptr() as u64 + 1;
            // SAFETY: deliberately makes an exclusive load from a misaligned address, which
            // always faults (exclusives must be aligned); the process dies.
            unsafe { core::arch::asm!("ldxr {v}, [{a}]", a = in(reg) odd, v = out(reg) _) };
            8
        }
        Mode::ProbeHandles => probe_handles() as i32,
        Mode::Echo => serve(start, true),
        Mode::Silent => serve(start, false),
        Mode::Spin => loop {
            core::hint::spin_loop();
        },
        Mode::Fuzz => fuzz::run(
            start.value("iterations").unwrap_or(10_000),
            start.value("seed").unwrap_or(1),
        ),
        Mode::AllocUntilQuota => {
            let mut count = 0;
            loop {
                match sys::mem_create(64 * 1024, 0) {
                    Ok(_) => count += 1,
                    Err(Error::QuotaExceeded) => return count,
                    Err(e) => {
                        log::error!("unexpected {e}");
                        return -1;
                    }
                }
            }
        }
        Mode::SharedWriter => shared_writer(start),
    }
}

/// Recurses until the stack runs into its guard page (on purpose: the test wants the fault).
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let buffer = [depth; 64];
    core::hint::black_box(&buffer);
    recurse(depth + 1) + buffer[0]
}

/// Counts handle values (generations 1..4, slots 1..512) that name something.
fn probe_handles() -> u32 {
    let mut found = 0;
    for generation in 1..=4u32 {
        for slot in 1..=512u32 {
            if sys::handle_info(Handle((generation << 16) | slot)).is_ok() {
                found += 1;
            }
        }
    }
    // Things that need authority it does not have must fail for lack of a handle.
    let refused = [
        sys::mmio_create(Handle(0x1_0001), 0x0900_0000, 4096).err(),
        sys::irq_create(Handle(0x1_0001), 33).err(),
        sys::debug_write(Handle(0x1_0001), b"x").err(),
    ];
    if refused.iter().any(|e| *e != Some(Error::BadHandle)) {
        return 1000;
    }
    found
}

fn serve(start: &Start, reply: bool) -> i32 {
    let Some(endpoint) = start.handle("serve") else {
        return 3;
    };
    let mut msg = match sys::ipc_recv(endpoint, TIMEOUT_FOREVER) {
        Ok(m) => m,
        Err(_) => return 4,
    };
    if !reply {
        loop {
            sys::sleep(1_000_000_000);
        }
    }
    loop {
        let handles = msg.info.handle_count();
        let len = msg.info.len();
        let _ = nimbus_rt::thread::with_ipc_buffer(|buffer| {
            buffer.data[..len].reverse();
        });
        let words = msg.words.map(|w| w.wrapping_add(1));
        let info = MessageInfo::new(msg.info.label(), len, handles);
        msg = match sys::ipc_reply_recv(endpoint, info, words, TIMEOUT_FOREVER) {
            Ok(m) => m,
            Err(_) => return 5,
        };
    }
}

fn shared_writer(start: &Start) -> i32 {
    let (Some(shm), Some(done)) = (start.handle("shm"), start.handle("done")) else {
        return 3;
    };
    let len = start.value("len").map_or(4096, u64::from);
    if sys::mem_map(Handle::NONE, shm, MAP_AREA, 0, len, MAP_READ | MAP_WRITE).is_err() {
        return 4;
    }
    for i in 0..len / 8 {
        // SAFETY: the shared memory was just mapped read-write at MAP_AREA for `len` bytes.
        unsafe { ((MAP_AREA + i * 8) as *mut u64).write_volatile(i ^ SHARED_PATTERN) };
    }
    if sys::signal(done, 1).is_err() {
        return 5;
    }
    0
}

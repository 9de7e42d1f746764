//! User processes: loading, W^X, guard pages, faults reported to the supervisor, bad pointers.

use crate::child::{self, Notice};
use crate::harness::{Context, Env, Test, ensure};
use alloc::string::String;
use nimbus_abi::fault::FaultKind;
use nimbus_abi::rights::{MAP_EXEC, MAP_READ, MAP_WRITE};
use nimbus_abi::{Error, Handle, Quota};
use nimbus_ktest_child::{EXIT_CODE, Mode, UNMAPPED_ADDRESS};
use nimbus_rt::sys;

pub const TESTS: &[Test] = &[
    Test {
        name: "user::process::exit_code_reaches_the_supervisor",
        run: exit_code,
    },
    Test {
        name: "user::process::code_is_not_writable",
        run: |env| fault(env, Mode::WriteText, FaultKind::PermissionDenied),
    },
    Test {
        name: "user::process::data_and_stack_are_not_executable",
        run: |env| fault(env, Mode::ExecData, FaultKind::PermissionDenied),
    },
    Test {
        name: "user::process::unmapped_access_is_reported_with_its_address",
        run: unmapped,
    },
    Test {
        name: "user::process::stack_overflow_hits_the_guard_page",
        run: |env| fault(env, Mode::StackOverflow, FaultKind::StackOverflow),
    },
    Test {
        name: "user::process::undefined_instruction_is_reported",
        run: |env| fault(env, Mode::Undefined, FaultKind::UndefinedInstruction),
    },
    Test {
        name: "user::process::privileged_instruction_is_reported",
        run: |env| fault(env, Mode::Privileged, FaultKind::PrivilegedInstruction),
    },
    Test {
        name: "user::process::misaligned_access_is_reported",
        run: |env| fault(env, Mode::Misaligned, FaultKind::Misaligned),
    },
    Test {
        name: "user::process::bad_user_pointers_are_errors",
        run: bad_pointers,
    },
    Test {
        name: "user::process::writable_executable_mappings_are_refused",
        run: w_xor_x,
    },
];

const SECOND: u64 = 1_000_000_000;

fn exit_code(env: &mut Env) -> Result<(), String> {
    let c = child::spawn(env, Mode::Exit, &[])?;
    let notice = child::notice(env, &c, 5 * SECOND);
    child::reap(c);
    ensure!(
        notice? == Notice::Exit(i64::from(EXIT_CODE)),
        "wrong notice"
    );
    Ok(())
}

/// Runs the child in `mode` and expects a fault notice of `kind` with a pc in its code.
fn fault(env: &mut Env, mode: Mode, kind: FaultKind) -> Result<(), String> {
    let c = child::spawn(env, mode, &[])?;
    let notice = child::notice(env, &c, 5 * SECOND);
    let (status, _) = sys::process_status(c.process).context("process status")?;
    child::reap(c);
    match notice? {
        Notice::Fault(Some(k), _, pc) => {
            ensure!(k == kind, "reported {k:?}, expected {kind:?}");
            ensure!(
                pc >= nimbus_abi::layout::PROGRAM_BASE,
                "pc {pc:#x} is not in user space"
            );
            ensure!(
                status == nimbus_abi::object::ProcessState::Faulted,
                "process state {status:?} after a fault"
            );
            Ok(())
        }
        other => Err(alloc::format!("expected a {kind:?} fault, got {other:?}")),
    }
}

fn unmapped(env: &mut Env) -> Result<(), String> {
    let c = child::spawn(env, Mode::ReadUnmapped, &[])?;
    let notice = child::notice(env, &c, 5 * SECOND);
    child::reap(c);
    match notice? {
        Notice::Fault(Some(FaultKind::UnmappedAddress), address, _) => {
            ensure!(
                address == UNMAPPED_ADDRESS,
                "fault address {address:#x}, expected {UNMAPPED_ADDRESS:#x}"
            );
            Ok(())
        }
        other => Err(alloc::format!("got {other:?}")),
    }
}

fn bad_pointers(env: &mut Env) -> Result<(), String> {
    let quota = Quota {
        memory_bytes: 1 << 20,
        handles: 8,
        threads: 1,
        max_priority: 5,
        reserved: 0,
    };
    let kernel_address = 0xffff_ffff_c000_0000u64;
    let code_address = bad_pointers as *const () as u64;
    let cases: [(&str, u64, u64); 4] = [
        ("null", 0, 8),
        ("kernel address", kernel_address, 8),
        ("unmapped", UNMAPPED_ADDRESS, 8),
        ("wraps around", u64::MAX - 3, 8),
    ];
    for (what, ptr, len) in cases {
        let args = [ptr, len, &quota as *const Quota as u64, 0, 0, 0, 0, 0];
        let out = sys::raw(nimbus_abi::Syscall::ProcessCreate, args);
        ensure!(
            out[0] == Error::BadAddress as u64,
            "ProcessCreate with a {what} name pointer returned {}",
            out[0]
        );
        let out = sys::raw(
            nimbus_abi::Syscall::DebugWrite,
            [env.system.raw(), ptr, len, 0, 0, 0, 0, 0],
        );
        ensure!(
            out[0] == Error::BadAddress as u64,
            "DebugWrite from a {what} pointer returned {}",
            out[0]
        );
    }
    // Writing into read-only memory (our own code) is refused too.
    let out = sys::raw(
        nimbus_abi::Syscall::SystemInfo,
        [
            env.system.raw(),
            nimbus_abi::info::INFO_KERNEL,
            code_address,
            4096,
            0,
            0,
            0,
            0,
        ],
    );
    ensure!(
        out[0] == Error::BadAddress as u64,
        "SystemInfo into code returned {}",
        out[0]
    );
    Ok(())
}

fn w_xor_x(_env: &mut Env) -> Result<(), String> {
    let memory = sys::mem_create(4096, 0).context("creating memory")?;
    let va = nimbus_abi::layout::MAP_AREA + (2 << 30);
    let both = sys::mem_map(
        Handle::NONE,
        memory,
        va,
        0,
        4096,
        MAP_READ | MAP_WRITE | MAP_EXEC,
    );
    let exec = sys::mem_map(Handle::NONE, memory, va, 0, 4096, MAP_READ | MAP_EXEC);
    let _ = sys::handle_close(memory);
    ensure!(
        both == Err(Error::InvalidArgument),
        "a writable, executable mapping was allowed: {both:?}"
    );
    ensure!(exec.is_ok(), "a read-execute mapping was refused: {exec:?}");
    // SAFETY: nothing uses the mapping made just above.
    unsafe { sys::mem_unmap(Handle::NONE, va, 4096) }.context("unmapping")?;
    Ok(())
}

//! The userland kernel tests: the test image's root task.
//!
//! The kernel first runs its own suite, then starts this program with every right in the
//! system. It checks the kernel's promises from where they matter, user mode: processes and W^X,
//! capabilities and quotas, IPC, scheduling, drivers in userland, faults reported to the
//! supervisor, and a hostile process. Results use the kernel test protocol (`nimbus-test:`
//! lines) and the run ends with a power-off whose exit status says whether everything passed.

#![no_std]
#![no_main]

extern crate alloc;

mod caps;
mod child;
mod drivers;
mod harness;
mod hostile;
mod ipc;
mod process;
mod sched;

use harness::{Env, Test};
use nimbus_rt::{RootStart, sys};

nimbus_rt::entry!(root: main);

fn main(root: &RootStart) -> i32 {
    let mut env = match Env::new(root) {
        Ok(env) => env,
        Err(e) => {
            log::error!("cannot set up the userland tests: {e}");
            let _ = sys::shutdown(root.system, 1);
            return 1;
        }
    };
    let suites: [&[Test]; 6] = [
        process::TESTS,
        caps::TESTS,
        ipc::TESTS,
        sched::TESTS,
        drivers::TESTS,
        hostile::TESTS,
    ];
    let failed = harness::run(&mut env, &suites);
    let _ = sys::shutdown(root.system, u64::from(failed > 0));
    i32::from(failed > 0)
}

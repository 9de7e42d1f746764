//! A hostile process: random system calls with random arguments, in two processes at once.
//! The kernel must keep running, the processes must end the way they chose (not by faulting on
//! something the kernel did), and once they are gone every frame and object is back.

use crate::child::{self, Give, Notice};
use crate::harness::{Env, Test};
use alloc::string::String;
use alloc::vec::Vec;
use nimbus_abi::Quota;
use nimbus_ktest_child::Mode;

pub const TESTS: &[Test] = &[Test {
    name: "user::hostile::100000_random_syscalls_leave_the_kernel_intact",
    run: fuzz,
}];

/// Calls each fuzzer makes.
const ITERATIONS: u32 = 50_000;

fn fuzz(env: &mut Env) -> Result<(), String> {
    let before = env.kernel()?;
    let quota = Quota {
        memory_bytes: 4 << 20,
        handles: 256,
        threads: 16,
        max_priority: 8,
        reserved: 0,
    };
    let mut children = Vec::new();
    for seed in 1..=2u32 {
        children.push(child::spawn_with(
            env,
            Mode::Fuzz,
            &quota,
            8,
            &[
                Give::Value("iterations", ITERATIONS),
                Give::Value("seed", seed),
            ],
        )?);
    }
    let mut outcomes = Vec::new();
    for c in &children {
        outcomes.push(child::notice(env, c, 120 * 1_000_000_000));
    }

    for c in children {
        child::reap(c);
    }
    let after = env.kernel()?;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome? {
            Notice::Exit(0) => {}
            other => return Err(alloc::format!("fuzzer {i} ended with {other:?}")),
        }
    }
    crate::harness::no_leak(&before, &after)
}

//! The hostile process: random system calls with random arguments.
//!
//! Arguments mix random words, handle values it holds, values that once were handles, forged
//! ones, kernel addresses, unmapped and read-only user addresses, and sizes at and past every
//! limit. Only what would end the run early is tamed: timeouts and sleeps are short (so it never
//! blocks for good), unmapping and IPC buffers stay inside a scratch area (so it never unmaps or
//! overwrites its own code, stack or heap), new threads run a function that exits (so they do not
//! fault the process), and it never exits or kills itself. Results are ignored: the point is that the kernel survives and
//! leaks nothing.

use nimbus_abi::Syscall;
use nimbus_abi::layout::MAP_AREA;
use nimbus_rt::sys;

/// Where the fuzzer may map and unmap.
const SCRATCH: u64 = MAP_AREA + (4 << 30);
const SCRATCH_SIZE: u64 = 1 << 30;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

extern "C" fn short_lived_thread(_arg: u64) -> ! {
    sys::thread_exit(0)
}

/// A stack for the threads the fuzzer creates (they only exit, so they may share it).
#[repr(C, align(16))]
struct ThreadStack([u8; 4096]);
static mut THREAD_STACK: ThreadStack = ThreadStack([0; 4096]);

fn thread_stack_top() -> u64 {
    core::ptr::addr_of!(THREAD_STACK) as u64 + 4096
}

struct Fuzzer {
    rng: Rng,
    handles: [u64; 16],
    stale: [u64; 8],
}

impl Fuzzer {
    fn remember(&mut self, value: u64) {
        if value != 0 && value < (1 << 32) {
            let slot = self.rng.below(self.handles.len() as u64) as usize;
            let old = core::mem::replace(&mut self.handles[slot], value);
            let stale = self.rng.below(self.stale.len() as u64) as usize;
            self.stale[stale] = old;
        }
    }

    /// A random argument of a random kind.
    fn arg(&mut self) -> u64 {
        let stack_local = 0u64;
        match self.rng.below(12) {
            0 => 0,
            1 => self.rng.below(16),
            2 => self.handles[self.rng.below(16) as usize],
            3 => self.stale[self.rng.below(8) as usize],
            4 => (self.rng.below(8) << 16) | self.rng.below(64),
            5 => 0xffff_ff80_0000_0000 + self.rng.below(1 << 30),
            6 => SCRATCH + self.rng.below(SCRATCH_SIZE / 4096) * 4096,
            7 => &stack_local as *const u64 as u64,
            8 => short_lived_thread as *const () as u64,
            9 => u64::MAX - self.rng.below(4096),
            10 => 1 << self.rng.below(64),
            _ => self.rng.next(),
        }
    }

    fn one(&mut self) {
        let calls = Syscall::ALL;
        let call = calls[self.rng.below(calls.len() as u64) as usize];
        let mut a = [0u64; 8];
        for slot in &mut a {
            *slot = self.arg();
        }
        match call {
            Syscall::ThreadExit | Syscall::ProcessExit => return,
            Syscall::Sleep => a[0] %= 100_000,
            Syscall::Recv | Syscall::Wait => a[1] %= 20_000,
            Syscall::Call | Syscall::Send | Syscall::ReplyRecv => a[6] %= 20_000,
            Syscall::MemUnmap => {
                a[1] = SCRATCH + self.rng.below(SCRATCH_SIZE / 4096) * 4096;
            }
            Syscall::MemMap if a[0] == 0 || self.rng.below(2) == 0 => {
                a[0] = 0;
                a[2] = SCRATCH + self.rng.below(SCRATCH_SIZE / 4096) * 4096;
            }
            // A buffer anywhere else (its own stack, say) would let messages overwrite the
            // fuzzer's own state: harmless to the kernel, but it would stop the run.
            Syscall::ThreadSetIpcBuffer => {
                a[0] = SCRATCH + self.rng.below(SCRATCH_SIZE / 4096) * 4096
            }
            Syscall::ThreadCreate => {
                a[1] = short_lived_thread as *const () as u64;
                a[2] = thread_stack_top();
            }
            // It holds no handle to itself, so any value is fair; but never 0.
            Syscall::ProcessKill if a[0] == 0 => return,
            _ => {}
        }
        let out = sys::raw(call, a);
        if out[0] == 0 {
            self.remember(out[1]);
        }
    }
}

/// Makes `iterations` random calls seeded with `seed`.
pub fn run(iterations: u32, seed: u32) -> i32 {
    let mut fuzzer = Fuzzer {
        rng: Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(seed)),
        handles: [0; 16],
        stale: [0; 8],
    };
    // Start with some real objects to mutate.
    for value in [
        sys::endpoint_create(),
        sys::notification_create(),
        sys::mem_create(4096, 0),
    ]
    .into_iter()
    .flatten()
    {
        fuzzer.remember(value.raw());
    }
    for _ in 0..iterations {
        fuzzer.one();
    }
    0
}

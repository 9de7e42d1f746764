//! What the benchmarks work with: the boot archive's programs, the endpoint where the kernel
//! reports on the processes they start, and peers (`bin/bench-peer` in their own processes, with
//! their one thread pinned to a CPU).

use crate::error::{BenchError, Context};
use nimbus_abi::info::{INFO_KERNEL, KernelRecord};
use nimbus_abi::layout::{MAP_AREA, STACK_TOP};
use nimbus_abi::rights::{MAP_READ, MAP_WRITE};
use nimbus_abi::start::{KIND_VALUE, StartInfo};
use nimbus_abi::{Handle, ObjectType, Quota, Rights};
use nimbus_bench::peer::{MODE, Mode, READY};
use nimbus_boot::archive::Archive;
use nimbus_rt::{RootStart, process, sys};
use zerocopy::FromBytes;

/// The peer program in the boot archive.
pub const PEER_PATH: &str = "bin/bench-peer";
/// The program the spawn benchmark starts.
pub const EXIT_PATH: &str = "bin/bench-exit";
/// Where the boot archive is mapped.
const ARCHIVE_VA: u64 = MAP_AREA;
/// How long a peer may take to get ready (virtual time: under `-icount` with `sleep=off` an idle
/// wait costs no host time, so a generous limit only matters when something is broken).
const READY_TIMEOUT_NS: u64 = 10_000_000_000;
/// Limits of a peer: it needs its program, stack, heap and one thread.
const PEER_QUOTA: Quota = Quota {
    memory_bytes: 4 << 20,
    handles: 16,
    threads: 2,
    max_priority: crate::suites::WAITER_PRIORITY as u32,
    reserved: 0,
};

/// The root task's view of the system.
pub struct Env {
    /// The system object, every right.
    pub system: Handle,
    /// `bin/bench-peer`.
    pub peer_image: &'static [u8],
    /// `bin/bench-exit`.
    pub exit_image: &'static [u8],
    /// Endpoint where the kernel reports the exits and faults of the processes started here.
    pub supervisor: Handle,
    /// CPUs online (at least one).
    pub cpus: u64,
    next_badge: u64,
}

impl Env {
    /// Maps the boot archive, finds the programs and creates the supervision endpoint.
    pub fn new(root: &RootStart) -> Result<Self, BenchError> {
        let pages = (root.archive_offset + root.archive_len).div_ceil(4096) * 4096;
        sys::mem_map(Handle::NONE, root.archive, ARCHIVE_VA, 0, pages, MAP_READ)
            .context("mapping the boot archive")?;
        // SAFETY: the range was just mapped read-only and is never unmapped; the kernel keeps
        // the archive's memory for the life of the system.
        let bytes = unsafe {
            core::slice::from_raw_parts(
                (ARCHIVE_VA + root.archive_offset) as *const u8,
                root.archive_len as usize,
            )
        };
        let archive = Archive::new(bytes).map_err(BenchError::Archive)?;
        let program = |path| archive.file(path).ok_or(BenchError::MissingProgram(path));
        let env = Self {
            system: root.system,
            peer_image: program(PEER_PATH)?,
            exit_image: program(EXIT_PATH)?,
            supervisor: sys::endpoint_create().context("creating the supervision endpoint")?,
            cpus: 1,
            next_badge: 1,
        };
        let cpus = env.kernel()?.cpus.max(1);
        Ok(Self { cpus, ..env })
    }

    /// A badge no other process started here has.
    pub fn badge(&mut self) -> u64 {
        self.next_badge += 1;
        self.next_badge
    }

    /// The kernel's own figures now.
    pub fn kernel(&self) -> Result<KernelRecord, BenchError> {
        let mut buf = [0u8; core::mem::size_of::<KernelRecord>()];
        sys::system_info(self.system, INFO_KERNEL, &mut buf).context("reading kernel figures")?;
        KernelRecord::read_from_bytes(&buf).map_err(|_| BenchError::Kernel {
            what: "reading kernel figures",
            error: nimbus_abi::Error::InvalidArgument,
        })
    }
}

/// A peer process being set up, then running. Dropping it kills it.
pub struct Peer {
    process: Handle,
    ready: Handle,
    start: StartInfo,
}

impl Peer {
    /// An empty process that will play `mode`.
    pub fn new(env: &mut Env, mode: Mode) -> Result<Self, BenchError> {
        let start = StartInfo::new("bench-peer").map_err(|_| BenchError::StartBlock)?;
        let badge = env.badge();
        let process = sys::process_create("bench-peer", &PEER_QUOTA, env.supervisor, badge)
            .context("creating a peer process")?;
        let ready = match sys::notification_create() {
            Ok(ready) => ready,
            Err(error) => {
                let _ = sys::process_kill(process);
                let _ = sys::handle_close(process);
                return Err(BenchError::Kernel {
                    what: "creating a notification",
                    error,
                });
            }
        };
        // From here on, dropping `peer` cleans up.
        let mut peer = Self {
            process,
            ready,
            start,
        };
        peer.start
            .push(MODE, mode as u32, KIND_VALUE)
            .map_err(|_| BenchError::StartBlock)?;
        peer.give(READY, ready, Rights::SIGNAL, ObjectType::Notification)?;
        Ok(peer)
    }

    /// Gives the peer `handle` with `rights` under `name`.
    pub fn give(
        &mut self,
        name: &str,
        handle: Handle,
        rights: Rights,
        kind: ObjectType,
    ) -> Result<(), BenchError> {
        process::give(
            self.process,
            &mut self.start,
            name,
            handle,
            rights,
            kind as u32,
        )?;
        Ok(())
    }

    /// Maps one page of `memory` read-write into the peer at `va`.
    pub fn map_page(&self, memory: Handle, va: u64) -> Result<(), BenchError> {
        sys::mem_map(self.process, memory, va, 0, 4096, MAP_READ | MAP_WRITE)
            .context("mapping the shared page into the peer")
    }

    /// Loads the peer program, starts its thread pinned to `cpu` at `priority`, and waits until
    /// it says it is ready.
    pub fn start(&mut self, env: &Env, cpu: u64, priority: u8) -> Result<(), BenchError> {
        let entry = process::load(self.process, env.peer_image, &self.start)?;
        let thread =
            sys::thread_create(self.process, entry, STACK_TOP, 0, u64::from(priority), cpu)
                .context("creating the peer's thread")?;
        let started = sys::thread_start(thread).context("starting the peer's thread");
        let _ = sys::handle_close(thread);
        started?;
        sys::wait(self.ready, READY_TIMEOUT_NS).context("waiting for the peer to get ready")?;
        Ok(())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = sys::process_kill(self.process);
        let _ = sys::handle_close(self.process);
        let _ = sys::handle_close(self.ready);
    }
}

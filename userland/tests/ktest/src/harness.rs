//! Running named tests and printing them in the kernel test protocol.

use alloc::format;
use alloc::string::String;
use nimbus_abi::info::{INFO_KERNEL, KernelRecord};
use nimbus_abi::layout::MAP_AREA;
use nimbus_abi::rights::MAP_READ;
use nimbus_abi::{Error, Handle};
use nimbus_boot::archive::Archive;
use nimbus_rt::{RootStart, sys};
use zerocopy::FromBytes;

/// A named test.
pub struct Test {
    /// `user::area::what_it_checks`.
    pub name: &'static str,
    /// The check; `Err` says what went wrong.
    pub run: fn(&mut Env) -> Result<(), String>,
}

/// Fails the current test unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Err(alloc::format!($($arg)*));
        }
    };
}
pub(crate) use ensure;

/// Turns a kernel error into a test failure saying what was being done.
pub trait Context<T> {
    /// `result.context("creating the endpoint")?`
    fn context(self, what: &str) -> Result<T, String>;
}

impl<T> Context<T> for Result<T, Error> {
    fn context(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// What every test can use.
pub struct Env {
    /// The system object, every right.
    pub system: Handle,
    /// The boot archive.
    pub archive: Archive<'static>,
    /// The device tree.
    pub dtb: &'static [u8],
    /// Endpoint where the kernel reports the children's faults and exits.
    pub supervisor: Handle,
    /// Next badge for a child.
    pub next_badge: u64,
    /// Notices that arrived for children nobody was waiting on yet: (badge, notice).
    pub notices: alloc::vec::Vec<(u64, crate::child::Notice)>,
}

fn map(object: Handle, va: u64, offset: u64, len: u64) -> Result<&'static [u8], Error> {
    let pages = (offset + len).div_ceil(4096) * 4096;
    sys::mem_map(Handle::NONE, object, va, 0, pages, MAP_READ)?;
    // SAFETY: mapped read-only just above, never unmapped; the kernel keeps the memory.
    Ok(unsafe { core::slice::from_raw_parts((va + offset) as *const u8, len as usize) })
}

impl Env {
    /// Maps the boot archive and the device tree and creates the supervision endpoint.
    pub fn new(root: &RootStart) -> Result<Self, String> {
        let bytes = map(
            root.archive,
            MAP_AREA,
            root.archive_offset,
            root.archive_len,
        )
        .context("mapping the archive")?;
        let archive = Archive::new(bytes).map_err(|e| format!("boot archive: {e}"))?;
        let dtb = map(
            root.dtb,
            MAP_AREA + (1 << 32),
            root.dtb_offset,
            root.dtb_len,
        )
        .context("mapping the device tree")?;
        let supervisor = sys::endpoint_create().context("creating the supervision endpoint")?;
        Ok(Self {
            system: root.system,
            archive,
            dtb,
            supervisor,
            next_badge: 1,
            notices: alloc::vec::Vec::new(),
        })
    }

    /// The kernel's figures now.
    pub fn kernel(&self) -> Result<KernelRecord, String> {
        let mut buf = [0u8; core::mem::size_of::<KernelRecord>()];
        sys::system_info(self.system, INFO_KERNEL, &mut buf)
            .context("reading kernel statistics")?;
        KernelRecord::read_from_bytes(&buf).map_err(|_| String::from("short kernel record"))
    }
}

/// Prints a line on the console.
pub fn print(env: &Env, line: &str) {
    let _ = sys::debug_write(env.system, line.as_bytes());
}

/// The tests to run: `nimbus.test=<text>` on the kernel command line keeps only tests whose
/// name contains the text (for people chasing one failure: `cargo xtask run --test-image --
/// -append nimbus.test=hostile`).
fn filter(dtb: &[u8]) -> Option<String> {
    let platform = nimbus_board::discover(dtb).ok()?;
    let args = platform.chosen.bootargs?;
    args.split_whitespace()
        .find_map(|a| a.strip_prefix("nimbus.test="))
        .map(String::from)
}

/// Runs every suite and prints the results; returns how many failed.
pub fn run(env: &mut Env, suites: &[&[Test]]) -> usize {
    let filter = filter(env.dtb);
    let selected = |t: &&Test| filter.as_deref().is_none_or(|f| t.name.contains(f));
    let total = suites
        .iter()
        .flat_map(|s| s.iter())
        .filter(selected)
        .count();
    print(env, &format!("nimbus-test: start {total}\n"));
    let (mut passed, mut failed) = (0, 0);
    for test in suites.iter().flat_map(|s| s.iter()).filter(selected) {
        match (test.run)(env) {
            Ok(()) => {
                passed += 1;
                print(env, &format!("nimbus-test: ok {}\n", test.name));
            }
            Err(reason) => {
                failed += 1;
                print(env, &format!("nimbus-test: FAIL {}: {reason}\n", test.name));
            }
        }
    }
    print(
        env,
        &format!("nimbus-test: done {passed} passed, {failed} failed\n"),
    );
    failed
}

/// Checks that nothing leaked between two kernel snapshots: the same number of kernel objects,
/// and every frame that is no longer free went to growing the kernel heap (which never shrinks),
/// counting one page-table page per 2 MiB of growth.
pub fn no_leak(before: &KernelRecord, after: &KernelRecord) -> Result<(), String> {
    if after.objects != before.objects {
        return Err(format!(
            "kernel objects {} -> {} (processes {} -> {}, threads {} -> {})",
            before.objects,
            after.objects,
            before.processes,
            after.processes,
            before.threads,
            after.threads
        ));
    }
    let heap_pages = after.heap_size.saturating_sub(before.heap_size) / 4096;
    let allowed = heap_pages + heap_pages.div_ceil(512);
    let lost = before.free_frames.saturating_sub(after.free_frames);
    if lost > allowed {
        return Err(format!(
            "free frames {} -> {}: {lost} gone, of which the kernel heap explains {allowed}",
            before.free_frames, after.free_frames
        ));
    }
    Ok(())
}

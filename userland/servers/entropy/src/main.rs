//! The entropy server: a userland driver for the phone's hardware entropy source.
//!
//! It finds the virtio entropy device among the virtio-mmio transports init granted it
//! (`virtio.<n>.mmio`, `.offset`, `.irq`), drives it with DMA buffers and its interrupt bound to
//! a notification ([`device`]), and hands out its bytes two ways:
//! - the [`Entropy`] protocol on `serve.entropy`, served by the main thread, for servers that
//!   `uses` entropy;
//! - the shell command `random [N]`: a second thread registers it with the console and serves
//!   [`nimbus_protocols::command::Command`] on an endpoint of its own, which the console calls.
//!
//! Without a device it says so in the log and keeps serving, answering every request with
//! [`EntropyError::NoDevice`], so clients get a clear error rather than silence or a restart
//! loop.

#![no_std]
#![no_main]

extern crate alloc;

mod device;

use alloc::format;
use alloc::string::String;
use nimbus_abi::{Handle, Rights};
use nimbus_entropy_core::{COMMAND, HELP, hex, parse_count};
use nimbus_protocol::{CallContext, KernelError};
use nimbus_protocols::command::{Command, CommandServer, Output};
use nimbus_protocols::console::ConsoleClient;
use nimbus_protocols::entropy::{Entropy, EntropyError, EntropyServer, MAX_FILL};
use nimbus_protocols::rt::Kernel;
use nimbus_rt::lock::Lock;
use nimbus_rt::thread::with_ipc_buffer;
use nimbus_rt::{Start, sys};

nimbus_rt::entry!(main);

/// Priority of the command thread: the server's own (its `priority` in system.toml, the most
/// its threads may have), like the main thread's. Keep the two equal.
const PRIORITY: u8 = 16;
/// Pause after an endpoint failed to receive, so a persistent failure cannot spin.
const RETRY_NS: u64 = 100_000_000;
/// Deadline for each attempt to register the shell command.
const REGISTER_TIMEOUT_NS: u64 = 2_000_000_000;
/// Attempts to register the shell command.
const REGISTER_ATTEMPTS: usize = 5;
/// How long the command thread waits for a command before registering it again. The console
/// forgets every registration when it restarts, and nothing tells its clients; registering
/// again (which replaces our own registration) is how `random` comes back after a restart.
const REREGISTER_NS: u64 = 5_000_000_000;

/// The device, shared by both threads; None when there is none.
static RNG: Lock<Option<device::Rng>> = Lock::new(None);

/// Fills `out` (1 to [`MAX_FILL`] bytes) from the device.
fn fill(out: &mut [u8]) -> Result<(), EntropyError> {
    if out.is_empty() || out.len() > MAX_FILL {
        return Err(EntropyError::BadLength {
            max: MAX_FILL as u16,
        });
    }
    let mut rng = RNG.lock();
    let rng = rng.as_mut().ok_or(EntropyError::NoDevice)?;
    rng.fill(out).map_err(|_| EntropyError::Device)
}

fn main(start: &Start) -> i32 {
    match device::find(start) {
        Ok((rng, at)) => {
            *RNG.lock() = Some(rng);
            log::info!(
                "virtio entropy device on transport virtio.{} of {}, interrupt-driven",
                at.index,
                at.count
            );
        }
        Err(e) => log::error!("{e}; answering every request with an error"),
    }
    match start.handle("console") {
        Some(console) => {
            if let Err(e) = nimbus_rt::thread::spawn(PRIORITY, None, move || commands(console)) {
                log::error!("cannot start the command thread: {e}; no `{COMMAND}` command");
            }
        }
        None => log::warn!("no `console` handle: no `{COMMAND}` command"),
    }
    let Some(endpoint) = start.handle("serve.entropy") else {
        log::warn!("no `serve.entropy` endpoint: only the shell command is served");
        park();
    };
    let mut service = Service { out: [0; MAX_FILL] };
    loop {
        let ended = with_ipc_buffer(|buffer| {
            nimbus_protocol::serve(&Kernel::new(), endpoint, buffer, |msg| {
                Entropy::dispatch(&mut service, msg)
            })
        });
        match ended {
            Ok(e) => log::warn!("entropy endpoint: {e}"),
            Err(e) => log::error!("the main thread has no IPC buffer: {e}"),
        }
        sys::sleep(RETRY_NS);
    }
}

/// Sleeps forever (a thread with nothing left to do, that must not end the process).
fn park() -> ! {
    loop {
        sys::sleep(nimbus_abi::syscall::TIMEOUT_FOREVER);
    }
}

/// The [`Entropy`] service.
struct Service {
    out: [u8; MAX_FILL],
}

impl EntropyServer for Service {
    fn fill(&mut self, _cx: &CallContext, len: u16) -> Result<&[u8], EntropyError> {
        let out = self
            .out
            .get_mut(..usize::from(len))
            .ok_or(EntropyError::BadLength {
                max: MAX_FILL as u16,
            })?;
        fill(out)?;
        Ok(out)
    }
}

/// The command thread: registers `random` with the console, then serves it.
fn commands(console: Handle) {
    let endpoint = match sys::endpoint_create() {
        Ok(e) => e,
        Err(e) => return log::error!("cannot create the command endpoint: {e}"),
    };
    match register(console, endpoint) {
        Ok(_) => log::info!("shell command `{COMMAND}` registered with the console"),
        Err(e) => log::error!("cannot register `{COMMAND}` with the console: {e}"),
    }
    let mut commands = Commands {
        text: String::new(),
    };
    let transport = Kernel::with_timeout(REREGISTER_NS);
    loop {
        let ended = with_ipc_buffer(|buffer| {
            nimbus_protocol::serve(&transport, endpoint, buffer, |msg| {
                Command::dispatch(&mut commands, msg)
            })
        });
        match ended {
            Ok(KernelError::TimedOut) => {
                match register(console, endpoint) {
                    // Still registered: the usual case.
                    Ok(false) => {}
                    Ok(true) => log::info!(
                        "shell command `{COMMAND}` registered with the console again (it restarted)"
                    ),
                    Err(e) => log::warn!("cannot register `{COMMAND}` with the console: {e}"),
                }
                continue;
            }
            Ok(e) => log::warn!("command endpoint: {e}"),
            Err(e) => log::error!("the command thread has no IPC buffer: {e}"),
        }
        sys::sleep(RETRY_NS);
    }
}

/// Hands the console a send right to `endpoint` for [`COMMAND`], retrying while the console
/// does not answer (it may still be starting). Answers whether the console had not known it.
fn register(console: Handle, endpoint: Handle) -> Result<bool, String> {
    let client = ConsoleClient::new(Kernel::with_timeout(REGISTER_TIMEOUT_NS), console);
    let mut last = String::new();
    for _ in 0..REGISTER_ATTEMPTS {
        let send = sys::handle_duplicate(endpoint, Rights::SEND | Rights::TRANSFER)
            .map_err(|e| format!("cannot make a send right: {e}"))?;
        let answer = with_ipc_buffer(|buf| client.register_command(buf, COMMAND, HELP, send));
        // The kernel gave the console its own copy (or none, if the call failed).
        let _ = sys::handle_close(send);
        match answer {
            Ok(Ok(Ok(new))) => return Ok(new),
            // The console refused: asking again will not help.
            Ok(Ok(Err(e))) => return Err(format!("{e}")),
            Ok(Err(e)) => last = format!("{e}"),
            Err(e) => return Err(format!("no IPC buffer: {e}")),
        }
        sys::sleep(RETRY_NS);
    }
    Err(last)
}

/// The shell command.
struct Commands {
    /// The last answer (its output is always one page).
    text: String,
}

impl CommandServer for Commands {
    fn run(&mut self, _cx: &CallContext, name: &str, args: &str, page: u16) -> Output<'_> {
        if page > 0 {
            return Output::text("");
        }
        self.text = if name == COMMAND {
            random(args)
        } else {
            format!("{name}: not a command of the entropy server\n")
        };
        Output::text(&self.text)
    }
}

/// What `random <args>` prints.
fn random(args: &str) -> String {
    let count = match parse_count(args) {
        Ok(n) => n,
        Err(e) => return format!("{COMMAND}: {e}\n"),
    };
    let mut bytes = [0u8; MAX_FILL];
    let Some(out) = bytes.get_mut(..count) else {
        return format!("{COMMAND}: at most {MAX_FILL} bytes\n");
    };
    match fill(out) {
        Ok(()) => hex(out),
        Err(e) => format!("{COMMAND}: {e}\n"),
    }
}

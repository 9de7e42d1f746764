//! Supervision: init waits on one endpoint for the kernel's notices about its servers (faults,
//! exits) and for requests to its own service, and restarts what its policy says to restart.
//!
//! A server that keeps failing (more than [`CRASH_LIMIT`] times within [`CRASH_WINDOW_NS`]) is
//! left stopped, so a broken server cannot make the phone spend its life restarting it.
//!
//! Messages whose badge has the [`SUPERVISED`] bit are the kernel's notices; every other message
//! is a request of the [`Init`] protocol from a server that `uses` init (its badge is the
//! server's index + 1): list the servers, stop one, restart one. init itself is not a listed
//! server and cannot be stopped. Stopping a process makes no notice, so a stopped server stays
//! stopped; a notice that was already queued when init stopped or replaced a process is
//! recognised as stale (the process it names is not the one that stopped) and ignored.

use crate::boot::BootFiles;
use crate::spawn::{self, Context, SUPERVISED};
use alloc::string::String;
use alloc::vec::Vec;
use nimbus_abi::fault::FaultKind;
use nimbus_abi::info::{INFO_PROCESSES, ProcessRecord};
use nimbus_abi::ipc::{EXIT_LABEL, FAULT_LABEL};
use nimbus_abi::object::ProcessState;
use nimbus_abi::{Error, Handle, MessageInfo};
use nimbus_manifest::{Manifest, Restart};
use nimbus_protocol::{CallContext, RawMessage, Rejected, status};
use nimbus_protocols::init::{
    ControlError, INIT_NAME, Init, InitServer, MAX_SERVER_NAME, SERVERS_PER_PAGE, ServerInfo,
    ServerPage, ServerState as Life,
};
use nimbus_protocols::rt::Kernel;
use nimbus_rt::{RootStart, sys};
use zerocopy::{FromZeros, IntoBytes};

/// Most restarts within [`CRASH_WINDOW_NS`] before init gives up on a server.
pub const CRASH_LIMIT: usize = 5;
/// The window for [`CRASH_LIMIT`].
pub const CRASH_WINDOW_NS: u64 = 10_000_000_000;
/// Processes looked at when finding servers' process ids for [`Init::servers`].
const PID_SCAN: usize = 128;
/// Pause after the endpoint failed to receive, so a persistent failure cannot spin.
const RETRY_NS: u64 = 100_000_000;

/// The state of one server.
pub struct ServerState {
    /// Its process, while it runs.
    pub process: Option<Handle>,
    /// How many times it was restarted.
    pub restarts: u32,
    /// When it last failed (most recent last).
    failures: Vec<u64>,
    /// init gave up restarting it.
    pub given_up: bool,
}

/// init's supervision state.
pub struct Supervisor {
    system: Handle,
    endpoint: Handle,
    files: BootFiles,
    manifest: Manifest,
    services: Vec<(String, Handle)>,
    servers: Vec<ServerState>,
}

impl Supervisor {
    /// Creates init's endpoint and one endpoint per service.
    pub fn new(root: &RootStart, files: BootFiles, manifest: Manifest) -> Result<Self, Error> {
        let endpoint = sys::endpoint_create()?;
        let mut services = Vec::new();
        for name in spawn::provided_services(&manifest.servers) {
            services.push((name, sys::endpoint_create()?));
        }
        let servers = manifest
            .servers
            .iter()
            .map(|_| ServerState {
                process: None,
                restarts: 0,
                failures: Vec::new(),
                given_up: false,
            })
            .collect();
        Ok(Self {
            system: root.system,
            endpoint,
            files,
            manifest,
            services,
            servers,
        })
    }

    fn context(&self) -> Context<'_> {
        Context {
            system: self.system,
            endpoint: self.endpoint,
            services: &self.services,
            files: &self.files,
        }
    }

    fn start(&mut self, index: usize) -> bool {
        let Some(server) = self.manifest.servers.get(index) else {
            return false;
        };
        match spawn::spawn(&self.context(), server, index) {
            Ok(process) => {
                log::info!("started {}", server.name);
                if let Some(state) = self.servers.get_mut(index) {
                    state.process = Some(process);
                }
                true
            }
            Err(e) => {
                log::error!("cannot start {}: {e}", server.name);
                false
            }
        }
    }

    /// Starts every server in manifest order; returns how many are running.
    pub fn start_all(&mut self) -> usize {
        (0..self.manifest.servers.len())
            .filter(|&i| self.start(i))
            .count()
    }

    /// Stops server `index` (if running) and reclaims everything it held.
    fn stop(&mut self, index: usize) {
        if let Some(process) = self.servers.get_mut(index).and_then(|s| s.process.take()) {
            let _ = sys::process_kill(process);
            let _ = sys::handle_close(process);
        }
    }

    /// A server died: report it and, per its policy, restart it.
    fn on_death(&mut self, index: usize, what: &str) {
        let Some(server) = self.manifest.servers.get(index) else {
            return;
        };
        let name = server.name.clone();
        let policy = server.restart;
        log::warn!("{name} {what}");
        self.stop(index);
        let now = sys::clock_now();
        let Some(state) = self.servers.get_mut(index) else {
            return;
        };
        state
            .failures
            .retain(|t| now.saturating_sub(*t) < CRASH_WINDOW_NS);
        state.failures.push(now);
        if policy == Restart::Never {
            return;
        }
        if state.failures.len() > CRASH_LIMIT {
            state.given_up = true;
            log::error!(
                "{name} failed {} times in {} s; not restarting it",
                state.failures.len(),
                CRASH_WINDOW_NS / 1_000_000_000
            );
            return;
        }
        state.restarts += 1;
        let restarts = state.restarts;
        if self.start(index) {
            log::info!("restarted {name} (restart {restarts})");
        }
    }

    /// Whether a notice about server `index` is about its current process. One queued before
    /// init stopped or replaced that process is not: the process it names is gone, and the
    /// current one (if any) still runs.
    fn is_current(&self, index: usize) -> bool {
        match self.servers.get(index).and_then(|s| s.process) {
            None => false,
            Some(process) => {
                !matches!(sys::process_status(process), Ok((ProcessState::Running, _)))
            }
        }
    }

    fn on_notice(&mut self, index: usize, info: MessageInfo, words: [u64; 4]) {
        if !self.is_current(index) {
            return;
        }
        match info.label() {
            FAULT_LABEL => {
                let kind = FaultKind::from_code(words[0]).map_or("fault", FaultKind::describe);
                let what = alloc::format!("stopped: {kind} at {:#x}, pc {:#x}", words[1], words[2]);
                self.on_death(index, &what);
            }
            EXIT_LABEL => {
                let what = alloc::format!("exited with code {}", words[0] as i64);
                self.on_death(index, &what);
            }
            other => log::warn!("unexpected kernel notice {other:#x}"),
        }
    }

    /// One message on init's endpoint: a kernel notice, or an [`Init`] request.
    fn handle(&mut self, msg: &mut RawMessage<'_>) -> Result<(), Rejected> {
        if msg.badge & SUPERVISED != 0 {
            self.on_notice((msg.badge & !SUPERVISED) as usize, msg.info, msg.words);
            // A notice is not a call: the reply that follows goes nowhere.
            msg.info = MessageInfo::label_only(status::OK);
            msg.words = [0; 4];
            return Ok(());
        }
        Init::dispatch(self, msg)
    }

    /// Serves forever.
    pub fn run(&mut self) -> ! {
        let endpoint = self.endpoint;
        loop {
            let ended = nimbus_rt::thread::with_ipc_buffer(|buffer| {
                nimbus_protocol::serve(&Kernel::new(), endpoint, buffer, |msg| self.handle(msg))
            });
            match ended {
                Ok(e) => log::warn!("supervision endpoint: {e}"),
                Err(e) => log::error!("supervision needs the IPC buffer: {e}"),
            }
            sys::sleep(RETRY_NS);
        }
    }

    /// The servers and their state, for people.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &ServerState)> {
        self.manifest
            .servers
            .iter()
            .map(|s| s.name.as_str())
            .zip(self.servers.iter())
    }

    /// The number of the server called `name`, for [`Init::kill`] and [`Init::restart`].
    fn find(&self, name: &str) -> Result<usize, ControlError> {
        if name == INIT_NAME {
            return Err(ControlError::Protected);
        }
        self.entries()
            .position(|(n, _)| n == name)
            .ok_or(ControlError::NoSuchServer)
    }

    /// Who called, for the log: the server whose badge `cx` carries.
    fn caller(&self, cx: &CallContext) -> &str {
        cx.badge
            .checked_sub(1)
            .and_then(|i| self.manifest.servers.get(i as usize))
            .map_or("?", |s| s.name.as_str())
    }

    /// Process ids of the running processes, by name, when the name is unambiguous.
    fn pids(&self) -> Vec<(String, u32)> {
        let mut records = Vec::new();
        records.resize(PID_SCAN, ProcessRecord::new_zeroed());
        let Ok(written) = sys::system_info(self.system, INFO_PROCESSES, records.as_mut_bytes())
        else {
            return Vec::new();
        };
        records.truncate(written / core::mem::size_of::<ProcessRecord>());
        let running = |r: &&ProcessRecord| r.state == ProcessState::Running as u32;
        let name = |r: &ProcessRecord| {
            let len = r.name.iter().position(|&b| b == 0).unwrap_or(r.name.len());
            core::str::from_utf8(r.name.get(..len).unwrap_or(&[]))
                .unwrap_or("")
                .into()
        };
        let mut pids: Vec<(String, u32)> = Vec::new();
        let mut ambiguous: Vec<String> = Vec::new();
        for record in records.iter().filter(running) {
            let n: String = name(record);
            if pids.iter().any(|(p, _)| *p == n) {
                ambiguous.push(n);
            } else {
                pids.push((n, record.pid));
            }
        }
        pids.retain(|(n, _)| !ambiguous.contains(n));
        pids
    }
}

impl InitServer for Supervisor {
    fn servers(&mut self, _cx: &CallContext, first: u16) -> ServerPage {
        let pids = self.pids();
        let mut page = ServerPage {
            total: u16::try_from(self.servers.len()).unwrap_or(u16::MAX),
            servers: heapless::Vec::new(),
        };
        let listed = self
            .entries()
            .enumerate()
            .skip(first.into())
            .take(SERVERS_PER_PAGE);
        for (index, (name, state)) in listed {
            let life = match (state.process, state.given_up) {
                (Some(_), _) => Life::Running,
                (None, true) => Life::GivenUp,
                (None, false) => Life::Stopped,
            };
            let pid = state
                .process
                .and_then(|_| pids.iter().find(|(n, _)| n == name).map(|(_, p)| *p));
            let info = ServerInfo {
                index: u16::try_from(index).unwrap_or(u16::MAX),
                name: nimbus_protocols::truncate(name, MAX_SERVER_NAME)
                    .try_into()
                    .unwrap_or_default(),
                state: life,
                pid,
                restarts: state.restarts,
            };
            if page.servers.push(info).is_err() {
                break;
            }
        }
        page
    }

    fn kill(&mut self, cx: &CallContext, name: &str) -> Result<(), ControlError> {
        let index = self.find(name)?;
        if self.servers.get(index).and_then(|s| s.process).is_none() {
            return Err(ControlError::NotRunning);
        }
        self.stop(index);
        log::info!("stopped {name} (asked by {})", self.caller(cx));
        Ok(())
    }

    fn restart(&mut self, cx: &CallContext, name: &str) -> Result<(), ControlError> {
        let index = self.find(name)?;
        self.stop(index);
        let restarts = match self.servers.get_mut(index) {
            Some(state) => {
                state.given_up = false;
                state.failures.clear();
                state.restarts += 1;
                state.restarts
            }
            None => return Err(ControlError::NoSuchServer),
        };
        if !self.start(index) {
            return Err(ControlError::StartFailed);
        }
        log::info!(
            "restarted {name} (restart {restarts}, asked by {})",
            self.caller(cx)
        );
        Ok(())
    }
}

//! init's own service: the servers it supervises, and stopping or restarting them (the shell's
//! `servers`, `kill` and `restart`).
//!
//! Servers are numbered in manifest order; the badge of a server's handle to any service is its
//! number + 1, so a service can name its callers by looking them up here ([`ServerInfo::index`]).
//! The list travels in pages of [`SERVERS_PER_PAGE`] so any number of servers fits.
//! init itself is not in the list and cannot be stopped through this protocol.

use serde::{Deserialize, Serialize};

/// Longest server name that travels (the manifest allows fewer).
pub const MAX_SERVER_NAME: usize = 32;
/// Servers in one page of [`Init::servers`].
pub const SERVERS_PER_PAGE: usize = 32;
/// The name init answers to; [`Init::kill`] and [`Init::restart`] refuse it.
pub const INIT_NAME: &str = "init";

/// What init knows about a server's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerState {
    /// Its process exists.
    Running,
    /// Not running: stopped on request, exited with restart "never", or could not start.
    Stopped,
    /// It kept failing, so init stopped restarting it.
    GivenUp,
}

impl ServerState {
    /// A word for tables.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Stopped => "stopped",
            Self::GivenUp => "given-up",
        }
    }
}

/// One supervised server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Its number: position in the manifest (its handles' badges are this + 1).
    pub index: u16,
    /// Its name in the manifest.
    pub name: heapless::String<MAX_SERVER_NAME>,
    /// Running or not.
    pub state: ServerState,
    /// The kernel's process id, while it runs (when init could tell).
    pub pid: Option<u32>,
    /// How many times it was restarted (after failures or on request).
    pub restarts: u32,
}

/// A page of the server list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerPage {
    /// How many servers there are in all.
    pub total: u16,
    /// Servers from the `first` that was asked for on, in manifest order.
    pub servers: heapless::Vec<ServerInfo, SERVERS_PER_PAGE>,
}

/// Why init refused to stop or restart a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControlError {
    /// No server has that name.
    NoSuchServer,
    /// init itself: it cannot be stopped.
    Protected,
    /// `kill` of a server that is not running.
    NotRunning,
    /// The server was stopped but could not be started again (see init's log).
    StartFailed,
}

impl core::fmt::Display for ControlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NoSuchServer => "no server has that name",
            Self::Protected => "init cannot be stopped",
            Self::NotRunning => "it is not running",
            Self::StartFailed => "it could not be started again (see the log)",
        })
    }
}

nimbus_protocol::protocol! {
    /// init, the supervisor of every server.
    pub protocol Init: id = 0x0003, version = 1 {
        /// Servers `first..`, at most [`SERVERS_PER_PAGE`] of them, in manifest order.
        fn servers(first: u16) -> ServerPage;
        /// Stops server `name` and leaves it stopped (until `restart`).
        fn kill(name: &str) -> Result<(), ControlError>;
        /// Stops server `name` if it runs, then starts it again. A server that restarts itself
        /// is stopped while it waits for the answer, and never gets one.
        fn restart(name: &str) -> Result<(), ControlError>;
    }
}

/// Most pages [`all_servers`] fetches, so a confused server cannot keep a client looping.
const MAX_PAGES: usize = 64;

/// Every server, fetching page after page; `visit` sees each in order. Returns how many there
/// are in all.
pub fn all_servers<T: nimbus_protocol::Transport>(
    client: &InitClient<T>,
    buf: &mut nimbus_protocol::IpcBuffer,
    mut visit: impl FnMut(&ServerInfo),
) -> Result<u16, nimbus_protocol::ProtocolError> {
    let mut next: u16 = 0;
    let mut total = 0;
    for _ in 0..MAX_PAGES {
        let page = client.servers(buf, next)?;
        total = page.total;
        page.servers.iter().for_each(&mut visit);
        let got = u16::try_from(page.servers.len()).unwrap_or(u16::MAX);
        next = next.saturating_add(got);
        if got == 0 || next >= total {
            break;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_page_fits_one_message() {
        let info = ServerInfo {
            index: u16::MAX,
            name: heapless::String::try_from("x".repeat(MAX_SERVER_NAME).as_str()).unwrap(),
            state: ServerState::GivenUp,
            pid: Some(u32::MAX),
            restarts: u32::MAX,
        };
        let mut page = ServerPage {
            total: u16::MAX,
            servers: heapless::Vec::new(),
        };
        for _ in 0..SERVERS_PER_PAGE {
            page.servers.push(info.clone()).unwrap();
        }
        let mut ipc = Box::new(nimbus_protocol::IpcBuffer {
            handles: [0; 4],
            data: [0; nimbus_abi::ipc::IPC_DATA_SIZE],
        });
        let mut enc = nimbus_protocol::Encoder::new(&mut ipc);
        enc.put(&page);
        let used = enc.len();
        assert!(enc.finish(0).is_ok(), "a page does not fit: {used} bytes");
    }

    #[test]
    fn states_and_errors_read_well() {
        assert_eq!(ServerState::GivenUp.as_str(), "given-up");
        assert!(ControlError::Protected.to_string().contains("init"));
    }
}

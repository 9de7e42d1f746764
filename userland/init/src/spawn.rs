//! Starting one server as the manifest describes it.

use crate::boot::BootFiles;
use crate::devices;
use alloc::string::String;
use alloc::vec::Vec;
use nimbus_abi::start::StartInfo;
use nimbus_abi::{Handle, ObjectType, Quota, Rights};
use nimbus_manifest::{INIT_SERVICE, Server, SystemRight};
use nimbus_rt::process::{self as loader};
use nimbus_rt::{Error, sys};

/// Badge bit of kernel notices about supervised servers (the rest is the server index).
pub const SUPERVISED: u64 = 1 << 32;

/// What a server is started with.
pub struct Context<'a> {
    /// The system object (every right).
    pub system: Handle,
    /// init's endpoint: supervision notices and the init service.
    pub endpoint: Handle,
    /// Endpoints of every provided service, by name.
    pub services: &'a [(String, Handle)],
    /// The boot files.
    pub files: &'a BootFiles,
}

/// Why a server could not start.
#[derive(Debug)]
pub enum SpawnError {
    /// Its program is not in the boot archive.
    NoProgram,
    /// Loading its program failed.
    Load(loader::LoaderError),
    /// Its devices could not be granted.
    Devices(devices::DeviceError),
    /// Its start block overflowed.
    StartBlock,
    /// The kernel refused.
    Kernel(Error),
}

impl From<Error> for SpawnError {
    fn from(e: Error) -> Self {
        Self::Kernel(e)
    }
}

impl core::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoProgram => write!(f, "its program is not in the boot archive"),
            Self::Load(e) => write!(f, "cannot load its program: {e}"),
            Self::Devices(e) => write!(f, "cannot give it its devices: {e}"),
            Self::StartBlock => write!(f, "too many handles for its start block"),
            Self::Kernel(e) => write!(f, "{e}"),
        }
    }
}

fn endpoint_of(cx: &Context<'_>, service: &str) -> Option<Handle> {
    if service == INIT_SERVICE {
        return Some(cx.endpoint);
    }
    cx.services
        .iter()
        .find(|(name, _)| name == service)
        .map(|(_, h)| *h)
}

fn push(
    start: &mut StartInfo,
    name: &str,
    handle: Handle,
    kind: ObjectType,
) -> Result<(), SpawnError> {
    start
        .push(name, handle.0, kind as u32)
        .map_err(|_| SpawnError::StartBlock)
}

fn grant_handles(
    cx: &Context<'_>,
    server: &Server,
    index: usize,
    process: Handle,
    start: &mut StartInfo,
) -> Result<(), SpawnError> {
    for service in &server.provides {
        let endpoint = endpoint_of(cx, service).ok_or(SpawnError::Kernel(Error::BadHandle))?;
        let granted = sys::handle_grant(process, endpoint, Rights::RECEIVE)?;
        let mut name = heapless::String::<32>::new();
        let _ = core::fmt::write(&mut name, format_args!("serve.{service}"));
        push(start, &name, granted, ObjectType::Endpoint)?;
    }
    for service in &server.uses {
        let endpoint = endpoint_of(cx, service).ok_or(SpawnError::Kernel(Error::BadHandle))?;
        // The badge tells the service which server is calling.
        let minted = sys::handle_mint(endpoint, Rights::SEND | Rights::TRANSFER, index as u64 + 1)?;
        let granted = sys::handle_grant(process, minted, Rights::SEND);
        let _ = sys::handle_close(minted);
        push(start, service, granted?, ObjectType::Endpoint)?;
    }
    if !server.system.is_empty() {
        let mut rights = Rights::empty();
        for right in &server.system {
            rights |= match right {
                SystemRight::Log => Rights::LOG,
                SystemRight::Info => Rights::INFO,
                SystemRight::Control => Rights::CONTROL,
            };
        }
        let granted = sys::handle_grant(process, cx.system, rights)?;
        push(start, "system", granted, ObjectType::System)?;
    }
    for device in &server.devices {
        devices::grant(cx.system, cx.files.dtb, device, process, start)
            .map_err(SpawnError::Devices)?;
    }
    Ok(())
}

/// Starts server number `index`; returns its process handle.
pub fn spawn(cx: &Context<'_>, server: &Server, index: usize) -> Result<Handle, SpawnError> {
    let image = cx
        .files
        .program(&server.binary)
        .ok_or(SpawnError::NoProgram)?;
    let quota = Quota {
        memory_bytes: server.memory,
        handles: server.handles,
        threads: server.threads,
        max_priority: u32::from(server.priority),
        reserved: 0,
    };
    let process =
        sys::process_create(&server.name, &quota, cx.endpoint, SUPERVISED | index as u64)?;
    let result = (|| {
        let mut start = StartInfo::new(&server.name).map_err(|_| SpawnError::StartBlock)?;
        grant_handles(cx, server, index, process, &mut start)?;
        loader::start_process(process, image, &start, server.priority).map_err(SpawnError::Load)
    })();
    match result {
        Ok(()) => Ok(process),
        Err(e) => {
            let _ = sys::process_kill(process);
            let _ = sys::handle_close(process);
            Err(e)
        }
    }
}

/// Names of services every server provides, for creating their endpoints.
pub fn provided_services(servers: &[Server]) -> Vec<String> {
    servers
        .iter()
        .flat_map(|s| s.provides.iter().cloned())
        .collect()
}

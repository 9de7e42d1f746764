//! The system manifest: every server, its priority and quotas, the services it provides and
//! uses, the devices it drives and the kernel rights it holds.
//!
//! People write it as TOML (`system.toml` at the top of the repository); xtask checks it and
//! compiles it into this binary form (postcard) in the boot archive at [`MANIFEST_PATH`]; init
//! reads it and starts each server with exactly what it lists — nothing else. The same
//! [`Manifest::validate`] runs at build time and again in init.

#![cfg_attr(not(test), no_std)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Where the compiled manifest lives in the boot archive.
pub const MANIFEST_PATH: &str = "etc/manifest";
/// Format version.
pub const VERSION: u32 = 1;
/// Longest server or service name.
pub const MAX_NAME: usize = 24;
/// Highest priority.
pub const MAX_PRIORITY: u8 = 31;
/// Least memory a server may be given.
pub const MIN_MEMORY: u64 = 64 * 1024;
/// The service init itself provides (server control for the shell); always available.
pub const INIT_SERVICE: &str = "init";

/// The whole system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`VERSION`].
    pub version: u32,
    /// Servers, started in this order.
    pub servers: Vec<Server>,
}

/// One server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// Unique name (lower-case letters, digits, '-').
    pub name: String,
    /// Program in the boot archive, under `bin/`.
    pub binary: String,
    /// Priority of its threads (0..=31, higher runs first).
    pub priority: u8,
    /// Memory quota in bytes.
    pub memory: u64,
    /// Most handles it may hold.
    pub handles: u32,
    /// Most threads it may have.
    pub threads: u32,
    /// Services it serves: init creates an endpoint for each and hands it the receiving side.
    pub provides: Vec<String>,
    /// Services it may call: it gets a badged send-only handle to each.
    pub uses: Vec<String>,
    /// Devices it drives.
    pub devices: Vec<Device>,
    /// Rights on the kernel's system object.
    pub system: Vec<SystemRight>,
    /// What init does when it dies.
    pub restart: Restart,
}

/// Devices a server is given, found in the device tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Prefix of the handle names (`<name>.<n>.mmio`, `<name>.<n>.irq`).
    pub name: String,
    /// Which devices.
    pub select: DeviceSelect,
}

/// How devices are chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceSelect {
    /// Every enabled node whose `compatible` list contains this string.
    Compatible(String),
    /// The UART the device tree names as the console (`/chosen/stdout-path`).
    ConsoleUart,
}

/// Rights on the system object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SystemRight {
    /// Write to the kernel console.
    Log,
    /// Read kernel statistics and the kernel log.
    Info,
    /// Change kernel settings, take the console over, power off.
    Control,
}

/// Restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Restart {
    /// Restart it whenever it faults or exits.
    Always,
    /// Leave it stopped.
    Never,
}

/// What is wrong with a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestError {
    /// The bytes are not a manifest.
    Malformed,
    /// Written for another format version.
    Version(u32),
    /// No servers.
    Empty,
    /// A name is empty, too long, or has characters other than a-z, 0-9 and '-'.
    BadName(String),
    /// Two servers share a name.
    DuplicateServer(String),
    /// Two servers provide the same service.
    DuplicateService(String),
    /// A server uses a service nobody provides.
    UnknownService { server: String, service: String },
    /// A server uses a service it provides itself.
    UsesItself { server: String, service: String },
    /// Priority above [`MAX_PRIORITY`].
    Priority { server: String, priority: u8 },
    /// Memory below [`MIN_MEMORY`].
    Memory { server: String, memory: u64 },
    /// Zero threads or handles.
    Limits(String),
    /// A device entry's name or compatible string is empty or too long.
    BadDevice { server: String, device: String },
}

impl core::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Malformed => write!(f, "not a system manifest"),
            Self::Version(v) => write!(f, "manifest version {v}, expected {VERSION}"),
            Self::Empty => write!(f, "the manifest lists no servers"),
            Self::BadName(n) => write!(
                f,
                "bad name {n:?}: use 1-{MAX_NAME} characters from a-z, 0-9 and '-'"
            ),
            Self::DuplicateServer(n) => write!(f, "two servers are called {n:?}"),
            Self::DuplicateService(s) => write!(f, "service {s:?} is provided twice"),
            Self::UnknownService { server, service } => {
                write!(f, "{server} uses {service:?}, which no server provides")
            }
            Self::UsesItself { server, service } => {
                write!(f, "{server} uses {service:?}, which it provides itself")
            }
            Self::Priority { server, priority } => {
                write!(f, "{server}: priority {priority} is above {MAX_PRIORITY}")
            }
            Self::Memory { server, memory } => {
                write!(f, "{server}: memory {memory} bytes is below {MIN_MEMORY}")
            }
            Self::Limits(server) => write!(f, "{server}: threads and handles must be at least 1"),
            Self::BadDevice { server, device } => {
                write!(f, "{server}: bad device entry {device:?}")
            }
        }
    }
}

fn check_name(name: &str) -> Result<(), ManifestError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ManifestError::BadName(name.into()))
    }
}

impl Manifest {
    /// Checks the rules every manifest must follow.
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.version != VERSION {
            return Err(ManifestError::Version(self.version));
        }
        if self.servers.is_empty() {
            return Err(ManifestError::Empty);
        }
        let mut names: Vec<&str> = Vec::new();
        let mut services: Vec<&str> = Vec::new();
        for server in &self.servers {
            check_name(&server.name)?;
            if names.contains(&server.name.as_str()) {
                return Err(ManifestError::DuplicateServer(server.name.clone()));
            }
            names.push(&server.name);
            check_name(&server.binary)?;
            if server.priority > MAX_PRIORITY {
                return Err(ManifestError::Priority {
                    server: server.name.clone(),
                    priority: server.priority,
                });
            }
            if server.memory < MIN_MEMORY {
                return Err(ManifestError::Memory {
                    server: server.name.clone(),
                    memory: server.memory,
                });
            }
            if server.threads == 0 || server.handles == 0 {
                return Err(ManifestError::Limits(server.name.clone()));
            }
            for service in &server.provides {
                check_name(service)?;
                if service == INIT_SERVICE {
                    return Err(ManifestError::DuplicateService(service.clone()));
                }
                if services.contains(&service.as_str()) {
                    return Err(ManifestError::DuplicateService(service.clone()));
                }
                services.push(service);
            }
            for device in &server.devices {
                let compatible_ok = match &device.select {
                    DeviceSelect::Compatible(c) => !c.is_empty() && c.len() <= 64,
                    DeviceSelect::ConsoleUart => true,
                };
                if check_name(&device.name).is_err() || !compatible_ok {
                    return Err(ManifestError::BadDevice {
                        server: server.name.clone(),
                        device: device.name.clone(),
                    });
                }
            }
        }
        for server in &self.servers {
            for service in &server.uses {
                if server.provides.contains(service) {
                    return Err(ManifestError::UsesItself {
                        server: server.name.clone(),
                        service: service.clone(),
                    });
                }
                if service != INIT_SERVICE && !services.contains(&service.as_str()) {
                    return Err(ManifestError::UnknownService {
                        server: server.name.clone(),
                        service: service.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The compiled form.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ManifestError> {
        postcard::to_allocvec(self).map_err(|_| ManifestError::Malformed)
    }

    /// Reads and checks a compiled manifest.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ManifestError> {
        let manifest: Manifest =
            postcard::from_bytes(bytes).map_err(|_| ManifestError::Malformed)?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// The server that provides `service`.
    pub fn provider(&self, service: &str) -> Option<&Server> {
        self.servers
            .iter()
            .find(|s| s.provides.iter().any(|p| p == service))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn server(name: &str) -> Server {
        Server {
            name: name.into(),
            binary: name.into(),
            priority: 10,
            memory: 1 << 20,
            handles: 32,
            threads: 2,
            provides: vec![],
            uses: vec![],
            devices: vec![],
            system: vec![],
            restart: Restart::Always,
        }
    }

    fn sample() -> Manifest {
        let mut console = server("console");
        console.provides.push("console".into());
        console.devices.push(Device {
            name: "uart".into(),
            select: DeviceSelect::ConsoleUart,
        });
        console.system = vec![SystemRight::Log, SystemRight::Info];
        let mut phone = server("telephony");
        phone.uses.push("console".into());
        phone.devices.push(Device {
            name: "modem".into(),
            select: DeviceSelect::Compatible("arm,pl011".into()),
        });
        Manifest {
            version: VERSION,
            servers: vec![console, phone],
        }
    }

    #[test]
    fn round_trips() {
        let m = sample();
        m.validate().unwrap();
        let bytes = m.to_bytes().unwrap();
        assert_eq!(Manifest::from_bytes(&bytes).unwrap(), m);
        assert_eq!(m.provider("console").unwrap().name, "console");
    }

    #[test]
    fn reports_each_mistake() {
        let mut m = sample();
        m.servers[1].uses.push("display".into());
        assert!(matches!(
            m.validate(),
            Err(ManifestError::UnknownService { .. })
        ));
        let mut m = sample();
        m.servers[1].name = "console".into();
        assert_eq!(
            m.validate(),
            Err(ManifestError::DuplicateServer("console".into()))
        );
        let mut m = sample();
        m.servers[0].priority = 40;
        assert!(matches!(m.validate(), Err(ManifestError::Priority { .. })));
        let mut m = sample();
        m.servers[0].name = "Bad Name".into();
        assert!(matches!(m.validate(), Err(ManifestError::BadName(_))));
        let mut m = sample();
        m.servers[0].uses.push("console".into());
        assert!(matches!(
            m.validate(),
            Err(ManifestError::UsesItself { .. })
        ));
        let mut m = sample();
        m.servers[1].provides.push("console".into());
        assert!(matches!(
            m.validate(),
            Err(ManifestError::DuplicateService(_))
        ));
        let mut m = sample();
        m.servers[0].memory = 10;
        assert!(matches!(m.validate(), Err(ManifestError::Memory { .. })));
        let mut m = sample();
        m.version = 9;
        assert_eq!(m.validate(), Err(ManifestError::Version(9)));
        assert_eq!(
            Manifest {
                version: VERSION,
                servers: vec![]
            }
            .validate(),
            Err(ManifestError::Empty)
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let bytes = sample().to_bytes().unwrap();
        let mut state = 0xdead_beef_u64;
        for _ in 0..10_000 {
            let mut m = bytes.clone();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let i = state as usize % m.len();
            m[i] ^= (state >> 32) as u8 | 1;
            let cut = (state >> 40) as usize % (m.len() + 1);
            let _ = Manifest::from_bytes(&m[..cut]);
        }
        assert_eq!(Manifest::from_bytes(b""), Err(ManifestError::Malformed));
    }
}

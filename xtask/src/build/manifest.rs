//! The system manifest: `system.toml`, checked and compiled into the boot archive for init.
//!
//! The TOML is what people edit; it is translated into `nimbus_manifest::Manifest`, validated
//! with the same rules init applies at boot, checked against the programs actually built, and
//! written as `etc/manifest` (postcard). A mistake is reported with the server it is in.

use crate::build::archive::Entry;
use crate::error::{Error, Result};
use crate::paths;
use nimbus_manifest::{Device, DeviceSelect, Manifest, Restart, Server, SystemRight, VERSION};
use serde::Deserialize;
use std::path::PathBuf;

/// The manifest people edit.
pub fn source() -> PathBuf {
    paths::root().join("system.toml")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlManifest {
    server: Vec<TomlServer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlServer {
    name: String,
    binary: Option<String>,
    priority: u8,
    memory: String,
    handles: u32,
    threads: u32,
    #[serde(default)]
    provides: Vec<String>,
    #[serde(default)]
    uses: Vec<String>,
    #[serde(default)]
    devices: Vec<TomlDevice>,
    #[serde(default)]
    system: Vec<String>,
    #[serde(default = "always")]
    restart: String,
}

fn always() -> String {
    "always".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlDevice {
    name: String,
    compatible: Option<String>,
    #[serde(default)]
    console: bool,
}

/// Parses "512 KiB", "2 MiB", "1 GiB" or a plain byte count.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size"))?;
    let scale = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => return Err(format!("unit {other:?} in {text:?}: use KiB, MiB or GiB")),
    };
    value
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))
}

fn convert(server: TomlServer) -> std::result::Result<Server, String> {
    let name = server.name.clone();
    let context = |e: String| format!("server {name:?}: {e}");
    let memory = parse_size(&server.memory).map_err(context)?;
    let system = server
        .system
        .iter()
        .map(|r| match r.as_str() {
            "log" => Ok(SystemRight::Log),
            "info" => Ok(SystemRight::Info),
            "control" => Ok(SystemRight::Control),
            other => Err(context(format!(
                "unknown system right {other:?} (log, info, control)"
            ))),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let devices = server
        .devices
        .into_iter()
        .map(|d| match (d.compatible, d.console) {
            (Some(c), false) => Ok(Device {
                name: d.name,
                select: DeviceSelect::Compatible(c),
            }),
            (None, true) => Ok(Device {
                name: d.name,
                select: DeviceSelect::ConsoleUart,
            }),
            _ => Err(context(format!(
                "device {:?}: give exactly one of `compatible` or `console = true`",
                d.name
            ))),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let restart = match server.restart.as_str() {
        "always" => Restart::Always,
        "never" => Restart::Never,
        other => {
            return Err(context(format!(
                "restart {other:?}: use \"always\" or \"never\""
            )));
        }
    };
    Ok(Server {
        binary: server.binary.unwrap_or_else(|| server.name.clone()),
        name: server.name,
        priority: server.priority,
        memory,
        handles: server.handles,
        threads: server.threads,
        provides: server.provides,
        uses: server.uses,
        devices,
        system,
        restart,
    })
}

/// Parses and checks manifest text; `programs` are the archive's program paths.
pub fn compile(text: &str, programs: &[String]) -> std::result::Result<Manifest, String> {
    let parsed: TomlManifest = toml::from_str(text).map_err(|e| e.to_string())?;
    let servers = parsed
        .server
        .into_iter()
        .map(convert)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let manifest = Manifest {
        version: VERSION,
        servers,
    };
    manifest.validate().map_err(|e| e.to_string())?;
    for server in &manifest.servers {
        let path = format!("bin/{}", server.binary);
        if !programs.contains(&path) {
            return Err(format!(
                "server {:?}: no program {path} is built (see xtask/src/build/userland.rs)",
                server.name
            ));
        }
    }
    Ok(manifest)
}

/// The compiled manifest as an archive entry.
pub fn entry(programs: &[String]) -> Result<Entry> {
    let path = source();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::Other(format!("{}: {e}", paths::display(&path))))?;
    let manifest = compile(&text, programs)
        .map_err(|e| Error::Other(format!("{}: {e}", paths::display(&path))))?;
    let data = manifest
        .to_bytes()
        .map_err(|e| Error::Other(e.to_string()))?;
    Ok(Entry {
        name: nimbus_manifest::MANIFEST_PATH.into(),
        perm: 0o644,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[[server]]
name = "console"
priority = 24
memory = "2 MiB"
handles = 64
threads = 4
provides = ["console"]
uses = ["init"]
system = ["log", "info", "control"]
devices = [{ name = "uart", console = true }]
"#;

    fn programs() -> Vec<String> {
        vec!["bin/init".into(), "bin/console".into()]
    }

    #[test]
    fn compiles_the_sample() {
        let m = compile(SAMPLE, &programs()).unwrap();
        assert_eq!(m.servers[0].memory, 2 << 20);
        assert_eq!(m.servers[0].binary, "console");
        assert_eq!(m.servers[0].restart, Restart::Always);
        assert_eq!(m.servers[0].devices[0].select, DeviceSelect::ConsoleUart);
    }

    #[test]
    fn reports_mistakes_with_their_server() {
        let bad = SAMPLE.replace("2 MiB", "2 MB");
        assert!(
            compile(&bad, &programs())
                .unwrap_err()
                .contains("server \"console\"")
        );
        let bad = SAMPLE.replace("\"control\"]", "\"root\"]");
        assert!(
            compile(&bad, &programs())
                .unwrap_err()
                .contains("unknown system right")
        );
        let bad = SAMPLE.replace("console = true", "console = true, compatible = \"x\"");
        assert!(
            compile(&bad, &programs())
                .unwrap_err()
                .contains("exactly one")
        );
        assert!(
            compile(SAMPLE, &["bin/init".into()])
                .unwrap_err()
                .contains("no program bin/console")
        );
        let bad = SAMPLE.replace("uses = [\"init\"]", "uses = [\"display\"]");
        assert!(compile(&bad, &programs()).unwrap_err().contains("display"));
        assert!(compile("nonsense = [", &programs()).is_err());
        let bad = SAMPLE.replace("threads = 4", "threads = 4\ncolour = \"red\"");
        assert!(compile(&bad, &programs()).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_size("3MiB"), Ok(3 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("1 TB").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("99999999999999 GiB").is_err());
    }

    #[test]
    fn the_repository_manifest_is_valid() {
        let text = std::fs::read_to_string(source()).unwrap();
        let programs: Vec<String> =
            crate::build::userland::for_image(crate::paths::ImageKind::Production)
                .map(|(_, path)| path.to_string())
                .collect();
        compile(&text, &programs).unwrap();
    }
}

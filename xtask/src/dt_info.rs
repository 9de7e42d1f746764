//! `cargo xtask dt-info FILE.dtb [--json]`: what a device tree describes, as the kernel sees it.
//!
//! The summary and the JSON come from the board crate, the same code the kernel boots with, so
//! "why does the kernel not find my UART" can be answered on the host. Any input is safe: the
//! board crate rejects malformed blobs with a message, which becomes a one-line error here.

use crate::error::{Error, Result};
use std::path::Path;

/// The text `dt-info` prints for `blob`.
pub fn render(blob: &[u8], json: bool) -> Result<String, nimbus_board::DtError> {
    let platform = nimbus_board::discover(blob)?;
    let mut out = String::new();
    if json {
        // Writing to a String cannot fail; a formatter error would come from the board crate.
        let _ = nimbus_board::json::write_json(&platform, &mut out);
        out.push('\n');
    } else {
        out = platform.to_string();
    }
    Ok(out)
}

/// Runs the command.
pub fn run(file: &Path, json: bool) -> Result<()> {
    let blob = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    let text =
        render(&blob, json).map_err(|e| Error::DeviceTree(format!("{}: {e}", file.display())))?;
    print!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dtb(name: &str) -> Vec<u8> {
        crate::paths::read(&crate::paths::root().join("board/dtbs").join(name)).unwrap()
    }

    #[test]
    fn summarises_real_trees() {
        let text = render(&dtb("virt-a53-smp2-512m.dtb"), false).unwrap();
        assert!(text.contains("memory"), "{text}");
        let json = render(&dtb("virt-a53-smp2-512m.dtb"), true).unwrap();
        assert!(
            json.starts_with('{') && json.trim_end().ends_with('}'),
            "{json}"
        );
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(render(b"", false).is_err());
        assert!(render(&crate::devicetree::garbage(4096), true).is_err());
        let tree = dtb("virt-a53-smp2-512m.dtb");
        assert!(render(&crate::devicetree::truncate(&tree), false).is_err());
        assert!(render(&crate::devicetree::corrupt_structure(&tree).unwrap(), false).is_err());
        for cut in [1, 40, 100, tree.len() / 3] {
            assert!(render(&tree[..cut], false).is_err(), "cut at {cut}");
        }
    }
}

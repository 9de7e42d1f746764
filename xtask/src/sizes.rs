//! `cargo xtask image`: where the bytes of an Image go.
//!
//! Size is a budget on a phone-class device, and the early page tables map at most
//! `KIMAGE_MAX_SIZE` of kernel; this report makes growth visible per section group.

use crate::build::{self, Built, elf};
use crate::error::{Error, Result};
use crate::paths::{self, ImageKind};
use nimbus_boot::layout::KIMAGE_MAX_SIZE;

/// Builds `kind` and prints its sizes.
pub fn report(kind: ImageKind) -> Result<()> {
    let built = build::build(kind)?;
    let sections = elf::sections(&paths::read(&built.elf)?).map_err(Error::Elf)?;
    print!("{}", render(&built, &sections));
    Ok(())
}

fn render(built: &Built, sections: &[elf::Section]) -> String {
    let mut out = String::new();
    let l = &built.layout;
    let row = |out: &mut String, label: &str, bytes: u64, note: &str| {
        let line = format!(
            "  {label:<20} {bytes:>10}  {:>9}  {note}",
            paths::human_size(bytes)
        );
        out.push_str(line.trim_end());
        out.push('\n');
    };
    out.push_str(&format!(
        "{} image {}\n",
        built.kind.name(),
        paths::display(&built.image)
    ));
    out.push_str("kernel sections:\n");
    for group in elf::SectionGroup::ALL {
        let members: Vec<&elf::Section> = sections.iter().filter(|s| s.group == group).collect();
        let total = members.iter().map(|s| s.size).sum();
        let names = members
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        row(&mut out, group.label(), total, &names);
    }
    out.push_str("image:\n");
    let budget = format!(
        "{}% of the {} the early page tables map",
        l.footprint * 100 / KIMAGE_MAX_SIZE,
        paths::human_size(KIMAGE_MAX_SIZE)
    );
    row(&mut out, "kernel footprint", l.footprint, &budget);
    row(
        &mut out,
        "boot archive",
        l.archive_len,
        &format!("at offset {:#x}", l.archive_offset),
    );
    row(&mut out, "Image file", l.file_len, "");
    row(
        &mut out,
        "header image_size",
        l.image_size,
        &format!("{:#x}", l.image_size),
    );
    let n = built.files.len();
    out.push_str(&format!(
        "boot archive ({n} file{}):\n",
        if n == 1 { "" } else { "s" }
    ));
    for (name, size) in &built.files {
        out.push_str(&format!("  {name:<40} {size:>10}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::archive::ImageLayout;

    #[test]
    fn lists_groups_layout_and_files() {
        let built = Built {
            kind: ImageKind::Production,
            elf: "k.elf".into(),
            image: "Image".into(),
            layout: ImageLayout {
                footprint: 0x26000,
                archive_offset: 0x26000,
                archive_len: 300,
                image_size: 0x27000,
                file_len: 0x2612c,
            },
            files: vec![("etc/build-info".into(), 90)],
        };
        let sections = vec![
            elf::Section {
                name: ".text".into(),
                group: elf::SectionGroup::Text,
                size: 0x3ac8,
            },
            elf::Section {
                name: ".bss".into(),
                group: elf::SectionGroup::Bss,
                size: 0x10020,
            },
        ];
        let text = render(&built, &sections);
        assert!(text.contains("text") && text.contains("15048"));
        assert!(text.contains("early page tables"));
        assert!(text.contains("0x27000"));
        assert!(text.contains("etc/build-info"));
    }
}

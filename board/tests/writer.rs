//! The FDT writer/editor: round trips, edits, errors, and `dtc` acceptance.
#![cfg(feature = "writer")]

mod common;

use std::io::Write as _;
use std::process::Command;

use common::{all_dtbs, dtb};
use nimbus_board::writer::{
    Edit, FdtBuilder, HeaderField, WriteError, header_field, rewrite, set_header_field,
};
use nimbus_board::{DtError, Platform, discover};

const DTC: &str = "/usr/bin/dtc";

fn have_dtc() -> bool {
    std::path::Path::new(DTC).exists()
}

/// `dtc -I dtb -O dts` of `blob`, or `None` when dtc is not installed.
fn dts(blob: &[u8]) -> Option<String> {
    if !have_dtc() {
        return None;
    }
    let mut child = Command::new(DTC)
        .args(["-q", "-I", "dtb", "-O", "dts", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn dtc");
    child.stdin.take().unwrap().write_all(blob).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "dtc rejected the blob: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

fn same_platform(a: &Platform<'_>, b: &Platform<'_>) {
    let mut b = b.clone();
    b.header = a.header;
    assert_eq!(a, &b);
}

#[test]
fn identity_rewrite_round_trips_every_dtb() {
    for (name, blob) in all_dtbs() {
        let out = rewrite(&blob, &Edit::new()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let a = discover(&blob).unwrap();
        let b = discover(&out).unwrap();
        same_platform(&a, &b);
        // Rewriting the output again is byte-identical (stable layout).
        assert_eq!(rewrite(&out, &Edit::new()).unwrap(), out, "{name}");
        // dtc sees the same tree.
        if let (Some(x), Some(y)) = (dts(&blob), dts(&out)) {
            assert_eq!(x, y, "{name}: dtc output differs");
        }
    }
}

#[test]
fn builder_output_is_accepted_by_dtc_and_discover() {
    let mut b = FdtBuilder::new();
    b.memreserve(0x4000_0000, 0x1000).boot_cpuid(0);
    b.begin_node("")
        .property_u32("#address-cells", 2)
        .property_u32("#size-cells", 2)
        .property_str("model", "Nimbus test board")
        .property_strs("compatible", &["nimbus,test", "nimbus,generic"])
        .property_u32("interrupt-parent", 1);
    b.begin_node("chosen")
        .property_str("stdout-path", "/uart@1000:115200n8")
        .property_str("bootargs", "quiet")
        .property_u32("linux,initrd-start", 0x4800_0000)
        .property_u64("linux,initrd-end", 0x4810_0000)
        .end_node();
    b.begin_node("memory@40000000")
        .property_str("device_type", "memory")
        .property_cells("reg", &[0, 0x4000_0000, 0, 0x4000_0000])
        .end_node();
    b.begin_node("gic@8000000")
        .property_strs("compatible", &["arm,gic-v3"])
        .property_cells(
            "reg",
            &[0, 0x800_0000, 0, 0x1_0000, 0, 0x80a_0000, 0, 0xf6_0000],
        )
        .property_empty("interrupt-controller")
        .property_u32("#interrupt-cells", 3)
        .property_u32("phandle", 1)
        .end_node();
    b.begin_node("uart@1000")
        .property_strs("compatible", &["ns16550a"])
        .property_cells("reg", &[0, 0x1000, 0, 0x100])
        .property_cells("interrupts", &[0, 5, 4])
        .property_u32("clock-frequency", 1_843_200)
        .end_node();
    b.end_node();
    let blob = b.finish().unwrap();

    let text = dts(&blob);
    if let Some(text) = &text {
        assert!(
            text.contains("/memreserve/\t0x0000000040000000 0x0000000000001000;"),
            "{text}"
        );
        assert!(text.contains("model = \"Nimbus test board\";"));
        assert!(
            text.contains("compatible = \"nimbus,test\", \"nimbus,generic\";")
                || text.contains("compatible = \"nimbus,test\\0nimbus,generic\";")
        );
    }
    let p = discover(&blob).unwrap();
    assert_eq!(p.model, "Nimbus test board");
    assert_eq!(p.compatible, "nimbus,test");
    assert_eq!(p.chosen.bootargs, Some("quiet"));
    // Mixed 1-cell start and 2-cell end.
    assert_eq!(
        p.chosen.initrd.map(|r| (r.start, r.size)),
        Some((0x4800_0000, 0x10_0000))
    );
    let c = p.console.unwrap();
    assert_eq!(
        (c.regs.start, c.baud, c.clock_hz),
        (0x1000, Some(115_200), Some(1_843_200))
    );
    assert_eq!(c.irq, Some(nimbus_board::Irq::Spi(5)));
    assert!(matches!(
        p.interrupt_controller,
        Some(nimbus_board::InterruptController::GicV3 { .. })
    ));
    assert_eq!(p.reservations.len(), 1);
}

#[test]
fn builder_reports_misuse() {
    let mut b = FdtBuilder::new();
    b.begin_node("");
    assert_eq!(b.finish(), Err(WriteError::UnclosedNodes { open: 1 }));
    let mut b = FdtBuilder::new();
    b.end_node();
    assert_eq!(b.finish(), Err(WriteError::EndWithoutBegin));
    let mut b = FdtBuilder::new();
    b.property_u32("x", 1);
    assert!(matches!(
        b.finish(),
        Err(WriteError::PropertyOutsideNode { .. })
    ));
    let mut b = FdtBuilder::new();
    b.begin_node("").begin_node("a/b").end_node().end_node();
    assert!(matches!(b.finish(), Err(WriteError::BadName { .. })));
    let mut b = FdtBuilder::new();
    b.begin_node("").end_node().begin_node("").end_node();
    assert!(matches!(b.finish(), Err(WriteError::RootNode(_))));
    let mut b = FdtBuilder::new();
    b.begin_node("x").end_node();
    assert!(matches!(b.finish(), Err(WriteError::RootNode(_))));
    assert!(matches!(
        FdtBuilder::new().finish(),
        Err(WriteError::RootNode(_))
    ));
    // finish_unchecked writes broken trees on purpose; discover rejects them.
    let mut b = FdtBuilder::new();
    b.begin_node("").begin_node("open");
    let broken = b.finish_unchecked().unwrap();
    assert!(matches!(discover(&broken), Err(DtError::Malformed { .. })));
    assert!(!WriteError::TooLarge.to_string().is_empty());
}

#[test]
fn edits_change_what_discovery_sees() {
    let base = dtb("virt-a53-smp2-512m.dtb");

    // No memory node at all (NUMA: both nodes match "/memory").
    let numa = dtb("virt-a53-numa2.dtb");
    let out = rewrite(&numa, &Edit::new().drop_node("/memory")).unwrap();
    assert!(discover(&out).unwrap().memory.is_empty());

    // No console.
    let out = rewrite(&base, &Edit::new().drop_property("/chosen", "stdout-path")).unwrap();
    let p = discover(&out).unwrap();
    assert!(p.console.is_none() && p.chosen.stdout_path.is_none());
    assert!(p.unsupported.is_empty());

    // Memory above 4 GiB, two entries out of order plus a zero-size one.
    let out = rewrite(
        &base,
        &Edit::new().set_property_cells(
            "/memory@40000000",
            "reg",
            &[1, 0, 1, 0, 0, 0x4000_0000, 0, 0x1000_0000, 0, 0, 0, 0],
        ),
    )
    .unwrap();
    let p = discover(&out).unwrap();
    let mem: Vec<_> = p.memory.iter().map(|r| (r.start, r.size)).collect();
    assert_eq!(
        mem,
        [(0x4000_0000, 0x1000_0000), (0x1_0000_0000, 0x1_0000_0000)]
    );

    // 1-cell initrd.
    let out = rewrite(
        &base,
        &Edit::new()
            .set_property_u32("/chosen", "linux,initrd-start", 0x4400_0000)
            .set_property_u32("/chosen", "linux,initrd-end", 0x4400_2000),
    )
    .unwrap();
    assert_eq!(
        discover(&out)
            .unwrap()
            .chosen
            .initrd
            .map(|r| (r.start, r.size)),
        Some((0x4400_0000, 0x2000))
    );

    // Unsupported interrupt controller.
    let out = rewrite(
        &base,
        &Edit::new().set_property_str("/intc", "compatible", "acme,intc"),
    )
    .unwrap();
    let p = discover(&out).unwrap();
    assert_eq!(
        p.interrupt_controller,
        Some(nimbus_board::InterruptController::Unsupported {
            compatible: "acme,intc"
        })
    );
    assert!(
        p.unsupported
            .contains(&nimbus_board::Unsupported::InterruptController {
                compatible: "acme,intc"
            })
    );
    // Interrupts are no longer GIC-format: kept raw.
    assert_eq!(
        p.console.unwrap().irq,
        Some(nimbus_board::Irq::raw(&[0, 1, 4]))
    );

    // Drop every virtio transport by compatible; add a node and a property.
    let out = rewrite(
        &base,
        &Edit::new()
            .drop_compatible("virtio,mmio")
            .add_node("/", "extra@1")
            .set_property_strs("/extra@1", "compatible", &["simple-framebuffer"])
            .set_property_cells("/extra@1", "reg", &[0, 0x5000_0000, 0, 0x1_0000])
            .set_property_u32("/extra@1", "width", 64),
    )
    .unwrap();
    let p = discover(&out).unwrap();
    assert!(p.virtio_mmio.is_empty());
    let fb = p.framebuffers[0];
    assert_eq!(
        (fb.name, fb.reg.map(|r| r.start), fb.width, fb.enabled),
        ("extra@1", Some(0x5000_0000), Some(64), true)
    );

    // /memreserve/ edits.
    let qfw = dtb("virt-a53-smp1-512m-uboot-qfw-initrd-passed.dtb");
    let out = rewrite(
        &qfw,
        &Edit::new()
            .clear_memreserve()
            .add_memreserve(0x1000, 0x2000),
    )
    .unwrap();
    let p = discover(&out).unwrap();
    let r: Vec<_> = p
        .reservations
        .iter()
        .map(|r| (r.name, r.range.unwrap().start, r.size))
        .collect();
    assert_eq!(r, [("/memreserve/", 0x1000, 0x2000)]);

    // Every edited blob is still accepted by dtc.
    if have_dtc() {
        dts(&out).unwrap();
    }
}

#[test]
fn edits_on_real_hardware_trees() {
    // Pi: console alias points at the PL011 instead.
    let pi = dtb("bcm2837-rpi-3-b.dtb");
    let out = rewrite(
        &pi,
        &Edit::new().set_property_str("/chosen", "stdout-path", "serial0:9600"),
    )
    .unwrap();
    let p = discover(&out).unwrap();
    let c = p.console.unwrap();
    assert_eq!(
        (c.regs.start, c.kind, c.baud),
        (0x3f20_1000, nimbus_board::UartKind::Pl011, Some(9600))
    );
    // A stdout alias that does not exist is reported.
    let out = rewrite(
        &pi,
        &Edit::new().set_property_str("/chosen", "stdout-path", "serial7"),
    )
    .unwrap();
    let p = discover(&out).unwrap();
    assert!(p.console.is_none());
    assert!(
        p.unsupported
            .contains(&nimbus_board::Unsupported::ConsoleNotFound {
                stdout_path: "serial7"
            })
    );

    // PinePhone: a memory node added the way U-Boot would.
    let pp = dtb("sun50i-a64-pinephone-1.2.dtb");
    let out = rewrite(
        &pp,
        &Edit::new()
            .add_node("/", "memory@40000000")
            .set_property_str("/memory@40000000", "device_type", "memory")
            .set_property_cells("/memory@40000000", "reg", &[0x4000_0000, 0x8000_0000]),
    )
    .unwrap();
    let p = discover(&out).unwrap();
    assert_eq!(
        p.memory
            .iter()
            .map(|r| (r.start, r.size))
            .collect::<Vec<_>>(),
        [(0x4000_0000, 0x8000_0000)]
    );
}

#[test]
fn nop_tokens() {
    // A NOP between properties: valid FDT, but fdt 0.1.5 would panic.
    let mut b = FdtBuilder::new();
    b.begin_node("")
        .property_str("model", "a")
        .raw_word(4)
        .property_str("compatible", "b")
        .end_node();
    let blob = b.finish().unwrap();
    assert!(matches!(discover(&blob), Err(DtError::Unsupported { .. })));
    if have_dtc() {
        dts(&blob).unwrap();
    }
    // rewrite re-packs it (drops the NOP), and the result is usable.
    let repacked = rewrite(&blob, &Edit::new()).unwrap();
    assert_eq!(repacked.len(), blob.len() - 4);
    let p = discover(&repacked).unwrap();
    assert_eq!((p.model, p.compatible), ("a", "b"));

    // NOPs directly before FDT_END_NODE and outside the root are fine.
    let mut b = FdtBuilder::new();
    b.raw_word(4).begin_node("").property_str("model", "m");
    b.begin_node("child")
        .raw_word(4)
        .end_node()
        .raw_word(4)
        .raw_word(4)
        .end_node()
        .raw_word(4);
    let blob = b.finish().unwrap();
    let p = discover(&blob).unwrap();
    assert_eq!(p.model, "m");
    let out = rewrite(&blob, &Edit::new()).unwrap();
    assert!(out.len() < blob.len());
}

#[test]
fn header_fields() {
    let mut blob = dtb("virt-a53-smp2-512m.dtb");
    assert_eq!(header_field(&blob, HeaderField::Version), Some(17));
    assert_eq!(
        header_field(&blob, HeaderField::TotalSize),
        Some(blob.len() as u32)
    );
    assert!(set_header_field(&mut blob, HeaderField::Magic, 0));
    assert_eq!(discover(&blob).unwrap_err(), DtError::BadMagic(0));
    assert!(!set_header_field(&mut [0u8; 8], HeaderField::Version, 1));
    for f in HeaderField::ALL {
        assert!(header_field(&blob, f).is_some());
    }
}

//! Trees built with the writer to reach cases the real DTBs do not have.
#![cfg(feature = "writer")]

mod common;

use common::{dtb, json_of, parse_json};
use nimbus_board::writer::{Edit, FdtBuilder, rewrite};
use nimbus_board::{
    Conduit, DtError, EnableMethod, InterruptController, Irq, MAX_NOTES, MAX_UARTS, UartKind,
    Unsupported, devices, discover, json,
};

/// Root with 1/1 cells, a GIC-400 (phandle 1) and whatever `body` adds.
fn tree(body: impl FnOnce(&mut FdtBuilder)) -> Vec<u8> {
    let mut b = FdtBuilder::new();
    b.begin_node("")
        .property_u32("#address-cells", 1)
        .property_u32("#size-cells", 1)
        .property_u32("interrupt-parent", 1)
        .property_str("model", "crafted");
    b.begin_node("gic@1000")
        .property_strs("compatible", &["arm,gic-400"])
        .property_cells("reg", &[0x1000, 0x1000, 0x2000, 0x2000])
        .property_empty("interrupt-controller")
        .property_u32("#interrupt-cells", 3)
        .property_u32("phandle", 1)
        .end_node();
    body(&mut b);
    b.end_node();
    b.finish().unwrap()
}

#[test]
fn memory_entries_sorted_merged_and_filtered() {
    let blob = tree(|b| {
        b.begin_node("memory@80000000")
            .property_str("device_type", "memory")
            // unsorted, overlapping, adjacent and zero-size entries
            .property_cells(
                "reg",
                &[
                    0x8000_0000,
                    0x1000_0000,
                    0x4000_0000,
                    0x1000_0000,
                    0x5000_0000,
                    0x100,
                    0x0,
                    0x0,
                ],
            )
            .end_node();
        b.begin_node("memory@88000000")
            .property_str("device_type", "memory")
            .property_cells("reg", &[0x8800_0000, 0x1000_0000])
            .end_node();
        b.begin_node("memory@c0000000")
            .property_str("device_type", "memory")
            .property_str("status", "fail")
            .property_cells("reg", &[0xc000_0000, 0x1000])
            .end_node();
        // Overflowing entry: reported, not used.
        b.begin_node("memory@ffffffff")
            .property_str("device_type", "memory")
            .property_cells("reg", &[0xffff_ffff, 0xffff_ffff])
            .end_node();
    });
    let p = discover(&blob).unwrap();
    let mem: Vec<_> = p.memory.iter().map(|r| (r.start, r.size)).collect();
    assert_eq!(
        mem,
        [
            (0x4000_0000, 0x1000_0100),
            (0x8000_0000, 0x1800_0000),
            (0xffff_ffff, 0xffff_ffff)
        ]
    );
    assert!(p.unsupported.contains(&Unsupported::DisabledMemory {
        node: "memory@c0000000"
    }));
    assert_eq!(p.total_memory(), 0x1000_0100 + 0x1800_0000 + 0xffff_ffff);
}

#[test]
fn memory_behind_wide_cells_and_ranges() {
    let blob = tree(|b| {
        b.begin_node("bus")
            .property_u32("#address-cells", 2)
            .property_u32("#size-cells", 2)
            .property_cells("ranges", &[0x1, 0x0, 0x0, 0x0, 0x1000_0000]);
        b.begin_node("memory@100000000")
            .property_str("device_type", "memory")
            .property_cells("reg", &[0x1, 0x0, 0x0, 0x0800_0000])
            .end_node();
        b.end_node();
        b.begin_node("wide")
            .property_u32("#address-cells", 5)
            .property_u32("#size-cells", 1)
            .property_empty("ranges");
        b.begin_node("memory@0")
            .property_str("device_type", "memory")
            .property_cells("reg", &[0, 0, 0, 0, 0x2000, 0x1000])
            .end_node();
        b.end_node();
    });
    let p = discover(&blob).unwrap();
    // Bus address 0x1_0000_0000 maps to CPU 0x0 (1/1 root cells hold it).
    assert_eq!(
        p.memory
            .iter()
            .map(|r| (r.start, r.size))
            .collect::<Vec<_>>(),
        [(0x0, 0x0800_0000)]
    );
    assert!(
        p.unsupported
            .contains(&Unsupported::UndecodableReg { node: "memory@0" })
    );
}

#[test]
fn reserved_memory_static_and_dynamic() {
    let blob = tree(|b| {
        b.begin_node("reserved-memory")
            .property_u32("#address-cells", 1)
            .property_u32("#size-cells", 1)
            .property_empty("ranges");
        b.begin_node("tz@8000000")
            .property_cells("reg", &[0x800_0000, 0x20_0000, 0x900_0000, 0x1000])
            .property_empty("no-map")
            .end_node();
        b.begin_node("pool")
            .property_u32("size", 0x40_0000)
            .property_empty("reusable")
            .end_node();
        b.begin_node("off@0")
            .property_str("status", "disabled")
            .property_cells("reg", &[0, 0x1000])
            .end_node();
        b.end_node();
    });
    let p = discover(&blob).unwrap();
    let r: Vec<_> = p
        .reservations
        .iter()
        .map(|r| {
            (
                r.name,
                r.range.map(|x| x.start),
                r.size,
                r.no_map,
                r.reusable,
            )
        })
        .collect();
    assert_eq!(
        r,
        [
            ("tz@8000000", Some(0x800_0000), 0x20_0000, true, false),
            ("tz@8000000", Some(0x900_0000), 0x1000, true, false),
            ("pool", None, 0x40_0000, false, true),
        ]
    );
    let text = p.to_string();
    assert!(text.contains("pool: dynamic, 4 MiB, reusable"), "{text}");
}

#[test]
fn stacked_controller_and_interrupts_extended() {
    let blob = tree(|b| {
        b.begin_node("gpc@3000")
            .property_strs("compatible", &["fsl,imx8mq-gpc"])
            .property_cells("reg", &[0x3000, 0x1000])
            .property_empty("interrupt-controller")
            .property_u32("#interrupt-cells", 3)
            .property_u32("interrupt-parent", 1)
            .property_u32("phandle", 2)
            .end_node();
        b.begin_node("intc2@4000")
            .property_strs("compatible", &["acme,gpio-intc"])
            .property_empty("interrupt-controller")
            .property_u32("#interrupt-cells", 2)
            .property_u32("phandle", 3)
            .end_node();
        b.begin_node("serial@5000")
            .property_strs("compatible", &["snps,dw-apb-uart"])
            .property_cells("reg", &[0x5000, 0x400])
            .property_u32("interrupt-parent", 2)
            .property_cells("interrupts", &[0, 26, 4])
            .end_node();
        b.begin_node("dev@6000")
            .property_strs("compatible", &["acme,dev"])
            .property_cells("reg", &[0x6000, 0x100])
            .property_cells("interrupts-extended", &[1, 1, 9, 4, 3, 7, 2, 2, 0, 33, 4])
            .end_node();
    });
    // Root interrupt-parent -> the GPC, which sits in front of the GIC.
    let blob = rewrite(
        &blob,
        &Edit::new().set_property_u32("/", "interrupt-parent", 2),
    )
    .unwrap();
    let p = discover(&blob).unwrap();
    match &p.interrupt_controller {
        Some(InterruptController::GicV2 { compatible, .. }) => {
            assert_eq!(*compatible, "arm,gic-400")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        p.unsupported
            .contains(&Unsupported::StackedInterruptController {
                compatible: "fsl,imx8mq-gpc"
            })
    );
    assert_eq!(p.uarts[0].irq, Some(Irq::Spi(26)));
    let dev: Vec<_> = devices::find_compatible(&blob, "acme,dev")
        .unwrap()
        .collect();
    assert_eq!(
        dev[0].irqs.as_slice(),
        [Irq::Ppi(9), Irq::raw(&[7, 2]), Irq::Spi(33)]
    );
}

#[test]
fn interrupt_parent_loops_and_dangling() {
    let blob = tree(|b| {
        // Two non-controllers pointing at each other, and a dangling one.
        b.begin_node("a")
            .property_u32("phandle", 10)
            .property_u32("interrupt-parent", 11)
            .end_node();
        b.begin_node("b")
            .property_u32("phandle", 11)
            .property_u32("interrupt-parent", 10)
            .property_u32("#interrupt-cells", 0)
            .end_node();
        b.begin_node("serial@1")
            .property_strs("compatible", &["ns16550a"])
            .property_cells("reg", &[0x1, 0x8])
            .property_u32("interrupt-parent", 10)
            .property_cells("interrupts", &[5])
            .end_node();
        b.begin_node("serial@2")
            .property_strs("compatible", &["ns16550a"])
            .property_cells("reg", &[0x2, 0x8])
            .property_u32("interrupt-parent", 99)
            .property_cells("interrupts", &[5])
            .end_node();
        b.begin_node("serial@3")
            .property_strs("compatible", &["ns16550a"])
            .property_cells("reg", &[0x3, 0x8])
            .property_cells("interrupts-extended", &[1, 0])
            .end_node();
    });
    let p = discover(&blob).unwrap();
    assert_eq!(p.uarts.len(), 3);
    assert!(p.uarts.iter().all(|u| u.irq.is_none()), "{:?}", p.uarts);
}

#[test]
fn root_without_interrupt_parent_falls_back_to_first_gic() {
    let blob = tree(|_| {});
    let blob = rewrite(&blob, &Edit::new().drop_property("/", "interrupt-parent")).unwrap();
    let p = discover(&blob).unwrap();
    assert!(matches!(
        p.interrupt_controller,
        Some(InterruptController::GicV2 { .. })
    ));
}

#[test]
fn gicv3_regions() {
    let blob = tree(|b| {
        b.begin_node("gic@10000")
            .property_strs("compatible", &["qcom,msm8996-gic-v3", "arm,gic-v3"])
            .property_cells(
                "reg",
                &[
                    0x1_0000, 0x1_0000, 0x2_0000, 0x2_0000, 0x5_0000, 0x2_0000, 0x9_0000, 0x100,
                ],
            )
            .property_u32("#redistributor-regions", 2)
            .property_empty("interrupt-controller")
            .property_u32("#interrupt-cells", 4)
            .property_u32("phandle", 5)
            .end_node();
        b.begin_node("timer")
            .property_strs("compatible", &["arm,armv8-timer"])
            .property_u32("interrupt-parent", 5)
            .property_cells(
                "interrupts",
                &[1, 13, 8, 0, 1, 14, 8, 0, 1, 11, 8, 0, 1, 10, 8, 0],
            )
            .property_u32("clock-frequency", 19_200_000)
            .end_node();
    });
    let blob = rewrite(
        &blob,
        &Edit::new().set_property_u32("/", "interrupt-parent", 5),
    )
    .unwrap();
    let p = discover(&blob).unwrap();
    match &p.interrupt_controller {
        Some(InterruptController::GicV3 {
            distributor,
            redistributors,
        }) => {
            assert_eq!(distributor.start, 0x1_0000);
            assert_eq!(
                redistributors.iter().map(|r| r.start).collect::<Vec<_>>(),
                [0x2_0000, 0x5_0000]
            );
        }
        other => panic!("{other:?}"),
    }
    let t = p.timer.unwrap();
    assert_eq!(t.virt, Some(Irq::Ppi(11)));
    assert_eq!(t.frequency_hz, Some(19_200_000));
    assert!(!t.always_on);
}

#[test]
fn cpus_enable_methods_and_psci() {
    let blob = tree(|b| {
        b.begin_node("psci")
            .property_strs("compatible", &["arm,psci-0.2", "arm,psci"])
            .property_str("method", "svc")
            .end_node();
        b.begin_node("cpus")
            .property_u32("#address-cells", 2)
            .property_u32("#size-cells", 0);
        b.begin_node("cpu@0")
            .property_str("device_type", "cpu")
            .property_cells("reg", &[0, 0x100])
            .property_str("enable-method", "qcom,kpss-acc-v2")
            .end_node();
        b.begin_node("cpu@1")
            .property_str("device_type", "cpu")
            .property_cells("reg", &[0, 0x101])
            .property_str("enable-method", "spin-table")
            .end_node();
        b.begin_node("cpu@2")
            .property_str("device_type", "cpu")
            .property_cells("reg", &[0, 0x102])
            .property_str("status", "disabled")
            .end_node();
        b.begin_node("cpu@3")
            .property_str("device_type", "cpu")
            .property_cells("reg", &[0, 0x103])
            .property_str("enable-method", "spin-table")
            .property_u32("cpu-release-addr", 0x8000_fff8)
            .end_node();
        b.begin_node("idle-states").end_node();
        b.end_node();
    });
    let p = discover(&blob).unwrap();
    let cpus: Vec<_> = p.cpus.iter().map(|c| (c.mpidr, c.enable_method)).collect();
    assert_eq!(
        cpus,
        [
            (0x100, EnableMethod::Other("qcom,kpss-acc-v2")),
            (0x101, EnableMethod::Other("spin-table")),
            (
                0x103,
                EnableMethod::SpinTable {
                    release_addr: 0x8000_fff8
                }
            ),
        ]
    );
    assert_eq!(p.psci, None);
    assert!(
        p.unsupported
            .contains(&Unsupported::PsciMethod { method: "svc" })
    );
    assert!(p.unsupported.contains(&Unsupported::CpuEnableMethod {
        method: "qcom,kpss-acc-v2"
    }));

    let fixed = rewrite(
        &blob,
        &Edit::new().set_property_str("/psci", "method", "smc"),
    )
    .unwrap();
    let p = discover(&fixed).unwrap();
    assert_eq!(
        p.psci.map(|p| (p.compatible, p.conduit)),
        Some(("arm,psci-0.2", Conduit::Smc))
    );
}

#[test]
fn lists_that_overflow_are_truncated_with_a_note() {
    let blob = tree(|b| {
        for i in 0..40u32 {
            b.begin_node(&format!("serial@{:x}", 0x10_0000 + i * 0x100))
                .property_strs("compatible", &[&format!("acme,uart{i}")])
                .property_cells("reg", &[0x10_0000 + i * 0x100, 0x100])
                .end_node();
        }
    });
    let p = discover(&blob).unwrap();
    assert_eq!(p.uarts.len(), MAX_UARTS);
    assert!(p.uarts.iter().all(|u| u.kind == UartKind::Unsupported));
    // One note per distinct UART compatible; the note list itself is capped.
    assert_eq!(p.unsupported.len(), MAX_NOTES);
    assert_eq!(
        p.unsupported.last(),
        Some(&Unsupported::TooMany {
            what: "unsupported notes",
            limit: MAX_NOTES - 1
        })
    );
    json_of(&p);
}

#[test]
fn console_variants() {
    let base = dtb("virt-a53-smp2-512m.dtb");
    // Full path with options.
    let out = rewrite(
        &base,
        &Edit::new().set_property_str("/chosen", "stdout-path", "/pl011@9000000:38400n8"),
    )
    .unwrap();
    assert_eq!(discover(&out).unwrap().console.unwrap().baud, Some(38_400));
    // A path without the unit address matches, as in Linux.
    let out = rewrite(
        &base,
        &Edit::new().set_property_str("/chosen", "stdout-path", "/pl011"),
    )
    .unwrap();
    assert_eq!(
        discover(&out).unwrap().console.unwrap().regs.start,
        0x900_0000
    );
    // A path to a node that is not a UART and has no reg.
    let out = rewrite(
        &base,
        &Edit::new().set_property_str("/chosen", "stdout-path", "/psci"),
    )
    .unwrap();
    let p = discover(&out).unwrap();
    assert!(p.console.is_none());
    assert!(p.unsupported.contains(&Unsupported::ConsoleNotFound {
        stdout_path: "/psci"
    }));
    // linux,stdout-path (legacy) is honoured.
    let out = rewrite(
        &base,
        &Edit::new()
            .drop_property("/chosen", "stdout-path")
            .set_property_str("/chosen", "linux,stdout-path", "/pl011@9000000"),
    )
    .unwrap();
    assert!(discover(&out).unwrap().console.is_some());
}

#[test]
fn framebuffer_filled_in_by_the_boot_loader() {
    let pp = dtb("sun50i-a64-pinephone-1.2.dtb");
    let out = rewrite(
        &pp,
        &Edit::new()
            .set_property_str("/chosen/framebuffer-lcd", "status", "okay")
            .set_property_cells("/chosen/framebuffer-lcd", "reg", &[0xbe00_0000, 0x3f_4800])
            .set_property_u32("/chosen/framebuffer-lcd", "width", 720)
            .set_property_u32("/chosen/framebuffer-lcd", "height", 1440)
            .set_property_u32("/chosen/framebuffer-lcd", "stride", 2880)
            .set_property_str("/chosen/framebuffer-lcd", "format", "x8r8g8b8"),
    )
    .unwrap();
    let p = discover(&out).unwrap();
    let fb = p.framebuffers[0];
    assert!(fb.enabled);
    assert_eq!(
        fb.reg.map(|r| (r.start, r.size)),
        Some((0xbe00_0000, 0x3f_4800))
    );
    assert_eq!(
        (fb.width, fb.height, fb.stride, fb.format),
        (Some(720), Some(1440), Some(2880), Some("x8r8g8b8"))
    );
    assert!(
        p.to_string()
            .contains("720x1440, stride 2880, \"x8r8g8b8\"")
    );
}

#[test]
fn strings_are_escaped_in_json_and_display() {
    let blob = tree(|b| {
        b.begin_node("chosen")
            .property_str("bootargs", "a \"quoted\" \\ arg\nnext\ttab\u{1}")
            .end_node();
    });
    let blob = rewrite(
        &blob,
        &Edit::new().set_property_str("/", "model", "Ünïcode \"board\""),
    )
    .unwrap();
    let p = discover(&blob).unwrap();
    let mut s = String::new();
    json::write_json(&p, &mut s).unwrap();
    let j = parse_json(&s).unwrap();
    assert_eq!(j.get("model").str(), "Ünïcode \"board\"");
    assert_eq!(
        j.get("chosen").get("bootargs").str(),
        "a \"quoted\" \\ arg\nnext\ttab\u{1}"
    );
    let text = p.to_string();
    assert!(
        text.contains(r#"bootargs "a \"quoted\" \\ arg\u{a}next\u{9}tab\u{1}""#),
        "{text}"
    );
    assert_eq!(text.lines().filter(|l| l.starts_with("chosen:")).count(), 1);
}

#[test]
fn structural_errors_are_reported_with_offsets() {
    // Non-UTF-8 node name.
    let mut b = FdtBuilder::new();
    b.begin_node("").begin_node("ok").end_node().end_node();
    let mut blob = b.finish().unwrap();
    let at = blob.windows(2).position(|w| w == b"ok").unwrap();
    blob[at] = 0xff;
    match discover(&blob) {
        Err(DtError::Malformed { offset, what }) => {
            assert_eq!(offset as usize, at);
            assert!(what.contains("UTF-8"));
        }
        other => panic!("{other:?}"),
    }
    // Property after a child node.
    let mut b = FdtBuilder::new();
    b.begin_node("")
        .begin_node("c")
        .end_node()
        .property_u32("late", 1)
        .end_node();
    assert!(
        matches!(discover(&b.finish().unwrap()), Err(DtError::Malformed { what, .. }) if what.contains("after a child"))
    );
    // Root with a name, and two roots.
    let mut b = FdtBuilder::new();
    b.begin_node("")
        .end_node()
        .raw_word(1)
        .raw_word(0)
        .raw_word(2);
    assert!(matches!(
        discover(&b.finish_unchecked().unwrap()),
        Err(DtError::Malformed { .. })
    ));
    for e in [
        DtError::TooShort,
        DtError::BadMagic(1),
        DtError::UnsupportedVersion {
            version: 1,
            last_comp_version: 1,
        },
        DtError::Truncated {
            totalsize: 9,
            available: 1,
        },
        DtError::BadLayout("x"),
        DtError::Malformed {
            offset: 4,
            what: "y",
        },
        DtError::TooDeep {
            offset: 4,
            limit: 2,
        },
        DtError::Unsupported {
            offset: 4,
            what: "z",
        },
    ] {
        let msg = e.to_string();
        assert!(
            msg.starts_with("device tree: ") && !msg.contains('\n'),
            "{msg}"
        );
    }
}

#[test]
fn many_controllers_overflow_the_phandle_index() {
    // More controllers than the index holds: lookups fall back to walks.
    let blob = tree(|b| {
        for i in 0..60u32 {
            b.begin_node(&format!("gpio@{:x}", 0x2_0000 + i * 0x100))
                .property_strs("compatible", &["acme,gpio"])
                .property_cells("reg", &[0x2_0000 + i * 0x100, 0x100])
                .property_empty("interrupt-controller")
                .property_u32("#interrupt-cells", 2)
                .property_u32("phandle", 100 + i)
                .end_node();
        }
        b.begin_node("serial@9000")
            .property_strs("compatible", &["ns16550a"])
            .property_cells("reg", &[0x9000, 0x100])
            .property_u32("interrupt-parent", 159)
            .property_cells("interrupts", &[3, 8])
            .end_node();
    });
    let p = discover(&blob).unwrap();
    assert_eq!(p.uarts[0].irq, Some(Irq::raw(&[3, 8])));
    assert!(matches!(
        p.interrupt_controller,
        Some(InterruptController::GicV2 { .. })
    ));
}

//! Every DTB in `board/dtbs/`, discovered and compared with the key facts of
//! `/work/shared/dtb/README.md` (copied into `board/dtbs/README.md`).

mod common;

use common::{dtb, hex, json_of};
use nimbus_board::{
    Conduit, EnableMethod, InterruptController, Irq, Platform, UartKind, Unsupported, devices,
    discover, header,
};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn ranges(p: &Platform<'_>) -> Vec<(u64, u64)> {
    p.memory.iter().map(|r| (r.start, r.size)).collect()
}

fn notes<'a>(p: &Platform<'a>) -> Vec<Unsupported<'a>> {
    p.unsupported.iter().copied().collect()
}

const VIRT_FILES: [&str; 14] = [
    "virt-a53-devices.dtb",
    "virt-a53-kernel-append-initrd.dtb",
    "virt-a53-numa2.dtb",
    "virt-a53-secure-virt.dtb",
    "virt-a53-secure.dtb",
    "virt-a53-smp1-128m.dtb",
    "virt-a53-smp1-512m-bios.dtb",
    "virt-a53-smp1-512m-uboot-passed.dtb",
    "virt-a53-smp1-512m-uboot-qfw-initrd-passed.dtb",
    "virt-a53-smp2-512m.dtb",
    "virt-a53-virtualization.dtb",
    "virt-a57-gicv3-smp4-2g.dtb",
    "virt-a57-smp1-5g.dtb",
    "virt-max-gicv3-el2-smp2-1g.dtb",
];

/// (file, totalsize, memory ranges, cpu count, cpu compatible, psci conduit, gic v3)
type VirtFacts = (
    &'static str,
    u32,
    &'static [(u64, u64)],
    usize,
    &'static str,
    Option<Conduit>,
    bool,
);

const VIRT_FACTS: [VirtFacts; 14] = [
    (
        "virt-a53-devices.dtb",
        0x1e01,
        &[(0x4000_0000, 512 * MIB)],
        2,
        "arm,cortex-a53",
        Some(Conduit::Hvc),
        false,
    ),
    (
        "virt-a53-kernel-append-initrd.dtb",
        0x1e86,
        &[(0x4000_0000, 512 * MIB)],
        2,
        "arm,cortex-a53",
        Some(Conduit::Hvc),
        false,
    ),
    // NUMA: listed 0x60000000 first; sorted and merged into one range.
    (
        "virt-a53-numa2.dtb",
        0x1e96,
        &[(0x4000_0000, GIB)],
        2,
        "arm,cortex-a53",
        Some(Conduit::Hvc),
        false,
    ),
    // secure=on: the disabled secram@e000000 is not RAM.
    (
        "virt-a53-secure-virt.dtb",
        0x21af,
        &[(0x4000_0000, 512 * MIB)],
        2,
        "arm,cortex-a53",
        None,
        false,
    ),
    (
        "virt-a53-secure.dtb",
        0x2177,
        &[(0x4000_0000, 512 * MIB)],
        2,
        "arm,cortex-a53",
        None,
        false,
    ),
    (
        "virt-a53-smp1-128m.dtb",
        0x1d56,
        &[(0x4000_0000, 128 * MIB)],
        1,
        "arm,cortex-a53",
        Some(Conduit::Hvc),
        false,
    ),
    (
        "virt-a53-smp1-512m-bios.dtb",
        0x1bd7,
        &[(0x4000_0000, 512 * MIB)],
        1,
        "arm,cortex-a53",
        Some(Conduit::Hvc),
        false,
    ),
    (
        "virt-a53-smp1-512m-uboot-passed.dtb",
        0x2000,
        &[(0x4000_0000, 512 * MIB)],
        1,
        "arm,cortex-a53",
        Some(Conduit::Hvc),
        false,
    ),
    (
        "virt-a53-smp1-512m-uboot-qfw-initrd-passed.dtb",
        0x2080,
        &[(0x4000_0000, 512 * MIB)],
        1,
        "arm,cortex-a53",
        Some(Conduit::Hvc),
        false,
    ),
    (
        "virt-a53-smp2-512m.dtb",
        0x1e01,
        &[(0x4000_0000, 512 * MIB)],
        2,
        "arm,cortex-a53",
        Some(Conduit::Hvc),
        false,
    ),
    (
        "virt-a53-virtualization.dtb",
        0x1e39,
        &[(0x4000_0000, 512 * MIB)],
        2,
        "arm,cortex-a53",
        Some(Conduit::Smc),
        false,
    ),
    (
        "virt-a57-gicv3-smp4-2g.dtb",
        0x1f57,
        &[(0x4000_0000, 2 * GIB)],
        4,
        "arm,cortex-a57",
        Some(Conduit::Hvc),
        true,
    ),
    // 64-bit size: reg = <0 0x40000000 1 0x40000000>.
    (
        "virt-a57-smp1-5g.dtb",
        0x1d56,
        &[(0x4000_0000, 5 * GIB)],
        1,
        "arm,cortex-a57",
        Some(Conduit::Hvc),
        false,
    ),
    (
        "virt-max-gicv3-el2-smp2-1g.dtb",
        0x1e4f,
        &[(0x4000_0000, GIB)],
        2,
        "arm,cortex-a57",
        Some(Conduit::Smc),
        true,
    ),
];

#[test]
fn every_file_in_dtbs_is_covered() {
    let files: Vec<String> = common::all_dtbs().into_iter().map(|(n, _)| n).collect();
    assert_eq!(files.len(), 17, "{files:?}");
    for f in &files {
        let known = VIRT_FILES.contains(&f.as_str())
            || f.starts_with("bcm2837-rpi-3-b")
            || f == "sun50i-a64-pinephone-1.2.dtb";
        assert!(known, "no expectations for {f}");
    }
    for (name, blob) in common::all_dtbs() {
        let h = header::check(&blob).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(h.version, 17);
        assert!(h.totalsize as usize <= blob.len());
        assert!(common::exercise(&blob), "{name} must discover");
    }
}

#[test]
fn qemu_virt_common_facts() {
    for (file, totalsize, memory, ncpus, cpu_compat, conduit, gicv3) in VIRT_FACTS {
        let blob = dtb(file);
        let p = discover(&blob).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(p.header.totalsize, totalsize, "{file}");
        assert_eq!(p.model, "linux,dummy-virt", "{file}");
        assert_eq!(p.compatible, "linux,dummy-virt", "{file}");
        assert_eq!(ranges(&p), memory, "{file}");

        // Console: full-path stdout, PL011 at 0x9000000, SPI 1 = INTID 33,
        // 24 MHz apb-pclk fixed clock.
        assert_eq!(p.chosen.stdout_path, Some("/pl011@9000000"), "{file}");
        let c = p.console.expect(file);
        assert_eq!(c.path, "pl011@9000000");
        assert_eq!(c.compatible, "arm,pl011");
        assert_eq!(c.kind, UartKind::Pl011);
        assert_eq!((c.regs.start, c.regs.size), (0x900_0000, 0x1000));
        assert_eq!(c.irq, Some(Irq::Spi(1)));
        assert_eq!(c.irq.and_then(|i| i.intid()), Some(33));
        assert_eq!(c.clock_hz, Some(24_000_000));
        assert_eq!(c.baud, None);
        assert!(c.enabled);

        // Timer PPIs 13/14/11/10 -> INTIDs 29/30/27/26.
        let t = p.timer.expect(file);
        assert_eq!(t.compatible, "arm,armv8-timer");
        assert_eq!(
            [t.secure_phys, t.nonsecure_phys, t.virt, t.hyp],
            [13, 14, 11, 10].map(|n| Some(Irq::Ppi(n)))
        );
        let intids: Vec<_> = [t.secure_phys, t.nonsecure_phys, t.virt, t.hyp]
            .iter()
            .map(|i| i.unwrap().intid())
            .collect();
        assert_eq!(intids, [Some(29), Some(30), Some(27), Some(26)]);
        assert!(t.always_on);
        assert_eq!(t.frequency_hz, None);

        // Interrupt controller.
        match (&p.interrupt_controller, gicv3) {
            (
                Some(InterruptController::GicV2 {
                    compatible,
                    distributor,
                    cpu_interface,
                }),
                false,
            ) => {
                assert_eq!(*compatible, "arm,cortex-a15-gic");
                assert_eq!(
                    (distributor.start, distributor.size),
                    (0x800_0000, 0x1_0000)
                );
                assert_eq!(
                    (cpu_interface.start, cpu_interface.size),
                    (0x801_0000, 0x1_0000)
                );
            }
            (
                Some(InterruptController::GicV3 {
                    distributor,
                    redistributors,
                }),
                true,
            ) => {
                assert_eq!(
                    (distributor.start, distributor.size),
                    (0x800_0000, 0x1_0000)
                );
                let r: Vec<_> = redistributors.iter().map(|r| (r.start, r.size)).collect();
                assert_eq!(r, [(0x80a_0000, 0xf6_0000)]);
            }
            other => panic!("{file}: unexpected controller {other:?}"),
        }

        // CPUs: PSCI when there are several, none on the single boot CPU.
        assert_eq!(p.cpus.len(), ncpus, "{file}");
        for (i, cpu) in p.cpus.iter().enumerate() {
            assert_eq!(cpu.mpidr, i as u64);
            assert_eq!(cpu.compatible, cpu_compat);
            let want = if ncpus == 1 {
                EnableMethod::None
            } else {
                EnableMethod::Psci
            };
            assert_eq!(cpu.enable_method, want, "{file}");
        }
        match conduit {
            Some(conduit) => {
                let psci = p.psci.expect(file);
                assert_eq!(psci.compatible, "arm,psci-1.0");
                assert_eq!(psci.conduit, conduit, "{file}");
            }
            None => assert_eq!(p.psci, None, "{file}"),
        }

        // 32 virtio-mmio transports at 0x0a000000 + n*0x200, SPI 16+n.
        assert_eq!(p.virtio_mmio.len(), 32, "{file}");
        for (n, t) in p.virtio_mmio.iter().enumerate() {
            assert_eq!(
                (t.regs.start, t.regs.size),
                (0xa00_0000 + 0x200 * n as u64, 0x200)
            );
            assert_eq!(t.irq, Some(Irq::Spi(16 + n as u32)));
        }
        assert!(p.framebuffers.is_empty());

        let secure = file.contains("secure");
        assert_eq!(p.uarts.len(), if secure { 2 } else { 1 }, "{file}");
        assert_eq!(p.uarts.iter().filter(|u| u.enabled).count(), 1);
        let expected_notes: Vec<Unsupported<'_>> = if secure {
            vec![
                Unsupported::DisabledMemory {
                    node: "secram@e000000",
                },
                Unsupported::PsciMissing,
            ]
        } else {
            vec![]
        };
        assert_eq!(notes(&p), expected_notes, "{file}");

        // JSON carries the same facts.
        let j = json_of(&p);
        assert_eq!(j.get("memory").len(), memory.len());
        assert_eq!(j.get("memory").at(0).get("start").str(), hex(memory[0].0));
        assert_eq!(j.get("virtio_mmio").len(), 32);
        assert_eq!(j.get("console").get("irq").get("intid").num(), 33.0);
    }
}

/// (bootargs, initrd (start, size), /memreserve/ entries)
type ChosenFacts = (Option<&'static str>, Option<(u64, u64)>, Vec<(u64, u64)>);

#[test]
fn qemu_virt_chosen_and_reservations() {
    // No reservations and no initrd unless the loader made them.
    for file in VIRT_FILES {
        let blob = dtb(file);
        let p = discover(&blob).unwrap();
        let (bootargs, initrd, reservations): ChosenFacts = match file {
            // QEMU -kernel -initrd: 1-cell linux,initrd-start/end.
            "virt-a53-kernel-append-initrd.dtb" => (
                Some("console=ttyAMA0 earlycon root=/dev/vda rw"),
                Some((0x4800_0000, 0x1000)),
                vec![],
            ),
            "virt-a53-smp1-512m-uboot-passed.dtb" => {
                (Some("console=ttyAMA0 earlycon"), None, vec![])
            }
            // U-Boot qfw: 2-cell initrd plus a /memreserve/ entry for it.
            "virt-a53-smp1-512m-uboot-qfw-initrd-passed.dtb" => (
                Some("console=ttyAMA0 hello=qfw"),
                Some((0x5ddb_1000, 0x1000)),
                vec![(0x5ddb_1000, 0x1000)],
            ),
            _ => (None, None, vec![]),
        };
        assert_eq!(p.chosen.bootargs, bootargs, "{file}");
        assert_eq!(p.chosen.initrd.map(|r| (r.start, r.size)), initrd, "{file}");
        let got: Vec<_> = p
            .reservations
            .iter()
            .map(|r| (r.range.unwrap().start, r.size))
            .collect();
        assert_eq!(got, reservations, "{file}");
        assert!(p.reservations.iter().all(|r| r.name == "/memreserve/"));
        assert_eq!(p.chosen.rng_seed.map(|s| s.len()), Some(32), "{file}");
        assert!(p.chosen.kaslr_seed.is_some());
    }
}

#[test]
fn raspberry_pi_3() {
    for (file, ram) in [
        ("bcm2837-rpi-3-b.dtb", 0x4000_0000u64),
        ("bcm2837-rpi-3-b-qemu-passed.dtb", 0x3c00_0000),
    ] {
        let blob = dtb(file);
        let p = discover(&blob).unwrap();
        assert_eq!(p.model, "Raspberry Pi 3 Model B");
        assert_eq!(p.compatible, "raspberrypi,3-model-b");
        assert_eq!(ranges(&p), [(0, ram)], "{file}");
        if file.contains("qemu") {
            assert_eq!(p.header.totalsize, 0xc342);
        }

        // /memreserve/ 0x0+0x1000, then the dynamic 64 MiB CMA pool.
        assert_eq!(p.reservations.len(), 2);
        let r0 = p.reservations[0];
        assert_eq!(
            (r0.name, r0.range.map(|r| (r.start, r.size))),
            ("/memreserve/", Some((0, 0x1000)))
        );
        let cma = p.reservations[1];
        assert_eq!(cma.name, "linux,cma");
        assert_eq!(cma.range, None);
        assert_eq!(cma.size, 64 * MIB);
        assert!(cma.reusable && !cma.no_map);

        // stdout-path "serial1:115200n8" -> alias -> /soc/serial@7e215040,
        // translated through /soc ranges 0x7e000000 -> 0x3f000000.
        assert_eq!(p.chosen.stdout_path, Some("serial1:115200n8"));
        let c = p.console.unwrap();
        assert_eq!(c.path, "serial@7e215040");
        assert_eq!(c.kind, UartKind::Bcm2835Aux);
        assert_eq!(c.compatible, "brcm,bcm2835-aux-uart");
        assert_eq!((c.regs.start, c.regs.size), (0x3f21_5040, 0x40));
        assert_eq!(c.baud, Some(115_200));
        // Its parent is the ARMCTRL controller (2 cells): kept raw.
        assert_eq!(c.irq, Some(Irq::raw(&[1, 29])));
        assert_eq!(c.irq.unwrap().intid(), None);

        let uarts: Vec<_> = p
            .uarts
            .iter()
            .map(|u| (u.compatible, u.regs.start, u.kind))
            .collect();
        assert_eq!(
            uarts,
            [
                ("arm,pl011", 0x3f20_1000, UartKind::Pl011),
                ("brcm,bcm2835-aux-uart", 0x3f21_5040, UartKind::Bcm2835Aux)
            ]
        );

        // No GIC: BCM2836 ARMCTRL (translated) plus the L1 controller.
        match p.interrupt_controller {
            Some(InterruptController::Bcm2836 {
                armctrl,
                local: Some(local),
            }) => {
                assert_eq!((armctrl.start, armctrl.size), (0x3f00_b200, 0x200));
                assert_eq!((local.start, local.size), (0x4000_0000, 0x100));
            }
            ref other => panic!("{other:?}"),
        }

        // The timer goes to the L1 controller with 2-cell specifiers.
        let t = p.timer.unwrap();
        assert_eq!(t.compatible, "arm,armv7-timer");
        assert_eq!(
            [t.secure_phys, t.nonsecure_phys, t.virt, t.hyp],
            [
                Some(Irq::raw(&[0, 4])),
                Some(Irq::raw(&[1, 4])),
                Some(Irq::raw(&[3, 4])),
                Some(Irq::raw(&[2, 4]))
            ]
        );
        assert!(t.always_on);

        // Spin-table CPUs at 0xd8..0xf0, no PSCI.
        let cpus: Vec<_> = p
            .cpus
            .iter()
            .map(|c| (c.mpidr, c.compatible, c.enable_method))
            .collect();
        let want: Vec<_> = [0xd8u64, 0xe0, 0xe8, 0xf0]
            .iter()
            .enumerate()
            .map(|(i, a)| {
                (
                    i as u64,
                    "arm,cortex-a53",
                    EnableMethod::SpinTable { release_addr: *a },
                )
            })
            .collect();
        assert_eq!(cpus, want);
        assert_eq!(p.psci, None);
        assert!(p.virtio_mmio.is_empty() && p.framebuffers.is_empty());

        assert_eq!(
            notes(&p),
            [
                Unsupported::CpusEnableMethod {
                    method: "brcm,bcm2836-smp"
                },
                Unsupported::InterruptController {
                    compatible: "brcm,bcm2836-armctrl-ic"
                },
            ]
        );
        let text = p.to_string();
        assert!(text.contains("0x3f215040..0x3f215080 (64 B)"), "{text}");
        assert!(text.contains("brcm,bcm2836-armctrl-ic"));
    }
}

#[test]
fn pinephone_1_2() {
    let blob = dtb("sun50i-a64-pinephone-1.2.dtb");
    let p = discover(&blob).unwrap();
    assert_eq!(p.model, "Pine64 PinePhone (1.2)");
    assert_eq!(p.compatible, "pine64,pinephone-1.2");
    // No memory node: the boot loader adds it.
    assert!(p.memory.is_empty());
    assert!(
        p.to_string()
            .contains("the boot loader must add a memory node")
    );
    assert!(p.reservations.is_empty());

    // stdout-path "serial0:115200n8" -> /soc/serial@1c28000, dw-apb-uart
    // with reg-shift 2 and reg-io-width 4.
    let c = p.console.unwrap();
    assert_eq!(c.path, "serial@1c28000");
    assert_eq!(c.compatible, "snps,dw-apb-uart");
    assert_eq!(
        c.kind,
        UartKind::Ns16550 {
            reg_shift: 2,
            reg_io_width: 4
        }
    );
    assert_eq!((c.regs.start, c.regs.size), (0x1c2_8000, 0x400));
    assert_eq!(c.irq, Some(Irq::Spi(0)));
    assert_eq!(c.baud, Some(115_200));
    assert_eq!(p.uarts.len(), 5);
    assert_eq!(p.uarts.iter().filter(|u| u.enabled).count(), 3);

    match p.interrupt_controller {
        Some(InterruptController::GicV2 {
            compatible,
            distributor,
            cpu_interface,
        }) => {
            assert_eq!(compatible, "arm,gic-400");
            assert_eq!((distributor.start, distributor.size), (0x1c8_1000, 0x1000));
            assert_eq!(
                (cpu_interface.start, cpu_interface.size),
                (0x1c8_2000, 0x2000)
            );
        }
        ref other => panic!("{other:?}"),
    }
    let t = p.timer.unwrap();
    assert_eq!(t.compatible, "arm,armv8-timer");
    assert_eq!(
        [t.secure_phys, t.nonsecure_phys, t.virt, t.hyp].map(|i| i.unwrap().intid().unwrap()),
        [29, 30, 27, 26]
    );
    assert!(!t.always_on);

    assert_eq!(p.cpus.len(), 4);
    assert!(
        p.cpus
            .iter()
            .all(|c| c.enable_method == EnableMethod::Psci && c.compatible == "arm,cortex-a53")
    );
    let psci = p.psci.unwrap();
    assert_eq!(
        (psci.compatible, psci.conduit),
        ("arm,psci-0.2", Conduit::Smc)
    );

    // Two disabled simple-framebuffers under /chosen, without reg.
    let fbs: Vec<_> = p
        .framebuffers
        .iter()
        .map(|f| (f.name, f.enabled, f.reg, f.width))
        .collect();
    assert_eq!(
        fbs,
        [
            ("framebuffer-lcd", false, None, None),
            ("framebuffer-hdmi", false, None, None)
        ]
    );
    assert!(
        p.framebuffers
            .iter()
            .all(|f| f.compatible == "allwinner,simple-framebuffer")
    );
    assert!(p.virtio_mmio.is_empty());
    assert!(p.unsupported.is_empty(), "{:?}", p.unsupported);
}

#[test]
fn devices_by_compatible() {
    let blob = dtb("virt-a53-smp2-512m.dtb");
    let all: Vec<_> = devices::find_compatible(&blob, "virtio,mmio")
        .unwrap()
        .collect();
    assert_eq!(all.len(), 32);
    for (n, d) in all.iter().enumerate() {
        assert_eq!(d.name, format!("virtio_mmio@{:x}", 0xa00_0000 + 0x200 * n));
        assert_eq!(d.compatible, "virtio,mmio");
        assert_eq!(d.regs.len(), 1);
        assert_eq!(d.regs[0].start, 0xa00_0000 + 0x200 * n as u64);
        assert_eq!(d.irqs.as_slice(), [Irq::Spi(16 + n as u32)]);
        assert!(d.enabled);
    }
    // GIC with its four regions (virtualization=on) and its maintenance irq.
    let virt = dtb("virt-a53-virtualization.dtb");
    let gic: Vec<_> = devices::find_compatible(&virt, "arm,cortex-a15-gic")
        .unwrap()
        .collect();
    assert_eq!(gic.len(), 1);
    assert_eq!(gic[0].regs.len(), 4);
    assert_eq!(gic[0].irqs.as_slice(), [Irq::Ppi(9)]);

    // Translation through /soc ranges on the Pi, and disabled nodes listed.
    let pi = dtb("bcm2837-rpi-3-b.dtb");
    let pl011: Vec<_> = devices::find_compatible(&pi, "arm,pl011")
        .unwrap()
        .collect();
    assert_eq!(pl011.len(), 1);
    assert_eq!(pl011[0].regs[0].start, 0x3f20_1000);
    // The watchdog has two reg entries, both translated.
    let wdt: Vec<_> = devices::find_compatible(&pi, "brcm,bcm2835-pm-wdt")
        .unwrap()
        .collect();
    let regs: Vec<_> = wdt[0].regs.iter().map(|r| (r.start, r.size)).collect();
    assert_eq!(regs, [(0x3f10_0000, 0x114), (0x3f00_a000, 0x24)]);

    let pp = dtb("sun50i-a64-pinephone-1.2.dtb");
    let uarts: Vec<_> = devices::find_compatible(&pp, "snps,dw-apb-uart")
        .unwrap()
        .collect();
    assert_eq!(uarts.len(), 5);
    assert_eq!(uarts.iter().filter(|d| !d.enabled).count(), 2);
    assert_eq!(
        devices::find_compatible(&pp, "no,such-device")
            .unwrap()
            .count(),
        0
    );
    assert!(devices::find_compatible(&pp[..100], "x").is_err());
}

#[test]
fn header_check_on_prefix_only() {
    for (name, blob) in common::all_dtbs() {
        let h = header::check(&blob[..40]).unwrap();
        assert_eq!(h.totalsize as usize, blob.len(), "{name} files are packed");
        assert_eq!(
            discover(&blob[..blob.len() - 1]).unwrap_err(),
            nimbus_board::DtError::Truncated {
                totalsize: h.totalsize,
                available: blob.len() - 1
            }
        );
    }
}

#[test]
fn summary_and_json_shape() {
    let blob = dtb("virt-a53-kernel-append-initrd.dtb");
    let p = discover(&blob).unwrap();
    let text = p.to_string();
    for needle in [
        "model:        \"linux,dummy-virt\"",
        "memory:       0x40000000..0x60000000 (512 MiB)",
        "total 512 MiB in 1 range",
        "initrd 0x48000000..0x48001000 (4 KiB)",
        "bootargs \"console=ttyAMA0 earlycon root=/dev/vda rw\"",
        "pl011@9000000: PL011 \"arm,pl011\" at 0x9000000..0x9001000 (4 KiB), SPI 1 (INTID 33)",
        "GICv2 \"arm,cortex-a15-gic\"",
        "secure phys: PPI 13 (INTID 29)",
        "\"arm,psci-1.0\" via hvc",
        "32 transports in 0xa000000..0xa004000 (16 KiB)",
        "unsupported:  nothing",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let j = json_of(&p);
    assert_eq!(j.get("chosen").get("initrd").get("end").str(), "0x48001000");
    assert_eq!(j.get("timer").get("virt").get("type").str(), "ppi");
    assert_eq!(j.get("cpus").len(), 2);
    assert_eq!(j.get("cpus").at(1).get("mpidr").str(), "0x1");
    assert_eq!(j.get("interrupt_controller").get("kind").str(), "gicv2");
    assert_eq!(j.get("memory_total").str(), "0x20000000");
}

#[test]
fn discover_into_fits_a_small_kernel_stack() {
    // The kernel keeps the Platform in a static and calls discover_into on
    // its boot stack; 64 KiB is plenty even unoptimised (measured ~32 KiB in
    // debug builds, under 16 KiB in release).
    let handle = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| {
            let dtbs = common::all_dtbs();
            let mut out = Box::new(Platform::new());
            for (name, blob) in &dtbs {
                nimbus_board::discover_into(blob, &mut out)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(out.header.totalsize as usize, blob.len());
                let err = nimbus_board::discover_into(&blob[..39], &mut out);
                assert_eq!(err, Err(nimbus_board::DtError::TooShort));
                assert!(out.cpus.is_empty(), "reset on error");
            }
        })
        .unwrap();
    handle.join().unwrap();
}

#[test]
fn board_profiles() {
    use nimbus_board::profiles::{self, ImageFormat};
    let names: Vec<_> = profiles::all().iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        ["qemu-virt", "raspi3b", "pinephone", "android-fastboot"]
    );
    let virt = profiles::by_name("qemu-virt").unwrap();
    assert_eq!(
        virt.qemu_machine,
        Some(&["-M", "virt", "-cpu", "cortex-a53"][..])
    );
    assert_eq!(virt.primary_boot().unwrap().format, ImageFormat::QemuKernel);
    assert!(profiles::by_name("raspi3b").unwrap().is_emulated());
    let pp = profiles::by_name("pinephone").unwrap();
    assert!(!pp.is_emulated());
    assert_eq!(pp.primary_boot().unwrap().format, ImageFormat::UBootScript);
    assert_eq!(
        profiles::by_name("android-fastboot")
            .unwrap()
            .primary_boot()
            .unwrap()
            .format,
        ImageFormat::AndroidBootImage
    );
    assert!(profiles::by_name("nope").is_none());
    // Every DTB a profile names exists and discovers.
    for p in profiles::all() {
        assert!(!p.description.is_empty() && !p.quirks.is_empty() && !p.boot.is_empty());
        for f in p.dtbs {
            discover(&dtb(f)).unwrap();
        }
    }
}

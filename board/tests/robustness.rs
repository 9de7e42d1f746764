//! Robustness: thousands of deterministically mutated trees. `discover`,
//! `Display`, `write_json` and `devices::find_compatible` must return (Ok
//! or Err) without panicking or hanging, and every range they report must
//! have a checked end (see `common::exercise`).
//!
//! The mutations are seeded (xorshift) so a failure reproduces exactly; the
//! failing case's seed and strategy are in the panic message.

mod common;

use std::time::{Duration, Instant};

use common::{Rng, all_dtbs, exercise_with};
use nimbus_board::{DtError, discover};

/// Mutated trees per base DTB and strategy. Strategies that mostly keep
/// the blob valid run the full discovery each time and are costlier in
/// debug builds, so they get fewer cases.
const PER_STRATEGY: usize = 40;
const PER_VALUE_STRATEGY: usize = 20;

/// Offsets and kinds of the tokens of a valid blob (test-side walker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Begin,
    Prop {
        len_at: usize,
        value_at: usize,
        len: usize,
        nameoff: usize,
    },
    EndNode,
    End,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    if at + 4 <= b.len() {
        b[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }
}

fn tokens(blob: &[u8]) -> Vec<(usize, Tok)> {
    let mut at = be32(blob, 8) as usize;
    let mut out = Vec::new();
    loop {
        let tag = be32(blob, at);
        match tag {
            1 => {
                out.push((at, Tok::Begin));
                let name_len = blob[at + 4..].iter().position(|b| *b == 0).unwrap();
                at = (at + 4 + name_len + 1 + 3) & !3;
            }
            3 => {
                let len = be32(blob, at + 4) as usize;
                let nameoff = be32(blob, at + 8) as usize;
                out.push((
                    at,
                    Tok::Prop {
                        len_at: at + 4,
                        value_at: at + 12,
                        len,
                        nameoff,
                    },
                ));
                at = (at + 12 + len + 3) & !3;
            }
            2 => {
                out.push((at, Tok::EndNode));
                at += 4;
            }
            4 => at += 4,
            9 => {
                out.push((at, Tok::End));
                return out;
            }
            _ => panic!("base blob is invalid at {at:#x}"),
        }
    }
}

fn prop_name(blob: &[u8], nameoff: usize) -> &str {
    let strings = be32(blob, 12) as usize + nameoff;
    let len = blob[strings..].iter().position(|b| *b == 0).unwrap();
    std::str::from_utf8(&blob[strings..strings + len]).unwrap()
}

/// Run one mutated blob with a time limit (catches runaway loops).
fn check(blob: &[u8], what: &str, seed: u64) -> bool {
    // Rotate through lookups with one match, many matches (several
    // batches) and matches on disabled nodes, to keep debug builds quick.
    const COMPATS: [&[&str]; 4] = [
        &["arm,pl011"],
        &["virtio,mmio"],
        &["snps,dw-apb-uart"],
        &["simple-framebuffer", "arm,gic-400"],
    ];
    let start = Instant::now();
    let ok = exercise_with(blob, COMPATS[(seed % 4) as usize]);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "{what} seed {seed:#x} took {took:?}"
    );
    ok
}

struct Stats {
    total: usize,
    ok: usize,
}

impl Stats {
    fn add(&mut self, ok: bool) {
        self.total += 1;
        self.ok += usize::from(ok);
    }
}

fn for_each_base(
    strategy: &str,
    per_base: usize,
    mut mutate: impl FnMut(&mut Rng, &[u8]) -> Vec<u8>,
) -> Stats {
    let mut stats = Stats { total: 0, ok: 0 };
    for (file_no, (name, base)) in all_dtbs().into_iter().enumerate() {
        for i in 0..per_base {
            let seed = (file_no as u64) << 32 | (i as u64) << 8 | strategy.len() as u64;
            let mut rng = Rng::new(seed ^ 0x9e37_79b9_7f4a_7c15);
            let blob = mutate(&mut rng, &base);
            let ok = check(&blob, &format!("{strategy} on {name}"), seed);
            stats.add(ok);
        }
    }
    eprintln!("{strategy}: {} trees, {} discovered", stats.total, stats.ok);
    stats
}

#[test]
fn random_byte_and_bit_flips() {
    let bytes = for_each_base("byte flips", PER_STRATEGY, |rng, base| {
        let mut b = base.to_vec();
        for _ in 0..1 + rng.below(8) {
            let i = rng.below(b.len());
            b[i] = rng.next() as u8;
        }
        b
    });
    let bits = for_each_base("bit flips", PER_STRATEGY, |rng, base| {
        let mut b = base.to_vec();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(b.len());
            b[i] ^= 1 << rng.below(8);
        }
        b
    });
    // Flips in the structure block break it; flips in values/strings do
    // not: both outcomes must occur.
    assert!(bytes.ok > 0 && bytes.ok < bytes.total);
    assert!(bits.ok > 0 && bits.ok < bits.total);
}

#[test]
fn header_field_corruption() {
    let s = for_each_base("header fields", PER_STRATEGY, |rng, base| {
        let mut b = base.to_vec();
        let field = rng.below(10);
        let old = be32(&b, field * 4);
        let new = match rng.below(4) {
            0 => rng.word(),
            1 => old.wrapping_add(rng.below(64) as u32).wrapping_sub(32),
            2 => old ^ (1 << rng.below(32)),
            _ => base.len() as u32 + rng.below(16) as u32,
        };
        put32(&mut b, field * 4, new);
        b
    });
    assert!(s.ok < s.total);
    // Each field on its own: well-defined errors.
    let base = common::dtb("virt-a53-smp2-512m.dtb");
    let mut b = base.clone();
    put32(&mut b, 0, 0xfeed_d00d);
    assert_eq!(discover(&b).unwrap_err(), DtError::BadMagic(0xfeed_d00d));
    let mut b = base.clone();
    put32(&mut b, 20, 15);
    assert!(matches!(
        discover(&b),
        Err(DtError::UnsupportedVersion { version: 15, .. })
    ));
    let mut b = base.clone();
    put32(&mut b, 20, 16); // v16 has no size_dt_struct: header ok, fdt 0.1.5 cannot read it
    assert!(nimbus_board::header::check(&b).is_ok());
    assert!(matches!(
        discover(&b),
        Err(DtError::UnsupportedVersion { version: 16, .. })
    ));
    let mut b = base.clone();
    put32(&mut b, 4, base.len() as u32 + 1);
    assert!(matches!(discover(&b), Err(DtError::Truncated { .. })));
    let mut b = base.clone();
    put32(&mut b, 36, 0xffff_fff0);
    assert!(matches!(discover(&b), Err(DtError::BadLayout(_))));
    let mut b = base.clone();
    put32(&mut b, 8, 0x42);
    assert!(matches!(discover(&b), Err(DtError::BadLayout(_))));
    let mut b = base;
    put32(&mut b, 16, 0x1000); // rsvmap inside the struct block: no terminator there
    assert!(discover(&b).is_err());
}

#[test]
fn truncation_at_every_kind_of_boundary() {
    let mut stats = Stats { total: 0, ok: 0 };
    for (name, base) in all_dtbs() {
        let toks = tokens(&base);
        let strings = be32(&base, 12) as usize;
        let mut cuts: Vec<usize> = (0..=44).collect();
        cuts.extend([
            be32(&base, 16) as usize + 8,
            strings,
            strings + 1,
            base.len() - 1,
        ]);
        // Every 7th token boundary, and a few bytes into it.
        for (at, _) in toks.iter().step_by(7) {
            cuts.extend([*at, at + 1, at + 4, at + 9]);
        }
        for cut in cuts {
            let cut = cut.min(base.len());
            // As copied (totalsize now lies) ...
            let blob = &base[..cut];
            let ok = check(blob, &format!("truncate {name}"), cut as u64);
            assert!(!ok || cut == base.len());
            stats.add(ok);
            // ... and with the header patched so the cut blob looks whole.
            if cut >= 40 {
                let mut b = blob.to_vec();
                put32(&mut b, 4, cut as u32);
                let size_struct = (cut as u32).saturating_sub(be32(&b, 8));
                put32(&mut b, 36, size_struct.min(be32(&base, 36)));
                stats.add(check(&b, &format!("truncate+patch {name}"), cut as u64));
            }
        }
    }
    eprintln!(
        "truncations: {} trees, {} discovered",
        stats.total, stats.ok
    );
    assert!(stats.total > 1000);
}

#[test]
fn random_garbage_blobs() {
    let mut rng = Rng::new(0x5eed);
    let mut stats = Stats { total: 0, ok: 0 };
    for i in 0..600 {
        let len = rng.below(600);
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Half of them get a plausible header so the deeper checks run.
        if i % 2 == 0 && len >= 40 {
            put32(&mut b, 0, 0xd00d_feed);
            put32(&mut b, 4, len as u32);
            put32(&mut b, 8, 40 + 16 * rng.below(3) as u32);
            put32(&mut b, 12, rng.below(len) as u32);
            put32(&mut b, 16, 40);
            put32(&mut b, 20, 17);
            put32(&mut b, 24, 16);
            put32(&mut b, 32, rng.below(64) as u32);
            put32(&mut b, 36, rng.below(len) as u32 & !3);
            if len >= 56 {
                b[40..56].fill(0);
            }
            if len >= 60 && i % 4 == 0 {
                // Start the structure block with a root node.
                let off = be32(&b, 8) as usize;
                if off + 8 <= len {
                    put32(&mut b, off, 1);
                    put32(&mut b, off + 4, 0);
                }
            }
        }
        stats.add(check(&b, "garbage", i));
    }
    eprintln!("garbage: {} blobs, {} discovered", stats.total, stats.ok);
}

#[test]
fn property_lengths_changed() {
    let s = for_each_base("property lengths", PER_STRATEGY, |rng, base| {
        let mut b = base.to_vec();
        let props: Vec<_> = tokens(base)
            .into_iter()
            .filter_map(|(_, t)| match t {
                Tok::Prop { len_at, len, .. } => Some((len_at, len)),
                _ => None,
            })
            .collect();
        for _ in 0..1 + rng.below(3) {
            let (len_at, len) = props[rng.below(props.len())];
            let new = match rng.below(4) {
                0 => rng.word(),
                1 => len as u32 + 4 * (1 + rng.below(4) as u32),
                2 => (len as u32).saturating_sub(1 + rng.below(4) as u32),
                _ => len as u32 ^ (1 << rng.below(16)),
            };
            put32(&mut b, len_at, new);
        }
        b
    });
    assert!(s.total >= 17 * PER_STRATEGY);
}

/// Overwrite the value of properties with the given names (4-byte values).
fn mutate_cells(
    rng: &mut Rng,
    base: &[u8],
    names: &[&str],
    value: impl Fn(&mut Rng, u32) -> u32,
) -> Vec<u8> {
    let mut b = base.to_vec();
    let targets: Vec<_> = tokens(base)
        .into_iter()
        .filter_map(|(_, t)| match t {
            Tok::Prop {
                value_at,
                len,
                nameoff,
                ..
            } if names.contains(&prop_name(base, nameoff)) => Some((value_at, len)),
            _ => None,
        })
        .collect();
    if targets.is_empty() {
        return b;
    }
    for _ in 0..1 + rng.below(4) {
        let (at, len) = targets[rng.below(targets.len())];
        if len >= 4 {
            let old = be32(base, at);
            put32(&mut b, at + 4 * rng.below(len / 4), value(rng, old));
        }
    }
    b
}

#[test]
fn huge_and_odd_cell_counts() {
    let s = for_each_base("cell counts", PER_VALUE_STRATEGY, |rng, base| {
        mutate_cells(
            rng,
            base,
            &["#address-cells", "#size-cells", "#interrupt-cells"],
            |rng, _| match rng.below(3) {
                0 => rng.word(),
                1 => rng.below(6) as u32,
                _ => 0xffff_ffff,
            },
        )
    });
    assert!(
        s.ok > s.total / 2,
        "cell-count changes must not make blobs unusable"
    );
}

#[test]
fn interrupt_parent_loops_and_dangling_phandles() {
    // Point interrupt-parent and phandle values at each other, at nothing,
    // or at the same few numbers, which builds loops.
    let s = for_each_base("interrupt-parent", PER_VALUE_STRATEGY, |rng, base| {
        let mut b = mutate_cells(
            rng,
            base,
            &["interrupt-parent", "phandle"],
            |rng, old| match rng.below(4) {
                0 => old.wrapping_add(1),
                1 => rng.below(4) as u32,
                2 => 0xffff_ffff,
                _ => rng.word(),
            },
        );
        if rng.chance(2) {
            b = mutate_cells(
                rng,
                &b,
                &["interrupts", "interrupts-extended", "clocks"],
                |rng, _| rng.word(),
            );
        }
        b
    });
    assert!(s.ok > s.total / 2);
}

#[test]
fn token_corruption() {
    let s = for_each_base("tokens", PER_STRATEGY, |rng, base| {
        let mut b = base.to_vec();
        let toks = tokens(base);
        for _ in 0..1 + rng.below(2) {
            let (at, _) = toks[rng.below(toks.len())];
            put32(&mut b, at, [1, 2, 3, 4, 5, 9, 0][rng.below(7)]);
        }
        b
    });
    assert!(s.ok < s.total);
}

#[test]
fn ranges_and_reg_values() {
    let s = for_each_base("reg/ranges values", PER_VALUE_STRATEGY, |rng, base| {
        mutate_cells(
            rng,
            base,
            &[
                "reg",
                "ranges",
                "linux,initrd-start",
                "linux,initrd-end",
                "size",
            ],
            |rng, old| match rng.below(3) {
                0 => rng.word(),
                1 => !old,
                _ => old.wrapping_add(rng.word()),
            },
        )
    });
    assert!(s.ok == s.total, "value changes never make a blob invalid");
}

#[cfg(feature = "writer")]
mod crafted {
    use super::*;
    use nimbus_board::writer::{Edit, FdtBuilder, rewrite};

    fn nested(depth: usize) -> Vec<u8> {
        let mut b = FdtBuilder::new();
        b.begin_node("")
            .property_u32("#address-cells", 1)
            .property_u32("#size-cells", 1);
        for i in 0..depth {
            b.begin_node(&format!("n@{i:x}"))
                .property_u32("#address-cells", 1)
                .property_u32("#size-cells", 1)
                .property_cells("ranges", &[])
                .property_strs("compatible", &["ns16550a"])
                .property_cells("reg", &[0x1000 * i as u32, 0x100]);
        }
        for _ in 0..=depth {
            b.end_node();
        }
        b.finish().unwrap()
    }

    #[test]
    fn deep_nesting() {
        let limit = nimbus_board::MAX_DEPTH;
        let ok = nested(limit - 1);
        discover(&ok).unwrap();
        let found: Vec<_> = nimbus_board::devices::find_compatible(&ok, "ns16550a")
            .unwrap()
            .collect();
        assert_eq!(found.len(), limit - 1);
        // The deepest node is translated through every level's `ranges`.
        assert_eq!(
            found.last().unwrap().regs[0].start,
            0x1000 * (limit as u64 - 2)
        );
        assert!(matches!(
            discover(&nested(limit)),
            Err(DtError::TooDeep { .. })
        ));
        assert!(matches!(
            discover(&nested(1000)),
            Err(DtError::TooDeep { .. })
        ));
        for depth in [0, 1, 2, 10, 63, 64, 65, 200] {
            check(&nested(depth), "nested", depth as u64);
        }
    }

    #[test]
    fn mutations_of_crafted_trees() {
        // Trees built to reach code the real DTBs do not: interrupts-extended,
        // stacked controllers, wide cells. Mutate those too.
        let base = crate::crafted_base();
        let mut rng = Rng::new(0xc0ffee);
        let mut n = 0;
        for i in 0..400 {
            let mut b = base.clone();
            for _ in 0..1 + rng.below(6) {
                let at = 40 + rng.below(b.len() - 40);
                b[at] = rng.next() as u8;
            }
            check(&b, "crafted", i);
            n += 1;
        }
        // And edits that drop arbitrary nodes.
        for path in [
            "/intc",
            "/gpc",
            "/soc",
            "/chosen",
            "/aliases",
            "/cpus",
            "/soc/serial",
        ] {
            let out = rewrite(&base, &Edit::new().drop_node(path)).unwrap();
            assert!(check(&out, "drop", 0));
            n += 1;
        }
        assert!(n > 400);
    }
}

/// A tree with GIC + stacked controller, interrupts-extended, 3-cell bus.
#[cfg(feature = "writer")]
fn crafted_base() -> Vec<u8> {
    use nimbus_board::writer::FdtBuilder;
    let mut b = FdtBuilder::new();
    b.begin_node("")
        .property_u32("#address-cells", 2)
        .property_u32("#size-cells", 2)
        .property_u32("interrupt-parent", 2)
        .property_str("model", "crafted");
    b.begin_node("aliases")
        .property_str("serial0", "/soc/serial@1000")
        .end_node();
    b.begin_node("chosen")
        .property_str("stdout-path", "serial0:9600")
        .end_node();
    b.begin_node("intc@8000000")
        .property_strs("compatible", &["arm,gic-400"])
        .property_cells("reg", &[0, 0x800_0000, 0, 0x1000, 0, 0x801_0000, 0, 0x2000])
        .property_empty("interrupt-controller")
        .property_u32("#interrupt-cells", 3)
        .property_u32("phandle", 1)
        .end_node();
    b.begin_node("gpc@9000")
        .property_strs("compatible", &["fsl,imx8mq-gpc"])
        .property_cells("reg", &[0, 0x9000, 0, 0x1000])
        .property_empty("interrupt-controller")
        .property_u32("#interrupt-cells", 3)
        .property_u32("interrupt-parent", 1)
        .property_u32("phandle", 2)
        .end_node();
    b.begin_node("soc")
        .property_u32("#address-cells", 3)
        .property_u32("#size-cells", 1)
        .property_cells("ranges", &[0, 0, 0x1000, 0, 0x3f00_0000, 0x10_0000]);
    b.begin_node("serial@1000")
        .property_strs("compatible", &["ns16550a"])
        .property_cells("reg", &[0, 0, 0x1000, 0x100])
        .property_cells("interrupts-extended", &[1, 0, 7, 4, 2, 0, 8, 4])
        .end_node();
    b.end_node();
    b.begin_node("memory@40000000")
        .property_str("device_type", "memory")
        .property_cells("reg", &[0, 0x4000_0000, 0, 0x1000_0000])
        .end_node();
    b.begin_node("cpus")
        .property_u32("#address-cells", 2)
        .property_u32("#size-cells", 0);
    b.begin_node("cpu@0")
        .property_str("device_type", "cpu")
        .property_cells("reg", &[0, 0x100])
        .property_str("enable-method", "psci")
        .end_node();
    b.end_node();
    b.end_node();
    b.finish().unwrap()
}

#[cfg(feature = "writer")]
#[test]
fn crafted_base_is_sane() {
    let b = crafted_base();
    let p = discover(&b).unwrap();
    assert_eq!(p.console.unwrap().regs.start, 0x3f00_0000);
    assert_eq!(p.console.unwrap().irq, Some(nimbus_board::Irq::Spi(7)));
    assert!(matches!(
        p.interrupt_controller,
        Some(nimbus_board::InterruptController::GicV2 { .. })
    ));
}

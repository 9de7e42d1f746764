//! RAM and reservations.
//!
//! Usable RAM is every enabled `device_type = "memory"` node, each `reg`
//! entry decoded with the parent's cell counts (so 64-bit sizes above 4 GiB
//! work), then sorted and merged: NUMA trees list nodes out of order and a
//! frame allocator wants one ordered, non-overlapping list. Reservations are
//! *not* subtracted here; the kernel does that with [`Reservation`]s.

use crate::cells::{self, PhysRange};
use crate::tree::Visit;
use crate::validate::Layout;

/// A reserved region: a `/memreserve/` header entry or a `/reserved-memory`
/// child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation<'a> {
    /// Node name, or `"/memreserve/"` for header entries.
    pub name: &'a str,
    /// Where it is; `None` for a dynamically placed pool (only `size`).
    pub range: Option<PhysRange>,
    /// Size in bytes (equal to `range.size` when placed).
    pub size: u64,
    /// `no-map`: must not be mapped at all (firmware-owned).
    pub no_map: bool,
    /// `reusable`: the OS may use it until the owner claims it (CMA).
    pub reusable: bool,
}

/// Name used for `/memreserve/` entries.
pub const MEMRESERVE: &str = "/memreserve/";

/// Add `new` to a sorted, merged list. Returns `false` if the list was full
/// (the range is then lost).
pub(crate) fn add_range<const N: usize>(
    list: &mut heapless::Vec<PhysRange, N>,
    new: PhysRange,
) -> bool {
    if new.size == 0 {
        return true;
    }
    let Some(mut end) = new.end() else {
        return true;
    };
    let mut start = new.start;
    // Absorb every range that overlaps or touches the new one.
    let mut i = 0;
    while let Some(e) = list.get(i).copied() {
        let e_end = e.end().unwrap_or(u64::MAX);
        if e.start <= end && start <= e_end {
            start = start.min(e.start);
            end = end.max(e_end);
            list.remove(i);
        } else {
            i = i.saturating_add(1);
        }
    }
    let Some(merged) = end
        .checked_sub(start)
        .and_then(|size| PhysRange::new(start, size))
    else {
        return true;
    };
    let pos = list
        .iter()
        .position(|e| e.start > merged.start)
        .unwrap_or(list.len());
    list.insert(pos, merged).is_ok()
}

/// Sum of the sizes (saturating).
pub(crate) fn total(list: &[PhysRange]) -> u64 {
    list.iter().fold(0u64, |acc, r| acc.saturating_add(r.size))
}

/// Every `/memreserve/` entry, in blob order. Validation guarantees the map
/// is terminated inside the blob; entries of size 0 are skipped.
pub(crate) fn memreserve_entries(
    blob: &[u8],
    layout: Layout,
) -> impl Iterator<Item = Option<PhysRange>> + '_ {
    let mut at = Some(layout.rsvmap);
    core::iter::from_fn(move || {
        loop {
            let pos = at?;
            let entry = pos
                .checked_add(16)
                .filter(|e| *e <= layout.totalsize)
                .and_then(|_| {
                    Some((
                        cells::be64(blob, pos)?,
                        cells::be64(blob, pos.checked_add(8)?)?,
                    ))
                });
            match entry {
                None | Some((0, 0)) => {
                    at = None;
                    return None;
                }
                Some((_, 0)) => at = pos.checked_add(16),
                Some((addr, size)) => {
                    at = pos.checked_add(16);
                    return Some(PhysRange::new(addr, size));
                }
            }
        }
    })
}

/// A `/reserved-memory` child as reservations: one per `reg` entry, or one
/// dynamic entry from `size`. `push` returns `false` when the list is full.
pub(crate) fn reserved_memory_child<'a>(
    v: &Visit<'_, '_, 'a>,
    mut push: impl FnMut(Reservation<'a>) -> bool,
) {
    let no_map = v.has_prop("no-map");
    let reusable = v.has_prop("reusable");
    let mut any = false;
    for range in v.regs().flatten() {
        any = true;
        if range.size == 0 {
            continue;
        }
        let r = Reservation {
            name: v.name,
            range: Some(range),
            size: range.size,
            no_map,
            reusable,
        };
        if !push(r) {
            return;
        }
    }
    if any || v.props.reg.is_some() {
        return;
    }
    let size_cells = v.parent().map(|p| p.size_cells).unwrap_or(1);
    let size = v.prop("size").and_then(|s| {
        let len = cells::cells_len(size_cells)?;
        if s.len() != len {
            return None;
        }
        cells::decode_cells(s)
    });
    if let Some(size) = size {
        let _ = push(Reservation {
            name: v.name,
            range: None,
            size,
            no_map,
            reusable,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, size: u64) -> PhysRange {
        PhysRange::new(start, size).unwrap()
    }

    #[test]
    fn sorts_and_merges() {
        let mut l: heapless::Vec<PhysRange, 4> = heapless::Vec::new();
        assert!(add_range(&mut l, r(0x6000_0000, 0x2000_0000)));
        assert!(add_range(&mut l, r(0x4000_0000, 0x2000_0000)));
        assert_eq!(l.as_slice(), &[r(0x4000_0000, 0x4000_0000)]);
        assert!(add_range(&mut l, r(0x1000, 0x1000)));
        assert!(add_range(&mut l, r(0x1800, 0x100)));
        assert!(add_range(&mut l, r(0x0, 0)));
        assert_eq!(
            l.as_slice(),
            &[r(0x1000, 0x1000), r(0x4000_0000, 0x4000_0000)]
        );
        assert!(add_range(&mut l, r(0x500, 0x1000)));
        assert_eq!(l.first(), Some(&r(0x500, 0x1b00)));
        assert!(add_range(&mut l, r(u64::MAX - 10, 10)));
        assert_eq!(total(&l), 0x1b00 + 0x4000_0000 + 10);
    }

    #[test]
    fn full_list_reports_loss() {
        let mut l: heapless::Vec<PhysRange, 2> = heapless::Vec::new();
        assert!(add_range(&mut l, r(0, 1)));
        assert!(add_range(&mut l, r(10, 1)));
        assert!(!add_range(&mut l, r(20, 1)));
        assert!(add_range(&mut l, r(1, 1)));
        assert_eq!(l.as_slice(), &[r(0, 2), r(10, 1)]);
    }
}

//! Physical address ranges and the arithmetic boot needs: RAM minus everything reserved.

/// A half-open range of physical addresses `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    /// First address.
    pub start: u64,
    /// First address past the end.
    pub end: u64,
}

/// Too many pieces for the fixed capacity the caller chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyRanges;

impl Range {
    /// The range of `size` bytes at `start`, or `None` if it wraps around.
    pub const fn new(start: u64, size: u64) -> Option<Self> {
        match start.checked_add(size) {
            Some(end) => Some(Self { start, end }),
            None => None,
        }
    }

    /// Length in bytes.
    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range holds no address.
    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Whether `addr` lies inside.
    pub const fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    /// Whether the two ranges share an address.
    pub const fn overlaps(&self, other: &Range) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether `other` lies entirely inside.
    pub const fn covers(&self, other: &Range) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// The largest sub-range whose ends are multiples of `align` (a power of two), if any.
    pub const fn align_inward(&self, align: u64) -> Option<Range> {
        let mask = align - 1;
        let start = match self.start.checked_add(mask) {
            Some(v) => v & !mask,
            None => return None,
        };
        let end = self.end & !mask;
        if start < end {
            Some(Range { start, end })
        } else {
            None
        }
    }

    /// The smallest range whose ends are multiples of `align` covering this one, if representable.
    pub const fn align_outward(&self, align: u64) -> Option<Range> {
        let mask = align - 1;
        let end = match self.end.checked_add(mask) {
            Some(v) => v & !mask,
            None => return None,
        };
        Some(Range {
            start: self.start & !mask,
            end,
        })
    }
}

impl core::fmt::Display for Range {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:#x}..{:#x}", self.start, self.end)
    }
}

/// `ranges` with every address in `holes` removed. The result is sorted if `ranges` is.
pub fn subtract<const N: usize>(
    ranges: &[Range],
    holes: &[Range],
) -> Result<heapless::Vec<Range, N>, TooManyRanges> {
    let mut out: heapless::Vec<Range, N> = heapless::Vec::new();
    for range in ranges.iter().filter(|r| !r.is_empty()) {
        out.push(*range).map_err(|_| TooManyRanges)?;
    }
    for hole in holes.iter().filter(|h| !h.is_empty()) {
        let mut next: heapless::Vec<Range, N> = heapless::Vec::new();
        for piece in &out {
            if !piece.overlaps(hole) {
                next.push(*piece).map_err(|_| TooManyRanges)?;
                continue;
            }
            if piece.start < hole.start {
                next.push(Range {
                    start: piece.start,
                    end: hole.start,
                })
                .map_err(|_| TooManyRanges)?;
            }
            if hole.end < piece.end {
                next.push(Range {
                    start: hole.end,
                    end: piece.end,
                })
                .map_err(|_| TooManyRanges)?;
            }
        }
        out = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, end: u64) -> Range {
        Range { start, end }
    }

    #[test]
    fn subtracts_holes_at_every_position() {
        let ram = [r(0x4000_0000, 0x6000_0000)];
        let holes = [
            r(0x4000_0000, 0x4020_0000), // at the start
            r(0x4800_0000, 0x4810_0000), // in the middle
            r(0x5fff_f000, 0x7000_0000), // over the end
            r(0x1000, 0x2000),           // outside
        ];
        let free = subtract::<8>(&ram, &holes).unwrap();
        assert_eq!(
            free.as_slice(),
            &[r(0x4020_0000, 0x4800_0000), r(0x4810_0000, 0x5fff_f000)]
        );
    }

    #[test]
    fn hole_swallowing_a_range_removes_it() {
        let free = subtract::<4>(&[r(10, 20), r(30, 40)], &[r(0, 25)]).unwrap();
        assert_eq!(free.as_slice(), &[r(30, 40)]);
    }

    #[test]
    fn reports_overflow() {
        let holes: std::vec::Vec<Range> = (0..10).map(|i| r(i * 10 + 1, i * 10 + 2)).collect();
        assert_eq!(subtract::<4>(&[r(0, 100)], &holes), Err(TooManyRanges));
    }

    #[test]
    fn aligns() {
        assert_eq!(
            r(0x1001, 0x3fff).align_inward(0x1000),
            Some(r(0x2000, 0x3000))
        );
        assert_eq!(r(0x1001, 0x1fff).align_inward(0x1000), None);
        assert_eq!(
            r(0x1001, 0x2001).align_outward(0x1000),
            Some(r(0x1000, 0x3000))
        );
        assert_eq!(r(u64::MAX - 5, u64::MAX).align_outward(0x1000), None);
        assert_eq!(Range::new(u64::MAX, 2), None);
    }
}

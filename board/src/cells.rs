//! Checked decoding of raw property values: big-endian cells, `reg`-style
//! (address, size) lists, string lists, `status`.
//!
//! Every reader here takes arbitrary bytes and returns `None` (or stops) on
//! anything it cannot represent; none of them can panic. Cell counts above
//! [`MAX_CELLS`] are treated as undecodable rather than trusted.

use core::fmt;

/// Largest `#address-cells` / `#size-cells` value we decode. Wider values
/// only fit in a `u64` when the high cells are zero.
pub const MAX_CELLS: u32 = 4;
const MAX_CELLS_BYTES: usize = 16;

/// Read a big-endian `u32` at `off`, or `None` if it does not fit.
pub(crate) fn be32(bytes: &[u8], off: usize) -> Option<u32> {
    let end = off.checked_add(4)?;
    let arr: [u8; 4] = bytes.get(off..end)?.try_into().ok()?;
    Some(u32::from_be_bytes(arr))
}

/// Read a big-endian `u64` at `off`, or `None` if it does not fit.
pub(crate) fn be64(bytes: &[u8], off: usize) -> Option<u64> {
    let end = off.checked_add(8)?;
    let arr: [u8; 8] = bytes.get(off..end)?.try_into().ok()?;
    Some(u64::from_be_bytes(arr))
}

/// A property that holds exactly one `u32` cell.
pub(crate) fn prop_u32(value: &[u8]) -> Option<u32> {
    if value.len() == 4 {
        be32(value, 0)
    } else {
        None
    }
}

/// A property that holds one or two cells (4 or 8 bytes), e.g.
/// `linux,initrd-start` or `cpu-release-addr`.
pub(crate) fn prop_u32_or_u64(value: &[u8]) -> Option<u64> {
    match value.len() {
        4 => be32(value, 0).map(u64::from),
        8 => be64(value, 0),
        _ => None,
    }
}

/// Decode `cells` big-endian cells as one number. Values wider than 64 bits
/// are accepted only when their high cells are zero.
pub(crate) fn decode_cells(bytes: &[u8]) -> Option<u64> {
    if !bytes.len().is_multiple_of(4) || bytes.len() > MAX_CELLS_BYTES {
        return None;
    }
    let mut value: u64 = 0;
    for chunk in bytes.chunks_exact(4) {
        let cell = be32(chunk, 0)?;
        // Shifting out non-zero high bits would lose information.
        if value >> 32 != 0 {
            return None;
        }
        value = (value << 32) | u64::from(cell);
    }
    Some(value)
}

/// Byte length of `cells` cells, if the count is decodable.
pub(crate) fn cells_len(cells: u32) -> Option<usize> {
    if cells > MAX_CELLS {
        return None;
    }
    (cells as usize).checked_mul(4)
}

/// Iterator over the (address, size) entries of a `reg`-like property with
/// the given cell counts. Yields `Some((addr, size))` per entry, or `None` for
/// an entry whose numbers do not fit in 64 bits. A trailing partial entry is
/// ignored; undecodable cell counts yield nothing.
pub(crate) struct RegIter<'a> {
    data: &'a [u8],
    addr_len: usize,
    size_len: usize,
}

impl<'a> RegIter<'a> {
    pub(crate) fn new(data: &'a [u8], address_cells: u32, size_cells: u32) -> Self {
        match (cells_len(address_cells), cells_len(size_cells)) {
            // An entry must have at least one cell or we would never advance.
            (Some(addr_len), Some(size_len)) if addr_len.saturating_add(size_len) > 0 => Self {
                data,
                addr_len,
                size_len,
            },
            _ => Self {
                data: &[],
                addr_len: 0,
                size_len: 0,
            },
        }
    }
}

impl Iterator for RegIter<'_> {
    type Item = Option<(u64, u64)>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.addr_len.checked_add(self.size_len)?;
        if entry == 0 {
            return None;
        }
        let chunk = self.data.get(..entry)?;
        self.data = self.data.get(entry..).unwrap_or_default();
        let addr = chunk.get(..self.addr_len).and_then(decode_cells);
        let size = chunk.get(self.addr_len..).and_then(decode_cells);
        Some(addr.zip(size))
    }
}

/// The first string of a string or string-list property (up to the first
/// NUL), if it is valid UTF-8.
pub(crate) fn first_str(value: &[u8]) -> Option<&str> {
    let end = value.iter().position(|b| *b == 0).unwrap_or(value.len());
    core::str::from_utf8(value.get(..end)?).ok()
}

/// The strings of a string-list property (`"a\0b\0"`). Invalid UTF-8 and
/// empty entries are skipped.
pub(crate) fn str_list(value: &[u8]) -> impl Iterator<Item = &str> {
    value
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .filter_map(|s| core::str::from_utf8(s).ok())
}

/// Whether a string list contains `needle` (byte comparison, so no UTF-8
/// check per entry).
pub(crate) fn list_contains(value: &[u8], needle: &str) -> bool {
    !needle.is_empty() && value.split(|b| *b == 0).any(|s| s == needle.as_bytes())
}

/// `status` semantics: absent, `"okay"` or `"ok"` mean enabled.
pub(crate) fn status_enabled(status: Option<&[u8]>) -> bool {
    match status {
        None => true,
        Some(v) => matches!(first_str(v), Some("okay") | Some("ok")),
    }
}

/// A range of physical addresses (`start`, `size` in bytes).
///
/// Ranges produced by this crate always have a representable end
/// (`start + size` does not overflow); [`PhysRange::end`] is still checked
/// because the fields are public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhysRange {
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub size: u64,
}

impl PhysRange {
    /// A range whose end fits in 64 bits, or `None`.
    pub fn new(start: u64, size: u64) -> Option<Self> {
        start.checked_add(size)?;
        Some(Self { start, size })
    }

    /// One past the last byte, or `None` if that overflows.
    pub fn end(&self) -> Option<u64> {
        self.start.checked_add(self.size)
    }

    /// Whether `addr` lies inside the range.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.start && addr.wrapping_sub(self.start) < self.size
    }
}

impl fmt::Display for PhysRange {
    /// `0x40000000..0x60000000 (512 MiB)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.end() {
            Some(end) => write!(f, "{:#x}..{:#x} ({})", self.start, end, Size(self.size)),
            None => write!(f, "{:#x}+{:#x} (overflows)", self.start, self.size),
        }
    }
}

/// A byte count shown in the largest binary unit that divides it exactly:
/// `512 MiB`, `5 GiB`, `15744 KiB`, `7681 B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u32, &str); 5] = [
            (50, "PiB"),
            (40, "TiB"),
            (30, "GiB"),
            (20, "MiB"),
            (10, "KiB"),
        ];
        let n = self.0;
        if n != 0 {
            for (shift, unit) in UNITS {
                let mask = (1u64 << shift).wrapping_sub(1);
                if n >> shift != 0 && n & mask == 0 {
                    return write!(f, "{} {unit}", n >> shift);
                }
            }
        }
        write!(f, "{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_decode() {
        assert_eq!(
            decode_cells(&[0, 0, 0, 1, 0x40, 0, 0, 0]),
            Some(0x1_4000_0000)
        );
        assert_eq!(
            decode_cells(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2]),
            Some(0x1_0000_0002)
        );
        assert_eq!(decode_cells(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]), None);
        assert_eq!(decode_cells(&[1, 2, 3]), None);
        assert_eq!(decode_cells(&[]), Some(0));
        assert_eq!(decode_cells(&[0u8; 20]), None);
    }

    #[test]
    fn reg_iter_handles_odd_input() {
        let v = [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        let got: Vec<_> = RegIter::new(&v, 1, 1).collect();
        assert_eq!(got, vec![Some((1, 2))]);
        assert_eq!(RegIter::new(&v, 0, 0).count(), 0);
        assert_eq!(RegIter::new(&v, 0xffff_ffff, 1).count(), 0);
        assert_eq!(RegIter::new(&v, 3, 0).count(), 1);
    }

    #[test]
    fn strings_and_status() {
        assert_eq!(first_str(b"okay\0"), Some("okay"));
        assert_eq!(first_str(b"a\0b\0"), Some("a"));
        assert_eq!(first_str(b"\xff\0"), None);
        assert_eq!(
            str_list(b"a\0\0b\0\xff\0c").collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert!(status_enabled(None));
        assert!(status_enabled(Some(b"ok\0")));
        assert!(!status_enabled(Some(b"disabled\0")));
        assert!(!status_enabled(Some(b"")));
    }

    #[test]
    fn range_display() {
        let r = PhysRange::new(0x4000_0000, 0x2000_0000).unwrap();
        assert_eq!(r.to_string(), "0x40000000..0x60000000 (512 MiB)");
        assert_eq!(Size(0x1_4000_0000).to_string(), "5 GiB");
        assert_eq!(Size(0xf6_0000).to_string(), "15744 KiB");
        assert_eq!(Size(7681).to_string(), "7681 B");
        assert_eq!(Size(0).to_string(), "0 B");
        assert!(PhysRange::new(u64::MAX, 1).is_none());
        let bad = PhysRange {
            start: u64::MAX,
            size: 2,
        };
        assert_eq!(bad.end(), None);
        assert!(bad.to_string().contains("overflows"));
    }
}

//! Our own walk over the raw blob, run before anything is handed to `fdt`.
//!
//! `fdt` 0.1.5 trusts its input: it slices property values with the length
//! from the blob, `expect()`s NUL-terminated UTF-8 names, indexes a fixed
//! 64-entry parent array, and `assert!`s token order in `skip_current_node`.
//! [`validate`] checks every one of those preconditions (and a few of our
//! own) with checked arithmetic, so that afterwards every `fdt` call this
//! crate makes is known not to panic. The rules, beyond the FDT spec:
//!
//! * the root node has an empty name and is the only top-level node;
//! * every node and property name is NUL-terminated UTF-8 inside its block;
//!   child node names are not empty;
//! * no property after a child node (spec rule, `fdt` asserts on it);
//! * `FDT_NOP` only directly before an `FDT_END_NODE` or outside the root
//!   node (`fdt` panics on NOPs between properties);
//! * nesting at most [`MAX_DEPTH`] levels;
//! * the memory reservation map ends with a zero entry inside `totalsize`.

use crate::cells::{be32, be64};
use crate::error::DtError;
use crate::header::{self, HeaderInfo};

/// Deepest node nesting accepted (the root is depth 0). Real trees use 7 or
/// fewer; `fdt` itself breaks at 63. Walk state is sized by this.
pub const MAX_DEPTH: usize = 24;

pub(crate) const FDT_BEGIN_NODE: u32 = 1;
pub(crate) const FDT_END_NODE: u32 = 2;
pub(crate) const FDT_PROP: u32 = 3;
pub(crate) const FDT_NOP: u32 = 4;
pub(crate) const FDT_END: u32 = 9;

/// Offsets of the blocks, as `usize`, all checked to lie inside the blob.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub totalsize: usize,
    pub struct_start: usize,
    pub struct_end: usize,
    pub strings_start: usize,
    pub strings_end: usize,
    pub rsvmap: usize,
}

/// Check the header and that `blob` holds `totalsize` bytes.
pub(crate) fn layout(blob: &[u8]) -> Result<(HeaderInfo, Layout), DtError> {
    let h = header::check(blob)?;
    if blob.len() < h.totalsize as usize {
        return Err(DtError::Truncated {
            totalsize: h.totalsize,
            available: blob.len(),
        });
    }
    let l = Layout {
        totalsize: h.totalsize as usize,
        struct_start: h.off_dt_struct as usize,
        struct_end: h.struct_end() as usize,
        strings_start: h.off_dt_strings as usize,
        strings_end: h.off_dt_strings.saturating_add(h.size_dt_strings) as usize,
        rsvmap: h.off_mem_rsvmap as usize,
    };
    Ok((h, l))
}

/// One token of the structure block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    Begin { name: &'a str },
    Prop { name: &'a str, value: &'a [u8] },
    EndNode,
    Nop,
    End,
}

/// Reads tokens one at a time with full bounds checks.
#[derive(Clone)]
pub(crate) struct Tokens<'a> {
    blob: &'a [u8],
    layout: Layout,
    pos: usize,
}

fn offset_u32(pos: usize) -> u32 {
    u32::try_from(pos).unwrap_or(u32::MAX)
}

fn malformed(pos: usize, what: &'static str) -> DtError {
    DtError::Malformed {
        offset: offset_u32(pos),
        what,
    }
}

fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

impl<'a> Tokens<'a> {
    pub(crate) fn new(blob: &'a [u8], layout: Layout) -> Self {
        Self {
            blob,
            layout,
            pos: layout.struct_start,
        }
    }

    /// Offset of the next token.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    fn word(&self, at: usize) -> Option<u32> {
        let end = at.checked_add(4)?;
        if end > self.layout.struct_end {
            return None;
        }
        be32(self.blob, at)
    }

    /// A NUL-terminated UTF-8 string starting at `at` and ending before `limit`.
    fn cstr(&self, at: usize, limit: usize) -> Result<(&'a str, usize), &'static str> {
        let bytes = self.blob.get(at..limit).ok_or("string outside its block")?;
        let len = bytes
            .iter()
            .position(|b| *b == 0)
            .ok_or("string is not NUL-terminated inside its block")?;
        let s = bytes.get(..len).ok_or("string outside its block")?;
        let s = core::str::from_utf8(s).map_err(|_| "name is not valid UTF-8")?;
        Ok((s, len))
    }

    /// The next token, or an error naming the broken spot.
    pub(crate) fn next_token(&mut self) -> Result<Token<'a>, DtError> {
        let at = self.pos;
        let tag = self
            .word(at)
            .ok_or_else(|| malformed(at, "structure block ends without FDT_END"))?;
        let body = at.saturating_add(4);
        match tag {
            FDT_BEGIN_NODE => {
                let (name, len) = self
                    .cstr(body, self.layout.struct_end)
                    .map_err(|what| malformed(body, what))?;
                let next = body
                    .checked_add(len)
                    .and_then(|v| v.checked_add(1))
                    .and_then(align4)
                    .ok_or_else(|| malformed(body, "node name overflows"))?;
                self.pos = next;
                Ok(Token::Begin { name })
            }
            FDT_PROP => {
                let len = self
                    .word(body)
                    .ok_or_else(|| malformed(at, "property header is truncated"))?;
                let nameoff = self
                    .word(body.saturating_add(4))
                    .ok_or_else(|| malformed(at, "property header is truncated"))?;
                let value_start = body.saturating_add(8);
                let value_end = value_start
                    .checked_add(len as usize)
                    .filter(|end| *end <= self.layout.struct_end)
                    .ok_or_else(|| {
                        malformed(at, "property length runs past the structure block")
                    })?;
                let value = self
                    .blob
                    .get(value_start..value_end)
                    .ok_or_else(|| malformed(at, "property value outside the blob"))?;
                let name_at = self
                    .layout
                    .strings_start
                    .checked_add(nameoff as usize)
                    .filter(|p| *p < self.layout.strings_end)
                    .ok_or_else(|| {
                        malformed(at, "property name offset is outside the strings block")
                    })?;
                let (name, _) = self
                    .cstr(name_at, self.layout.strings_end)
                    .map_err(|what| malformed(at, what))?;
                self.pos =
                    align4(value_end).ok_or_else(|| malformed(at, "property length overflows"))?;
                Ok(Token::Prop { name, value })
            }
            FDT_END_NODE => {
                self.pos = body;
                Ok(Token::EndNode)
            }
            FDT_NOP => {
                self.pos = body;
                Ok(Token::Nop)
            }
            FDT_END => {
                self.pos = body;
                Ok(Token::End)
            }
            _ => Err(malformed(at, "unknown token in the structure block")),
        }
    }
}

/// What validation learned about the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stats {
    pub nodes: usize,
    pub max_depth: usize,
    pub reservations: usize,
}

/// Validate the whole blob: header, reservation map, structure block.
pub(crate) fn validate(blob: &[u8]) -> Result<(HeaderInfo, Layout, Stats), DtError> {
    validate_with(blob, Nops::FdtSafe)
}

/// Where `FDT_NOP` tokens are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nops {
    /// Only where `fdt` 0.1.5 copes with them (before `FDT_END_NODE`,
    /// outside the root).
    FdtSafe,
    /// Anywhere the FDT spec allows (for the writer, which does not use
    /// `fdt` and drops them).
    #[cfg_attr(not(feature = "writer"), allow(dead_code))]
    Anywhere,
}

/// [`validate`] with a choice of NOP policy.
pub(crate) fn validate_with(
    blob: &[u8],
    nops: Nops,
) -> Result<(HeaderInfo, Layout, Stats), DtError> {
    let (h, l) = layout(blob)?;
    if h.size_dt_struct.is_none() {
        // fdt 0.1.5 reads the v17 `size_dt_struct` field unconditionally.
        return Err(DtError::UnsupportedVersion {
            version: h.version,
            last_comp_version: h.last_comp_version,
        });
    }
    let reservations = check_rsvmap(blob, &l)?;
    let mut stats = check_struct(blob, &l, nops)?;
    stats.reservations = reservations;
    Ok((h, l, stats))
}

/// Count the reservation entries, checking the terminator is inside the blob.
fn check_rsvmap(blob: &[u8], l: &Layout) -> Result<usize, DtError> {
    let mut at = l.rsvmap;
    let mut count = 0usize;
    loop {
        let end = at.checked_add(16).filter(|e| *e <= l.totalsize);
        let (addr, size) = match end {
            Some(_) => (be64(blob, at), be64(blob, at.saturating_add(8))),
            None => (None, None),
        };
        match addr.zip(size) {
            None => {
                return Err(malformed(
                    at,
                    "memory reservation map has no terminating zero entry",
                ));
            }
            Some((0, 0)) => return Ok(count),
            Some(_) => {
                count = count.saturating_add(1);
                at = at.saturating_add(16);
            }
        }
    }
}

fn check_struct(blob: &[u8], l: &Layout, nops: Nops) -> Result<Stats, DtError> {
    let mut tokens = Tokens::new(blob, *l);
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut root_closed = false;
    let mut pending_nop: Option<usize> = None;
    // Bit i set: the open node at index i (root = 0) already had a child.
    // MAX_DEPTH < 64 keeps every index inside the word.
    let mut had_child: u64 = 0;
    let bit = |index: usize| {
        1u64.checked_shl(u32::try_from(index).unwrap_or(u32::MAX))
            .unwrap_or(0)
    };
    let mut stats = Stats {
        nodes: 0,
        max_depth: 0,
        reservations: 0,
    };
    loop {
        let at = tokens.pos();
        let token = tokens.next_token()?;
        if token == Token::Nop {
            if depth > 0 && pending_nop.is_none() && nops == Nops::FdtSafe {
                pending_nop = Some(at);
            }
            continue;
        }
        if let Some(nop_at) = pending_nop.take()
            && token != Token::EndNode
        {
            return Err(DtError::Unsupported {
                offset: offset_u32(nop_at),
                what: "FDT_NOP between properties or nodes",
            });
        }
        match token {
            Token::Begin { name } => {
                if root_closed {
                    return Err(malformed(at, "a second top-level node follows the root"));
                }
                if depth == 0 {
                    if !name.is_empty() {
                        return Err(malformed(at, "the root node has a non-empty name"));
                    }
                    root_seen = true;
                } else {
                    if name.is_empty() {
                        return Err(malformed(at, "a child node has an empty name"));
                    }
                    had_child |= bit(depth.saturating_sub(1));
                }
                if depth >= MAX_DEPTH {
                    return Err(DtError::TooDeep {
                        offset: offset_u32(at),
                        limit: MAX_DEPTH,
                    });
                }
                // The new node's index is the old depth.
                had_child &= !bit(depth);
                stats.max_depth = stats.max_depth.max(depth);
                depth = depth.saturating_add(1);
                stats.nodes = stats.nodes.saturating_add(1);
            }
            Token::Prop { .. } => {
                let Some(current) = depth.checked_sub(1) else {
                    return Err(malformed(at, "property outside of any node"));
                };
                if had_child & bit(current) != 0 {
                    return Err(malformed(at, "property after a child node"));
                }
            }
            Token::EndNode => {
                let Some(outer) = depth.checked_sub(1) else {
                    return Err(malformed(
                        at,
                        "FDT_END_NODE without a matching FDT_BEGIN_NODE",
                    ));
                };
                depth = outer;
                if depth == 0 {
                    root_closed = true;
                }
            }
            Token::End => {
                if !root_seen {
                    return Err(malformed(at, "structure block has no root node"));
                }
                if depth != 0 {
                    return Err(malformed(at, "FDT_END inside an unclosed node"));
                }
                return Ok(stats);
            }
            Token::Nop => {}
        }
    }
}

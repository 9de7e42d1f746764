//! FDT writer and editor (cargo feature `writer`, uses `alloc`).
//!
//! For host tools and tests, never the kernel: xtask uses it to make trees
//! that boot the kernel under QEMU with `-dtb` (no memory node, no console,
//! an unsupported interrupt controller...), and this crate's tests use it to
//! build trees the real DTBs do not cover.
//!
//! * [`FdtBuilder`] writes a blob from scratch: `begin_node` / `property` /
//!   `end_node` / [`FdtBuilder::finish`], plus `/memreserve/` entries. The
//!   output is a standard version-17 blob (the layout `dtc` writes:
//!   header, reservation map, structure block, strings block) that
//!   `dtc -I dtb -O dts` accepts.
//! * [`rewrite`] copies an existing blob while applying an [`Edit`]:
//!   dropping nodes (by path or by `compatible`), dropping, replacing or
//!   adding properties, adding empty nodes, and changing `/memreserve/`.
//!   `FDT_NOP` tokens are dropped on the way, so `rewrite` with an empty edit
//!   also re-packs a blob.
//! * [`set_header_field`] pokes a header field, for deliberately broken
//!   blobs.
//!
//! Paths are absolute (`/soc/serial@7e215040`). A component without a unit
//! address matches any unit address (`/memory` matches `memory@40000000`),
//! and an edit applies to *every* matching node.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::cells::{be32, be64};
use crate::error::DtError;
use crate::validate::{self, FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_PROP, Token, Tokens};

/// Why a blob could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// `finish` was called with nodes still open.
    UnclosedNodes {
        /// How many `begin_node`s lack an `end_node`.
        open: usize,
    },
    /// `end_node` without a matching `begin_node`.
    EndWithoutBegin,
    /// A property was added outside of any node.
    PropertyOutsideNode {
        /// The property name.
        name: String,
    },
    /// No root node was written, or a second top-level node was started.
    RootNode(&'static str),
    /// A node or property name contains a NUL byte (or a node name a `/`).
    BadName {
        /// The offending name.
        name: String,
    },
    /// The blob would exceed 4 GiB.
    TooLarge,
    /// The input of [`rewrite`] is not a usable DTB.
    Input(DtError),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::UnclosedNodes { open } => {
                write!(f, "FDT writer: {open} node(s) not closed with end_node")
            }
            WriteError::EndWithoutBegin => f.write_str("FDT writer: end_node without begin_node"),
            WriteError::PropertyOutsideNode { name } => {
                write!(f, "FDT writer: property {name:?} outside of any node")
            }
            WriteError::RootNode(what) => write!(f, "FDT writer: {what}"),
            WriteError::BadName { name } => write!(f, "FDT writer: invalid name {name:?}"),
            WriteError::TooLarge => f.write_str("FDT writer: blob would exceed 4 GiB"),
            WriteError::Input(e) => write!(f, "FDT editor: input rejected: {e}"),
        }
    }
}

impl From<DtError> for WriteError {
    fn from(e: DtError) -> Self {
        WriteError::Input(e)
    }
}

/// Builds a DTB. Methods chain; the first misuse is remembered and
/// reported by [`FdtBuilder::finish`].
#[derive(Debug, Clone, Default)]
pub struct FdtBuilder {
    structure: Vec<u8>,
    strings: Vec<u8>,
    string_offsets: BTreeMap<String, u32>,
    reservations: Vec<(u64, u64)>,
    depth: usize,
    root_started: bool,
    root_closed: bool,
    boot_cpuid: u32,
    error: Option<WriteError>,
}

impl FdtBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    fn fail(&mut self, e: WriteError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    fn word(&mut self, w: u32) {
        self.structure.extend_from_slice(&w.to_be_bytes());
    }

    fn pad(&mut self) {
        while !self.structure.len().is_multiple_of(4) {
            self.structure.push(0);
        }
    }

    /// Set the header's `boot_cpuid_phys`.
    pub fn boot_cpuid(&mut self, id: u32) -> &mut Self {
        self.boot_cpuid = id;
        self
    }

    /// Add a `/memreserve/` entry.
    pub fn memreserve(&mut self, address: u64, size: u64) -> &mut Self {
        self.reservations.push((address, size));
        self
    }

    /// Open a node. The first node must be the root, named `""`.
    pub fn begin_node(&mut self, name: &str) -> &mut Self {
        if name.contains('\0') || name.contains('/') {
            self.fail(WriteError::BadName { name: name.into() });
        }
        if self.depth == 0 {
            if self.root_started {
                self.fail(WriteError::RootNode("a second top-level node was started"));
            }
            if !name.is_empty() {
                self.fail(WriteError::RootNode("the root node must be named \"\""));
            }
            self.root_started = true;
        }
        self.depth = self.depth.saturating_add(1);
        self.word(FDT_BEGIN_NODE);
        self.structure.extend_from_slice(name.as_bytes());
        self.structure.push(0);
        self.pad();
        self
    }

    /// Close the innermost open node.
    pub fn end_node(&mut self) -> &mut Self {
        match self.depth.checked_sub(1) {
            Some(d) => {
                self.depth = d;
                if d == 0 {
                    self.root_closed = true;
                }
                self.word(FDT_END_NODE);
            }
            None => self.fail(WriteError::EndWithoutBegin),
        }
        self
    }

    fn name_offset(&mut self, name: &str) -> u32 {
        if let Some(off) = self.string_offsets.get(name) {
            return *off;
        }
        let Ok(off) = u32::try_from(self.strings.len()) else {
            self.fail(WriteError::TooLarge);
            return 0;
        };
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        self.string_offsets.insert(name.into(), off);
        off
    }

    /// Add a property with a raw value to the open node.
    pub fn property(&mut self, name: &str, value: &[u8]) -> &mut Self {
        if name.contains('\0') || name.is_empty() {
            self.fail(WriteError::BadName { name: name.into() });
        }
        if self.depth == 0 {
            self.fail(WriteError::PropertyOutsideNode { name: name.into() });
        }
        let Ok(len) = u32::try_from(value.len()) else {
            self.fail(WriteError::TooLarge);
            return self;
        };
        let off = self.name_offset(name);
        self.word(FDT_PROP);
        self.word(len);
        self.word(off);
        self.structure.extend_from_slice(value);
        self.pad();
        self
    }

    /// An empty (boolean) property such as `interrupt-controller`.
    pub fn property_empty(&mut self, name: &str) -> &mut Self {
        self.property(name, &[])
    }

    /// A one-cell property.
    pub fn property_u32(&mut self, name: &str, value: u32) -> &mut Self {
        self.property(name, &value.to_be_bytes())
    }

    /// A two-cell property.
    pub fn property_u64(&mut self, name: &str, value: u64) -> &mut Self {
        self.property(name, &value.to_be_bytes())
    }

    /// A property of several cells (`reg = <0 0x40000000 0 0x20000000>`).
    pub fn property_cells(&mut self, name: &str, cells: &[u32]) -> &mut Self {
        self.property(name, &cells_bytes(cells))
    }

    /// A string property (NUL added).
    pub fn property_str(&mut self, name: &str, value: &str) -> &mut Self {
        self.property(name, &str_bytes(&[value]))
    }

    /// A string-list property (`compatible = "a", "b"`).
    pub fn property_strs(&mut self, name: &str, values: &[&str]) -> &mut Self {
        self.property(name, &str_bytes(values))
    }

    /// Append a raw structure-block word (for deliberately broken trees,
    /// e.g. an `FDT_NOP` between properties). Not checked.
    pub fn raw_word(&mut self, word: u32) -> &mut Self {
        self.word(word);
        self
    }

    /// The finished blob, or the first misuse.
    pub fn finish(&self) -> Result<Vec<u8>, WriteError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.depth != 0 {
            return Err(WriteError::UnclosedNodes { open: self.depth });
        }
        if !self.root_closed {
            return Err(WriteError::RootNode("no root node was written"));
        }
        self.finish_unchecked()
    }

    /// The blob as written so far, closing nothing and checking nothing
    /// (for broken-tree tests). Only fails if it would exceed 4 GiB.
    pub fn finish_unchecked(&self) -> Result<Vec<u8>, WriteError> {
        let header = 40usize;
        let rsv_len = self
            .reservations
            .len()
            .checked_add(1)
            .and_then(|n| n.checked_mul(16))
            .ok_or(WriteError::TooLarge)?;
        let off_struct = header.checked_add(rsv_len).ok_or(WriteError::TooLarge)?;
        let size_struct = self
            .structure
            .len()
            .checked_add(4)
            .ok_or(WriteError::TooLarge)?;
        let off_strings = off_struct
            .checked_add(size_struct)
            .ok_or(WriteError::TooLarge)?;
        let total = off_strings
            .checked_add(self.strings.len())
            .ok_or(WriteError::TooLarge)?;
        let u = |v: usize| u32::try_from(v).map_err(|_| WriteError::TooLarge);
        let fields = [
            0xd00d_feed,
            u(total)?,
            u(off_struct)?,
            u(off_strings)?,
            u(header)?,
            17,
            16,
            self.boot_cpuid,
            u(self.strings.len())?,
            u(size_struct)?,
        ];
        let mut out = Vec::with_capacity(total);
        for f in fields {
            out.extend_from_slice(&f.to_be_bytes());
        }
        for (addr, size) in &self.reservations {
            out.extend_from_slice(&addr.to_be_bytes());
            out.extend_from_slice(&size.to_be_bytes());
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&self.structure);
        out.extend_from_slice(&FDT_END.to_be_bytes());
        out.extend_from_slice(&self.strings);
        Ok(out)
    }
}

/// Cells as big-endian bytes.
pub fn cells_bytes(cells: &[u32]) -> Vec<u8> {
    cells.iter().flat_map(|c| c.to_be_bytes()).collect()
}

/// Strings as a NUL-separated string list.
pub fn str_bytes(values: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    DropNode(String),
    DropCompatible(String),
    DropProperty {
        node: String,
        name: String,
    },
    SetProperty {
        node: String,
        name: String,
        value: Vec<u8>,
    },
    AddNode {
        parent: String,
        name: String,
    },
    ClearMemreserve,
    AddMemreserve(u64, u64),
}

/// A list of changes for [`rewrite`], built by chaining.
///
/// ```
/// # #[cfg(feature = "writer")] {
/// use nimbus_board::writer::{rewrite, Edit};
/// let dtb = include_bytes!("../dtbs/virt-a53-smp2-512m.dtb");
/// let edit = Edit::new()
///     .drop_node("/memory")
///     .set_property_str("/chosen", "bootargs", "console=ttyAMA0");
/// let out = rewrite(dtb, &edit).unwrap();
/// let p = nimbus_board::discover(&out).unwrap();
/// assert!(p.memory.is_empty());
/// assert_eq!(p.chosen.bootargs, Some("console=ttyAMA0"));
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edit {
    ops: Vec<Op>,
}

impl Edit {
    /// No changes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drop every node matching `path`, with its subtree.
    pub fn drop_node(mut self, path: &str) -> Self {
        self.ops.push(Op::DropNode(path.into()));
        self
    }

    /// Drop every node whose `compatible` list contains `compatible`.
    pub fn drop_compatible(mut self, compatible: &str) -> Self {
        self.ops.push(Op::DropCompatible(compatible.into()));
        self
    }

    /// Drop property `name` of the nodes matching `path`.
    pub fn drop_property(mut self, path: &str, name: &str) -> Self {
        self.ops.push(Op::DropProperty {
            node: path.into(),
            name: name.into(),
        });
        self
    }

    /// Replace (or add, if missing) property `name` of the nodes matching
    /// `path`. Overrides a `drop_property` of the same property.
    pub fn set_property(mut self, path: &str, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.ops.push(Op::SetProperty {
            node: path.into(),
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// [`Edit::set_property`] with a string value.
    pub fn set_property_str(self, path: &str, name: &str, value: &str) -> Self {
        self.set_property(path, name, str_bytes(&[value]))
    }

    /// [`Edit::set_property`] with a string-list value.
    pub fn set_property_strs(self, path: &str, name: &str, values: &[&str]) -> Self {
        self.set_property(path, name, str_bytes(values))
    }

    /// [`Edit::set_property`] with one cell.
    pub fn set_property_u32(self, path: &str, name: &str, value: u32) -> Self {
        self.set_property(path, name, value.to_be_bytes().to_vec())
    }

    /// [`Edit::set_property`] with several cells.
    pub fn set_property_cells(self, path: &str, name: &str, cells: &[u32]) -> Self {
        self.set_property(path, name, cells_bytes(cells))
    }

    /// Add an empty child `name` as the last child of every node matching
    /// `parent`. Give it properties with `set_property(parent + "/" + name, ..)`.
    pub fn add_node(mut self, parent: &str, name: &str) -> Self {
        self.ops.push(Op::AddNode {
            parent: parent.into(),
            name: name.into(),
        });
        self
    }

    /// Remove every `/memreserve/` entry of the input.
    pub fn clear_memreserve(mut self) -> Self {
        self.ops.push(Op::ClearMemreserve);
        self
    }

    /// Add a `/memreserve/` entry.
    pub fn add_memreserve(mut self, address: u64, size: u64) -> Self {
        self.ops.push(Op::AddMemreserve(address, size));
        self
    }

    fn drops_node(&self, path: &str, compatible: Option<&[u8]>) -> bool {
        self.ops.iter().any(|op| match op {
            Op::DropNode(p) => path_matches(p, path),
            Op::DropCompatible(c) => compatible.is_some_and(|v| crate::cells::list_contains(v, c)),
            _ => false,
        })
    }

    fn new_value(&self, path: &str, name: &str) -> Option<&[u8]> {
        self.ops.iter().rev().find_map(|op| match op {
            Op::SetProperty {
                node,
                name: n,
                value,
            } if n == name && path_matches(node, path) => Some(value.as_slice()),
            _ => None,
        })
    }

    fn drops_property(&self, path: &str, name: &str) -> bool {
        self.ops.iter().any(|op| {
            matches!(op, Op::DropProperty { node, name: n } if n == name && path_matches(node, path))
        })
    }

    /// Properties to add to `path` that were not present (in edit order,
    /// last value wins).
    fn additions<'e>(&'e self, path: &str, present: &[String]) -> Vec<(&'e str, &'e [u8])> {
        let mut out: Vec<(&str, &[u8])> = Vec::new();
        for op in &self.ops {
            if let Op::SetProperty { node, name, value } = op
                && path_matches(node, path)
                && !present.iter().any(|p| p == name)
            {
                match out.iter_mut().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = value,
                    None => out.push((name, value)),
                }
            }
        }
        out
    }

    fn new_children(&self, path: &str) -> impl Iterator<Item = &str> {
        self.ops.iter().filter_map(move |op| match op {
            Op::AddNode { parent, name } if path_matches(parent, path) => Some(name.as_str()),
            _ => None,
        })
    }
}

/// Whether `pattern` names the node at `path` (both absolute).
fn path_matches(pattern: &str, path: &str) -> bool {
    let mut pat = pattern.split('/').filter(|c| !c.is_empty());
    let mut act = path.split('/').filter(|c| !c.is_empty());
    loop {
        match (pat.next(), act.next()) {
            (None, None) => return true,
            (Some(p), Some(a)) => {
                if !crate::chosen::component_matches(p, a) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

fn child_path(parent: &str, name: &str) -> String {
    let mut p = String::from(parent);
    if !p.ends_with('/') {
        p.push('/');
    }
    p.push_str(name);
    p
}

struct Frame {
    path: String,
    props_done: bool,
    present: Vec<String>,
}

/// Copy `dtb` applying `edit`. The input must be a well-formed FDT (as
/// [`crate::validate`] checks, except that `FDT_NOP` tokens are accepted
/// anywhere; they are dropped, so this also re-packs NOP-edited blobs that
/// [`crate::discover`] refuses).
pub fn rewrite(dtb: &[u8], edit: &Edit) -> Result<Vec<u8>, WriteError> {
    let (header, layout, _) = validate::validate_with(dtb, validate::Nops::Anywhere)?;
    let mut b = FdtBuilder::new();
    b.boot_cpuid(header.boot_cpuid_phys);
    if !edit.ops.contains(&Op::ClearMemreserve) {
        let mut at = layout.rsvmap;
        while let (Some(addr), Some(size)) =
            (be64(dtb, at), at.checked_add(8).and_then(|p| be64(dtb, p)))
        {
            if addr == 0 && size == 0 {
                break;
            }
            b.memreserve(addr, size);
            at = at.checked_add(16).ok_or(WriteError::TooLarge)?;
        }
    }
    for op in &edit.ops {
        if let Op::AddMemreserve(addr, size) = op {
            b.memreserve(*addr, *size);
        }
    }

    let mut tokens = Tokens::new(dtb, layout);
    let mut stack: Vec<Frame> = Vec::new();
    let mut skipping = 0usize;
    loop {
        match tokens.next_token()? {
            Token::Begin { name } => {
                if skipping > 0 {
                    skipping = skipping.saturating_add(1);
                    continue;
                }
                if let Some(parent) = stack.last_mut()
                    && !parent.props_done
                {
                    parent.props_done = true;
                    for (n, v) in edit.additions(&parent.path, &parent.present) {
                        b.property(n, v);
                    }
                }
                let path = match stack.last() {
                    Some(parent) => child_path(&parent.path, name),
                    None => String::from("/"),
                };
                let compatible = peek_compatible(&tokens);
                if !stack.is_empty() && edit.drops_node(&path, compatible) {
                    skipping = 1;
                    continue;
                }
                b.begin_node(name);
                stack.push(Frame {
                    path,
                    props_done: false,
                    present: Vec::new(),
                });
            }
            Token::Prop { name, value } => {
                if skipping > 0 {
                    continue;
                }
                let Some(frame) = stack.last_mut() else {
                    continue;
                };
                frame.present.push(name.into());
                match edit.new_value(&frame.path, name) {
                    Some(v) => {
                        b.property(name, v);
                    }
                    None if edit.drops_property(&frame.path, name) => {}
                    None => {
                        b.property(name, value);
                    }
                }
            }
            Token::EndNode => {
                if skipping > 0 {
                    skipping = skipping.saturating_sub(1);
                    continue;
                }
                let Some(frame) = stack.pop() else {
                    continue;
                };
                if !frame.props_done {
                    for (n, v) in edit.additions(&frame.path, &frame.present) {
                        b.property(n, v);
                    }
                }
                for child in edit.new_children(&frame.path) {
                    let path = child_path(&frame.path, child);
                    b.begin_node(child);
                    for (n, v) in edit.additions(&path, &[]) {
                        b.property(n, v);
                    }
                    b.end_node();
                }
                b.end_node();
            }
            Token::Nop => {}
            Token::End => break,
        }
    }
    b.finish()
}

/// The `compatible` value of the node whose `FDT_BEGIN_NODE` was just read.
fn peek_compatible<'a>(tokens: &Tokens<'a>) -> Option<&'a [u8]> {
    let mut look = tokens.clone();
    loop {
        match look.next_token().ok()? {
            Token::Prop {
                name: "compatible",
                value,
            } => return Some(value),
            Token::Prop { .. } | Token::Nop => {}
            _ => return None,
        }
    }
}

/// A header field, for [`set_header_field`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderField {
    /// Word 0.
    Magic,
    /// Word 1.
    TotalSize,
    /// Word 2.
    OffDtStruct,
    /// Word 3.
    OffDtStrings,
    /// Word 4.
    OffMemRsvmap,
    /// Word 5.
    Version,
    /// Word 6.
    LastCompVersion,
    /// Word 7.
    BootCpuidPhys,
    /// Word 8.
    SizeDtStrings,
    /// Word 9.
    SizeDtStruct,
}

impl HeaderField {
    /// All fields, in header order.
    pub const ALL: [HeaderField; 10] = [
        HeaderField::Magic,
        HeaderField::TotalSize,
        HeaderField::OffDtStruct,
        HeaderField::OffDtStrings,
        HeaderField::OffMemRsvmap,
        HeaderField::Version,
        HeaderField::LastCompVersion,
        HeaderField::BootCpuidPhys,
        HeaderField::SizeDtStrings,
        HeaderField::SizeDtStruct,
    ];

    fn offset(self) -> usize {
        let index = HeaderField::ALL
            .iter()
            .position(|f| *f == self)
            .unwrap_or(0);
        index.saturating_mul(4)
    }
}

/// Read a header field (`None` if `blob` is shorter than the header).
pub fn header_field(blob: &[u8], field: HeaderField) -> Option<u32> {
    be32(blob, field.offset())
}

/// Overwrite a header field; returns `false` if `blob` is too short.
pub fn set_header_field(blob: &mut [u8], field: HeaderField, value: u32) -> bool {
    let off = field.offset();
    match off.checked_add(4).and_then(|end| blob.get_mut(off..end)) {
        Some(slot) => {
            slot.copy_from_slice(&value.to_be_bytes());
            true
        }
        None => false,
    }
}

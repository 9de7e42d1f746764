//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use nimbus_board::{Platform, devices, discover, json};

/// Every DTB in `board/dtbs/`, sorted by name.
pub fn all_dtbs() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/dtbs");
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .expect("board/dtbs exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "dtb"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("readable dtb"))
        })
        .collect();
    out.sort();
    out
}

/// One DTB by file name.
pub fn dtb(name: &str) -> Vec<u8> {
    let path = format!("{}/dtbs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every range in the platform (for the "checked end" invariant).
pub fn all_ranges(p: &Platform<'_>) -> Vec<nimbus_board::PhysRange> {
    use nimbus_board::InterruptController as Ic;
    let mut v: Vec<_> = p.memory.iter().copied().collect();
    v.extend(p.reservations.iter().filter_map(|r| r.range));
    v.extend(p.chosen.initrd);
    v.extend(p.console.iter().map(|u| u.regs));
    v.extend(p.uarts.iter().map(|u| u.regs));
    match &p.interrupt_controller {
        Some(Ic::GicV2 {
            distributor,
            cpu_interface,
            ..
        }) => v.extend([*distributor, *cpu_interface]),
        Some(Ic::GicV3 {
            distributor,
            redistributors,
        }) => {
            v.push(*distributor);
            v.extend(redistributors.iter().copied());
        }
        Some(Ic::Bcm2836 { armctrl, local }) => {
            v.push(*armctrl);
            v.extend(*local);
        }
        _ => {}
    }
    v.extend(p.virtio_mmio.iter().map(|t| t.regs));
    v.extend(p.framebuffers.iter().filter_map(|f| f.reg));
    v
}

/// Run every public entry point on `blob`; panics (failing the test) only
/// if an invariant is broken. Returns whether `discover` succeeded.
pub fn exercise(blob: &[u8]) -> bool {
    exercise_with(
        blob,
        &[
            "virtio,mmio",
            "arm,pl011",
            "simple-framebuffer",
            "arm,gic-400",
        ],
    )
}

/// [`exercise`] with a chosen set of `compatible` strings for `devices`.
pub fn exercise_with(blob: &[u8], compatibles: &[&str]) -> bool {
    let ok = match discover(blob) {
        Ok(p) => {
            for r in all_ranges(&p) {
                assert!(r.end().is_some(), "range without a checked end: {r:?}");
            }
            let mut memory_sorted = p.memory.windows(2);
            assert!(
                memory_sorted.all(|w| w[0].end().unwrap() < w[1].start),
                "memory not sorted and merged: {:?}",
                p.memory
            );
            let text = p.to_string();
            assert!(text.contains("unsupported:"));
            let mut j = String::new();
            json::write_json(&p, &mut j).expect("write_json to a String");
            parse_json(&j).unwrap_or_else(|e| panic!("invalid JSON ({e}): {j}"));
            true
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty() && !msg.contains('\n'));
            false
        }
    };
    for compat in compatibles {
        if let Ok(devs) = devices::find_compatible(blob, compat) {
            for d in devs.take(100) {
                for r in &d.regs {
                    assert!(r.end().is_some());
                }
            }
        }
    }
    let _ = nimbus_board::header::check(blob);
    ok
}

/// Deterministic xorshift64* generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    pub fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }

    pub fn word(&mut self) -> u32 {
        const SPECIAL: [u32; 10] = [
            0,
            1,
            2,
            3,
            4,
            9,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_fffc,
            u32::MAX,
        ];
        if self.chance(2) {
            SPECIAL[self.below(SPECIAL.len())]
        } else {
            self.next() as u32
        }
    }
}

/// A tiny JSON value, enough to check `write_json` output.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    pub fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(m) => m.get(key).unwrap_or_else(|| panic!("no key {key:?}")),
            other => panic!("not an object: {other:?}"),
        }
    }

    pub fn at(&self, i: usize) -> &Json {
        match self {
            Json::Arr(v) => &v[i],
            other => panic!("not an array: {other:?}"),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Json::Arr(v) => v.len(),
            other => panic!("not an array: {other:?}"),
        }
    }

    pub fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    pub fn num(&self) -> f64 {
        match self {
            Json::Num(n) => *n,
            other => panic!("not a number: {other:?}"),
        }
    }
}

/// Strict parser for the JSON subset `write_json` may emit (all of JSON
/// except exponents).
pub fn parse_json(s: &str) -> Result<Json, String> {
    let mut p = Parser {
        b: s.as_bytes(),
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(format!("trailing data at {}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && b" \t\r\n".contains(&self.b[self.i]) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", c as char, self.i))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > 64 {
            return Err("too deep".into());
        }
        self.ws();
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(m));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.eat(b':')?;
                    let v = self.value(depth + 1)?;
                    if m.insert(k.clone(), v).is_some() {
                        return Err(format!("duplicate key {k}"));
                    }
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(m));
                        }
                        _ => return Err(format!("bad object at {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(v));
                }
                loop {
                    v.push(self.value(depth + 1)?);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(v));
                        }
                        _ => return Err(format!("bad array at {}", self.i)),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'n') => self.word("null", Json::Null),
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                if self.b[self.i] == b'-' {
                    self.i += 1;
                }
                let digits = self.i;
                while self.i < self.b.len() && self.b[self.i].is_ascii_digit() {
                    self.i += 1;
                }
                if self.i == digits || (self.b[digits] == b'0' && self.i - digits > 1) {
                    return Err(format!("bad number at {start}"));
                }
                let text = std::str::from_utf8(&self.b[start..self.i]).unwrap();
                Ok(Json::Num(text.parse().map_err(|_| "bad number")?))
            }
            _ => Err(format!("unexpected input at {}", self.i)),
        }
    }

    fn word(&mut self, w: &str, v: Json) -> Result<Json, String> {
        if self.b[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(format!("bad literal at {}", self.i))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if self.b.get(self.i) != Some(&b'"') {
            return Err(format!("expected string at {}", self.i));
        }
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return Err("unterminated string".into());
            };
            self.i += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let e = *self.b.get(self.i).ok_or("bad escape")?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'u' => {
                            let hex = self.b.get(self.i..self.i + 4).ok_or("short \\u")?;
                            let n = u32::from_str_radix(std::str::from_utf8(hex).unwrap(), 16)
                                .map_err(|_| "bad \\u")?;
                            self.i += 4;
                            out.push(char::from_u32(n).unwrap_or('\u{fffd}'));
                        }
                        _ => return Err(format!("bad escape at {}", self.i)),
                    }
                }
                c if c < 0x20 => return Err(format!("raw control character at {}", self.i)),
                _ => {
                    // Copy one UTF-8 sequence.
                    let start = self.i - 1;
                    let len = match c {
                        0x00..=0x7f => 1,
                        0xc0..=0xdf => 2,
                        0xe0..=0xef => 3,
                        _ => 4,
                    };
                    let bytes = self.b.get(start..start + len).ok_or("short UTF-8")?;
                    out.push_str(std::str::from_utf8(bytes).map_err(|_| "bad UTF-8")?);
                    self.i = start + len;
                }
            }
        }
    }
}

/// The platform as JSON (parsed).
pub fn json_of(p: &Platform<'_>) -> Json {
    let mut s = String::new();
    json::write_json(p, &mut s).unwrap();
    parse_json(&s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

/// Hex string the way `write_json` writes addresses.
pub fn hex(n: u64) -> String {
    let mut s = String::new();
    write!(s, "{n:#x}").unwrap();
    s
}

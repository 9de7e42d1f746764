//! The physical frame allocator: one bit per 4 KiB frame of every RAM range.
//!
//! A bitmap needs no heap (the kernel builds this before it has one), can hand out physically
//! contiguous and aligned runs (DMA buffers, page tables), can be used from any context, and
//! catches double frees. Its storage is a slice the kernel carves out of RAM itself. Single-frame
//! allocation scans 64 frames per word from a moving hint, so it is cheap in the common case.

use crate::ranges::Range;

/// Size of a frame.
pub const FRAME_SIZE: u64 = 4096;
/// Most RAM ranges the allocator manages.
pub const MAX_ZONES: usize = 16;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The address is not in any managed range.
    NotManaged(u64),
    /// The address is not frame aligned.
    Misaligned(u64),
    /// The frame is already free.
    DoubleFree(u64),
    /// More RAM ranges than [`MAX_ZONES`].
    TooManyZones,
    /// The bitmap storage is smaller than [`FrameAllocator::bitmap_words`] asked for.
    StorageTooSmall {
        /// Words needed.
        need: usize,
        /// Words given.
        have: usize,
    },
}

struct Zone<'a> {
    base: u64,
    frames: u64,
    used: &'a mut [u64],
    hint: usize,
    free: u64,
}

impl Zone<'_> {
    fn index_of(&self, pa: u64) -> Option<u64> {
        let index = pa.checked_sub(self.base)? / FRAME_SIZE;
        (index < self.frames).then_some(index)
    }

    fn is_used(&self, index: u64) -> bool {
        self.used[(index / 64) as usize] & (1 << (index % 64)) != 0
    }

    fn set(&mut self, index: u64, used: bool) {
        let word = &mut self.used[(index / 64) as usize];
        let bit = 1u64 << (index % 64);
        if used {
            *word |= bit;
        } else {
            *word &= !bit;
        }
    }

    fn alloc_one(&mut self) -> Option<u64> {
        if self.free == 0 {
            return None;
        }
        let words = self.used.len();
        for step in 0..words {
            let w = (self.hint + step) % words;
            let word = self.used[w];
            if word != u64::MAX {
                let index = w as u64 * 64 + u64::from(word.trailing_ones());
                if index >= self.frames {
                    continue;
                }
                self.set(index, true);
                self.free -= 1;
                self.hint = w;
                return Some(self.base + index * FRAME_SIZE);
            }
        }
        None
    }

    fn alloc_run(&mut self, count: u64, align: u64) -> Option<u64> {
        if self.free < count {
            return None;
        }
        let align_frames = (align / FRAME_SIZE).max(1);
        // Candidate starts are the indices whose physical address is a multiple of `align`.
        let base_frame = self.base / FRAME_SIZE;
        let first = (align_frames - base_frame % align_frames) % align_frames;
        let candidate_at_or_after = |index: u64| {
            if index <= first {
                first
            } else {
                first + (index - first).div_ceil(align_frames) * align_frames
            }
        };
        let mut start = first;
        while start.checked_add(count)? <= self.frames {
            match (start..start + count).find(|&i| self.is_used(i)) {
                None => {
                    for i in start..start + count {
                        self.set(i, true);
                    }
                    self.free -= count;
                    return Some(self.base + start * FRAME_SIZE);
                }
                Some(used) => start = candidate_at_or_after(used + 1),
            }
        }
        None
    }
}

/// Allocator over up to [`MAX_ZONES`] RAM ranges.
pub struct FrameAllocator<'a> {
    zones: heapless::Vec<Zone<'a>, MAX_ZONES>,
    free: u64,
    total: u64,
}

fn frames_in(range: &Range) -> Option<(u64, u64)> {
    let aligned = range.align_inward(FRAME_SIZE)?;
    Some((aligned.start, aligned.len() / FRAME_SIZE))
}

impl<'a> FrameAllocator<'a> {
    /// Words of bitmap storage needed to manage `memory`.
    pub fn bitmap_words(memory: &[Range]) -> usize {
        memory
            .iter()
            .filter_map(frames_in)
            .map(|(_, frames)| frames.div_ceil(64) as usize)
            .sum()
    }

    /// An allocator for `memory` in which every frame starts out used; hand it the free parts
    /// with [`release`](Self::release).
    pub fn new(memory: &[Range], storage: &'a mut [u64]) -> Result<Self, FrameError> {
        let need = Self::bitmap_words(memory);
        if storage.len() < need {
            return Err(FrameError::StorageTooSmall {
                need,
                have: storage.len(),
            });
        }
        let mut zones = heapless::Vec::new();
        let mut rest = storage;
        for (base, frames) in memory.iter().filter_map(frames_in) {
            let words = frames.div_ceil(64) as usize;
            let (used, tail) = core::mem::take(&mut rest).split_at_mut(words);
            rest = tail;
            used.fill(u64::MAX);
            let zone = Zone {
                base,
                frames,
                used,
                hint: 0,
                free: 0,
            };
            zones.push(zone).map_err(|_| FrameError::TooManyZones)?;
        }
        Ok(Self {
            zones,
            free: 0,
            total: 0,
        })
    }

    /// Marks the whole frames inside `range` free and counts them as managed. Returns how many
    /// frames changed state.
    pub fn release(&mut self, range: Range) -> u64 {
        let Some(aligned) = range.align_inward(FRAME_SIZE) else {
            return 0;
        };
        let mut released = 0;
        for zone in self.zones.iter_mut() {
            let zone_range = Range {
                start: zone.base,
                end: zone.base + zone.frames * FRAME_SIZE,
            };
            let start = aligned.start.max(zone_range.start);
            let end = aligned.end.min(zone_range.end);
            let mut pa = start;
            while pa < end {
                let index = (pa - zone.base) / FRAME_SIZE;
                if zone.is_used(index) {
                    zone.set(index, false);
                    zone.free += 1;
                    released += 1;
                }
                pa += FRAME_SIZE;
            }
        }
        self.free += released;
        self.total += released;
        released
    }

    /// One frame, or `None` when memory is exhausted.
    pub fn alloc(&mut self) -> Option<u64> {
        let pa = self.zones.iter_mut().find_map(Zone::alloc_one)?;
        self.free -= 1;
        Some(pa)
    }

    /// `count` physically contiguous frames starting at a multiple of `align` bytes (a power of
    /// two; values below a frame mean frame alignment).
    pub fn alloc_contiguous(&mut self, count: u64, align: u64) -> Option<u64> {
        if count == 0 || !align.is_power_of_two() {
            return None;
        }
        let pa = self
            .zones
            .iter_mut()
            .find_map(|z| z.alloc_run(count, align))?;
        self.free -= count;
        Some(pa)
    }

    /// Returns a frame.
    pub fn free(&mut self, pa: u64) -> Result<(), FrameError> {
        if !pa.is_multiple_of(FRAME_SIZE) {
            return Err(FrameError::Misaligned(pa));
        }
        let zone = self
            .zones
            .iter_mut()
            .find(|z| z.index_of(pa).is_some())
            .ok_or(FrameError::NotManaged(pa))?;
        let index = zone.index_of(pa).ok_or(FrameError::NotManaged(pa))?;
        if !zone.is_used(index) {
            return Err(FrameError::DoubleFree(pa));
        }
        zone.set(index, false);
        zone.free += 1;
        zone.hint = (index / 64) as usize;
        self.free += 1;
        Ok(())
    }

    /// Returns `count` frames starting at `pa`; stops at the first one that cannot be freed.
    pub fn free_contiguous(&mut self, pa: u64, count: u64) -> Result<(), FrameError> {
        for i in 0..count {
            self.free(pa + i * FRAME_SIZE)?;
        }
        Ok(())
    }

    /// Whether the frame at `pa` is managed and free.
    pub fn is_free(&self, pa: u64) -> bool {
        self.zones
            .iter()
            .find_map(|z| z.index_of(pa).map(|i| !z.is_used(i)))
            .unwrap_or(false)
    }

    /// Frames currently free.
    pub fn free_frames(&self) -> u64 {
        self.free
    }

    /// Frames released to the allocator at start-up (free or allocated now).
    pub fn managed_frames(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn r(start: u64, end: u64) -> Range {
        Range { start, end }
    }

    #[test]
    fn allocates_every_free_frame_once() {
        let mem = [r(0x4000_0000, 0x4010_0000)];
        let mut storage = vec![0u64; FrameAllocator::bitmap_words(&mem)];
        let mut fa = FrameAllocator::new(&mem, &mut storage).unwrap();
        assert_eq!(fa.release(r(0x4000_0000, 0x4010_0000)), 256);
        let mut seen = BTreeSet::new();
        while let Some(pa) = fa.alloc() {
            assert!(seen.insert(pa));
        }
        assert_eq!(seen.len(), 256);
        assert_eq!(fa.free_frames(), 0);
        for pa in &seen {
            fa.free(*pa).unwrap();
        }
        assert_eq!(fa.free_frames(), 256);
    }

    #[test]
    fn reserved_frames_are_never_handed_out() {
        let mem = [r(0x1000_0000, 0x1004_0000), r(0x8000_0000, 0x8002_0000)];
        let mut storage = vec![0u64; FrameAllocator::bitmap_words(&mem)];
        let mut fa = FrameAllocator::new(&mem, &mut storage).unwrap();
        fa.release(r(0x1000_0000, 0x1001_0000));
        fa.release(r(0x1002_0000, 0x1004_0000));
        fa.release(r(0x8000_0800, 0x8002_0000)); // partial first frame is not released
        assert_eq!(fa.managed_frames(), 16 + 32 + 31);
        while let Some(pa) = fa.alloc() {
            assert!(!(0x1001_0000..0x1002_0000).contains(&pa));
            assert_ne!(pa, 0x8000_0000);
        }
    }

    #[test]
    fn contiguous_runs_are_aligned_and_exclusive() {
        let mem = [r(0x4000_1000, 0x4100_0000)];
        let mut storage = vec![0u64; FrameAllocator::bitmap_words(&mem)];
        let mut fa = FrameAllocator::new(&mem, &mut storage).unwrap();
        fa.release(mem[0]);
        let one = fa.alloc().unwrap();
        let run = fa.alloc_contiguous(16, 0x10_000).unwrap();
        assert_eq!(run % 0x10_000, 0);
        assert!(run > one);
        let big = fa.alloc_contiguous(512, 0x20_0000).unwrap();
        assert_eq!(big % 0x20_0000, 0);
        assert!(big >= run + 16 * FRAME_SIZE || big + 512 * FRAME_SIZE <= run);
        assert_eq!(fa.alloc_contiguous(0, 4096), None);
        assert_eq!(fa.alloc_contiguous(1, 3), None);
        assert_eq!(fa.alloc_contiguous(1 << 20, 4096), None);
        fa.free_contiguous(big, 512).unwrap();
        assert_eq!(fa.alloc_contiguous(512, 0x20_0000), Some(big));
    }

    #[test]
    fn rejects_bad_frees() {
        let mem = [r(0x4000_0000, 0x4000_4000)];
        let mut storage = vec![0u64; 1];
        let mut fa = FrameAllocator::new(&mem, &mut storage).unwrap();
        fa.release(mem[0]);
        let pa = fa.alloc().unwrap();
        assert_eq!(fa.free(pa + 1), Err(FrameError::Misaligned(pa + 1)));
        assert_eq!(fa.free(0x1000), Err(FrameError::NotManaged(0x1000)));
        fa.free(pa).unwrap();
        assert_eq!(fa.free(pa), Err(FrameError::DoubleFree(pa)));
        let mut small = [0u64; 0];
        assert!(matches!(
            FrameAllocator::new(&mem, &mut small),
            Err(FrameError::StorageTooSmall { need: 1, have: 0 })
        ));
    }

    #[test]
    fn matches_a_model_under_random_use() {
        let mem = [r(0x4000_0000, 0x4004_0000), r(0x5000_0000, 0x5000_8000)];
        let mut storage = vec![0u64; FrameAllocator::bitmap_words(&mem)];
        let mut fa = FrameAllocator::new(&mem, &mut storage).unwrap();
        for m in &mem {
            fa.release(*m);
        }
        let total = fa.free_frames();
        let mut held: Vec<(u64, u64)> = Vec::new();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            match state % 4 {
                0 | 1 => {
                    if let Some(pa) = fa.alloc() {
                        held.push((pa, 1));
                    }
                }
                2 => {
                    let count = 1 + (state >> 8) % 9;
                    if let Some(pa) = fa.alloc_contiguous(count, 4096 << ((state >> 16) % 4)) {
                        held.push((pa, count));
                    }
                }
                _ => {
                    if !held.is_empty() {
                        let (pa, count) = held.swap_remove((state >> 20) as usize % held.len());
                        fa.free_contiguous(pa, count).unwrap();
                    }
                }
            }
            let held_frames: u64 = held.iter().map(|(_, c)| c).sum();
            assert_eq!(fa.free_frames() + held_frames, total);
        }
        let mut all = BTreeSet::new();
        for (pa, count) in &held {
            for i in 0..*count {
                assert!(all.insert(pa + i * FRAME_SIZE), "frame handed out twice");
            }
        }
    }
}

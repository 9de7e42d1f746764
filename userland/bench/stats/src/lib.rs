//! The arithmetic of the benchmark figures, in one place for both sides: the benchmark root task
//! computes and prints each summary, and `cargo xtask bench` recomputes it from the raw samples
//! and checks that the two agree to the bit. Sharing the code is what makes "to the bit" hold.

#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Instructions per operation of a sample: `ticks` counter ticks for `ops` operations at `hz`.
/// A tick is `1e9 / hz` virtual nanoseconds, which under QEMU `-icount shift=0` are instructions.
pub fn per_op(ticks: u64, ops: u64, hz: u64) -> f64 {
    ticks as f64 * (1e9 / hz as f64) / ops as f64
}

/// min / median / mean / max / n of a series of values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Smallest value.
    pub min: f64,
    /// Middle value (mean of the middle two for an even count).
    pub median: f64,
    /// Mean, summed in the values' order.
    pub mean: f64,
    /// Largest value.
    pub max: f64,
    /// How many values.
    pub n: usize,
}

impl Summary {
    /// The summary of `values`; None for no values.
    pub fn of(values: &[f64]) -> Option<Self> {
        let n = values.len();
        let mean = values.iter().fold(0.0, |sum, v| sum + v) / n as f64;
        let mut sorted: Vec<f64> = values.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let upper = *sorted.get(n / 2)?;
        let median = if n % 2 == 1 {
            upper
        } else {
            (upper + *sorted.get(n / 2 - 1)?) / 2.0
        };
        Some(Self {
            min: *sorted.first()?,
            median,
            mean,
            max: *sorted.last()?,
            n,
        })
    }

    /// The summary as the root task prints it: `min=<x> median=<x> mean=<x> max=<x> n=<n>`, one
    /// decimal.
    pub fn line(&self) -> String {
        format!(
            "min={:.1} median={:.1} mean={:.1} max={:.1} n={}",
            self.min, self.median, self.mean, self.max, self.n
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 62.5 MHz counter: a tick is 16 ns.
    const HZ: u64 = 62_500_000;

    #[test]
    fn odd_and_even_counts() {
        let s = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(
            (s.min, s.median, s.mean, s.max, s.n),
            (1.0, 2.0, 2.0, 3.0, 3)
        );
        let s = Summary::of(&[4.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!((s.median, s.mean), (3.0, 4.25));
        let s = Summary::of(&[7.5]).unwrap();
        assert_eq!((s.min, s.median, s.max, s.n), (7.5, 7.5, 7.5, 1));
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn prints_one_decimal() {
        assert_eq!(
            Summary::of(&[571.25, 571.5, 572.0]).unwrap().line(),
            "min=571.2 median=571.5 mean=571.6 max=572.0 n=3"
        );
    }

    #[test]
    fn ticks_become_instructions_per_operation() {
        assert_eq!(per_op(1, 1, HZ), 16.0);
        assert_eq!(per_op(2286, 64, HZ), 571.5);
        assert_eq!(per_op(6250, 1000, HZ), 100.0);
        assert_eq!(per_op(100, 4, 1_000_000_000), 25.0);
    }
}

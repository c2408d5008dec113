//! Streaming histograms and the percentiles read from them. Pure: no GDAL, no I/O.
//!
//! Memory is fixed by the value range, never by the number of pixels: 65 536 counters (512 KiB) for 16-bit and 8-bit
//! bands, at most [`MAX_BINS`] counters (8 MiB) for wider integer and floating-point bands.
//!
//! Percentile definition (nearest rank): the `p` percentile of `n` values is the smallest value `v` such that at least
//! `ceil(p * n)` values (and at least one) are `<= v`. It is exact whenever one bin holds one value: always for
//! 8/16-bit bands, and for wider integer bands whose valid range spans at most [`MAX_BINS`] values. Otherwise (floats,
//! very wide integers) the bins are [`MAX_BINS`] equal slices of `[min, max]` found by a first pass, the answer is the
//! centre of the bin holding that rank, clamped to `[min, max]`, and the error is at most `(max - min) / 2^21`.

/// Bins of the fine histogram for bands wider than 16 bits.
pub const MAX_BINS: usize = 1 << 20;

/// Counts of values in equal bins `[lo + i * width, lo + (i + 1) * width)`.
#[derive(Debug, Clone)]
pub struct Histogram {
    lo: f64,
    width: f64,
    counts: Vec<u64>,
    /// One value per bin: the answer is the bin's value itself.
    exact: bool,
    /// Smallest and largest value added (for clamping an inexact answer).
    min: f64,
    max: f64,
    total: u64,
}

impl Histogram {
    /// One bin per value of a 16-bit (or 8-bit) type: `offset` is subtracted first (32 768 for Int16, 0 otherwise).
    pub fn for_u16_codes(offset: f64) -> Self {
        Histogram {
            lo: -offset,
            width: 1.0,
            counts: vec![0; 1 << 16],
            exact: true,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            total: 0,
        }
    }

    /// Bins over `[min, max]` (as found by a first pass): one per value for an integer range of at most [`MAX_BINS`]
    /// values, else [`MAX_BINS`] equal slices.
    pub fn for_range(min: f64, max: f64, integer: bool) -> Self {
        let span = max - min;
        let (bins, width, exact) = if integer && span < MAX_BINS as f64 {
            (span as usize + 1, 1.0, true)
        } else if span > 0.0 {
            (MAX_BINS, span / MAX_BINS as f64, false)
        } else {
            (1, 1.0, true)
        };
        Histogram {
            lo: min,
            width,
            counts: vec![0; bins],
            exact,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            total: 0,
        }
    }

    /// Counts a 16-bit code (value + offset), the fast path of [`Histogram::for_u16_codes`].
    #[inline]
    pub fn add_code(&mut self, code: u16) {
        self.counts[code as usize] += 1;
    }

    /// Counts a value inside the range given to [`Histogram::for_range`] (values outside land in the end bins).
    #[inline]
    pub fn add(&mut self, value: f64) {
        let i = ((value - self.lo) / self.width) as usize;
        let last = self.counts.len() - 1;
        self.counts[i.min(last)] += 1;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    /// Number of values counted.
    pub fn total(&self) -> u64 {
        if self.total != 0 {
            return self.total;
        }
        self.counts.iter().sum()
    }

    /// Caches the total (call once counting is over).
    pub fn finish(&mut self) {
        self.total = self.counts.iter().sum();
        if self.exact && self.total > 0 {
            // min/max are not tracked on the fast path: read them from the bins.
            let first = self.counts.iter().position(|&c| c > 0).unwrap_or(0);
            let last = self.counts.iter().rposition(|&c| c > 0).unwrap_or(0);
            self.min = self.min.min(self.lo + first as f64 * self.width);
            self.max = self.max.max(self.lo + last as f64 * self.width);
        }
    }

    /// The `p` percentile (`0 < p <= 1`) by nearest rank; `None` when no value was counted.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        let n = self.total();
        if n == 0 {
            return None;
        }
        let rank = ((p * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let v = if self.exact {
                    self.lo + i as f64 * self.width
                } else {
                    (self.lo + (i as f64 + 0.5) * self.width).clamp(self.min, self.max)
                };
                return Some(v);
            }
        }
        None
    }
}

/// The streaming min/max of a first pass over a band wider than 16 bits.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub min: f64,
    pub max: f64,
    pub count: u64,
}

impl Default for Range {
    fn default() -> Self {
        Range {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            count: 0,
        }
    }
}

impl Range {
    #[inline]
    pub fn add(&mut self, v: f64) {
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_hist(values: &[u16]) -> Histogram {
        let mut h = Histogram::for_u16_codes(0.0);
        for &v in values {
            h.add_code(v);
        }
        h.finish();
        h
    }

    #[test]
    fn nearest_rank_on_1_to_100() {
        let values: Vec<u16> = (1..=100).rev().collect();
        let h = u16_hist(&values);
        assert_eq!(h.total(), 100);
        assert_eq!(h.percentile(0.02), Some(2.0));
        assert_eq!(h.percentile(0.98), Some(98.0));
        assert_eq!(h.percentile(1.0), Some(100.0));
        assert_eq!(h.percentile(0.001), Some(1.0));
    }

    #[test]
    fn exact_against_sorting_on_skewed_data() {
        // A deterministic, skewed sample with many ties.
        let mut x: u64 = 12345;
        let mut values = Vec::new();
        for _ in 0..10_007 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (x >> 33) % 1000;
            values.push((r * r / 37) as u16);
        }
        let h = u16_hist(&values);
        let mut sorted = values.clone();
        sorted.sort_unstable();
        for p in [0.02, 0.5, 0.98] {
            let rank = (p * sorted.len() as f64).ceil() as usize;
            assert_eq!(h.percentile(p), Some(sorted[rank - 1] as f64), "p = {p}");
        }
    }

    #[test]
    fn int16_offset_codes() {
        let mut h = Histogram::for_u16_codes(32768.0);
        for v in [-5i16, -3, 7, 9] {
            h.add_code((v as i32 + 32768) as u16);
        }
        h.finish();
        assert_eq!(h.percentile(0.02), Some(-5.0));
        assert_eq!(h.percentile(0.98), Some(9.0));
    }

    #[test]
    fn empty_has_no_percentile() {
        let h = u16_hist(&[]);
        assert_eq!(h.total(), 0);
        assert_eq!(h.percentile(0.02), None);
    }

    #[test]
    fn narrow_integer_range_is_exact() {
        let values: Vec<f64> = (0..1000).map(|i| 100_000.0 + i as f64).collect();
        let mut h = Histogram::for_range(100_000.0, 100_999.0, true);
        values.iter().for_each(|&v| h.add(v));
        h.finish();
        assert_eq!(h.percentile(0.02), Some(100_019.0));
        assert_eq!(h.percentile(0.98), Some(100_979.0));
    }

    #[test]
    fn float_range_is_within_documented_error() {
        let values: Vec<f64> = (0..5000).map(|i| (i as f64 * 0.731).sin() * 3.0).collect();
        let (min, max) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let mut h = Histogram::for_range(min, max, false);
        values.iter().for_each(|&v| h.add(v));
        h.finish();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let bound = (max - min) / (1u64 << 21) as f64 + 1e-12;
        for p in [0.02, 0.98] {
            let want = sorted[(p * 5000.0f64).ceil() as usize - 1];
            let got = h.percentile(p).unwrap();
            assert!((got - want).abs() <= bound, "p {p}: {got} vs {want}");
        }
    }

    #[test]
    fn constant_float_band() {
        let mut h = Histogram::for_range(2.5, 2.5, false);
        h.add(2.5);
        h.add(2.5);
        h.finish();
        assert_eq!(h.percentile(0.02), Some(2.5));
        assert_eq!(h.percentile(0.98), Some(2.5));
    }
}

//! Counter-based randomness: every value is a pure function of (seed, stream, coordinates), so pixels come out the same
//! whatever order or block size they are computed in, and the same on every machine and release (no `rand` version
//! can change the stream).

/// SplitMix64's finaliser: a fast, well-mixed 64-bit permutation.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of several words, order-sensitive.
pub(crate) fn hash(words: &[u64]) -> u64 {
    words
        .iter()
        .fold(0x2545_F491_4F6C_DD1D, |acc, &w| mix(acc ^ w))
}

/// A uniform value in [0, 1) from a hash.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// An approximately normal value (mean 0, standard deviation 1) from a hash: the sum of four uniforms, rescaled.
pub(crate) fn normal(h: u64) -> f64 {
    let sum: f64 = (0..4u64)
        .map(|k| unit(mix(h ^ k.wrapping_mul(0xA24B_AED4_963E_E407))))
        .sum();
    (sum - 2.0) * (3.0f64).sqrt()
}

/// A deterministic sequence of uniforms for drawing a scene's layout from a seed.
#[derive(Debug)]
pub(crate) struct Draws {
    seed: u64,
    counter: u64,
}

impl Draws {
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        Self {
            seed: hash(&[seed, stream]),
            counter: 0,
        }
    }

    /// The next uniform in [lo, hi).
    pub(crate) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        self.counter += 1;
        lo + (hi - lo) * unit(hash(&[self.seed, self.counter]))
    }
}

/// Smooth value noise in [0, 1]: random values on the integer lattice, interpolated bilinearly with a smoothstep.
pub(crate) fn value_noise(seed: u64, x: f64, y: f64) -> f64 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let corner = |dx: f64, dy: f64| {
        unit(hash(&[
            seed,
            (x0 + dx) as i64 as u64,
            (y0 + dy) as i64 as u64,
        ]))
    };
    let top = corner(0.0, 0.0) + (corner(1.0, 0.0) - corner(0.0, 0.0)) * sx;
    let bottom = corner(0.0, 1.0) + (corner(1.0, 1.0) - corner(0.0, 1.0)) * sx;
    top + (bottom - top) * sy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniforms_cover_the_unit_interval_evenly() {
        let values: Vec<f64> = (0..10_000u64).map(|i| unit(hash(&[7, i]))).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
        let below_tenth = values.iter().filter(|v| **v < 0.1).count();
        assert!(
            (800..1200).contains(&below_tenth),
            "{below_tenth} values below 0.1"
        );
    }

    #[test]
    fn normals_have_unit_spread() {
        let values: Vec<f64> = (0..10_000u64).map(|i| normal(hash(&[3, i]))).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
        assert!(
            mean.abs() < 0.05 && (var - 1.0).abs() < 0.1,
            "mean {mean}, variance {var}"
        );
    }

    #[test]
    fn hashes_depend_on_every_word_and_their_order() {
        assert_ne!(hash(&[1, 2]), hash(&[2, 1]));
        assert_ne!(hash(&[1, 2]), hash(&[1, 3]));
        assert_eq!(hash(&[1, 2]), hash(&[1, 2]));
    }
}

//! From the landscape to digital numbers: the P band integrates the MS bands' spectrum, the MS pixel averages its
//! 4 x 4 P-pixel footprint, both get sensor noise, and a strip on the western edge is NoData (0) in both.

use crate::camera::MS_RATIO;
use crate::hash::{hash, normal};
use crate::scene::{pan_of, Scene};

/// Valid pixels are clamped to [1, MAX_DN] so that 0 only ever means NoData.
const MAX_DN: f64 = 4095.0;

/// The pixel recipe for one pair.
#[derive(Debug, Clone)]
pub(crate) struct Pixels {
    pub scene: Scene,
    pub seed: u64,
    pub pan_size: usize,
}

impl Pixels {
    /// Width of the NoData strip in MS pixels (2 % of the width, at least one); P's is 4x that, the same ground.
    pub(crate) fn nodata_ms_columns(&self) -> usize {
        (self.pan_size / MS_RATIO / 50).max(1)
    }

    /// Photon and read noise: a floor plus a share of the signal.
    fn noisy(&self, signal: f64, stream: u64, col: usize, row: usize) -> u16 {
        let sigma = 6.0 + 0.01 * signal;
        let value = signal + sigma * normal(hash(&[self.seed, stream, col as u64, row as u64]));
        value.round().clamp(1.0, MAX_DN) as u16
    }

    /// Fills one strip of the P image (`bands[0]`, `rows` rows from `first_row`).
    pub(crate) fn fill_pan(&self, first_row: usize, rows: usize, bands: &mut [Vec<u16>]) {
        let n = self.pan_size;
        let nodata = self.nodata_ms_columns() * MS_RATIO;
        let inv = 1.0 / n as f64;
        for r in 0..rows {
            let row = first_row + r;
            let v = (row as f64 + 0.5) * inv;
            let out = &mut bands[0][r * n..(r + 1) * n];
            for (col, px) in out.iter_mut().enumerate().skip(nodata) {
                let signal = pan_of(&self.scene.radiance((col as f64 + 0.5) * inv, v));
                *px = self.noisy(signal, 0x9A7, col, row);
            }
        }
    }

    /// Fills one strip of the MS image (`bands[0..4]`): each pixel is the mean of 2 x 2 samples of its footprint.
    pub(crate) fn fill_ms(&self, first_row: usize, rows: usize, bands: &mut [Vec<u16>]) {
        let m = self.pan_size / MS_RATIO;
        let inv = 1.0 / self.pan_size as f64;
        let ratio = MS_RATIO as f64;
        for r in 0..rows {
            let row = first_row + r;
            for col in self.nodata_ms_columns()..m {
                let mut sum = [0.0; 4];
                for (a, b) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                    let u = (col as f64 + a) * ratio * inv;
                    let v = (row as f64 + b) * ratio * inv;
                    for (s, x) in sum.iter_mut().zip(self.scene.radiance(u, v)) {
                        *s += x / 4.0;
                    }
                }
                for (b, signal) in sum.into_iter().enumerate() {
                    bands[b][r * m + col] = self.noisy(signal, 0x3500 + b as u64, col, row);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixels(pan_size: usize) -> Pixels {
        Pixels {
            scene: Scene::new(42, false),
            seed: 42,
            pan_size,
        }
    }

    #[test]
    fn the_nodata_strip_is_the_same_ground_in_both_images_and_only_there() {
        let p = pixels(400);
        let mut pan = vec![vec![0u16; 400 * 8]];
        p.fill_pan(100, 8, &mut pan);
        let mut ms = vec![vec![0u16; 100 * 2]; 4];
        p.fill_ms(25, 2, &mut ms);
        assert_eq!(p.nodata_ms_columns(), 2);
        for r in 0..8 {
            let row = &pan[0][r * 400..(r + 1) * 400];
            assert!(
                row[..8].iter().all(|&x| x == 0) && row[8..].iter().all(|&x| x > 0),
                "P row {r}"
            );
        }
        for band in &ms {
            for r in 0..2 {
                let row = &band[r * 100..(r + 1) * 100];
                assert!(
                    row[..2].iter().all(|&x| x == 0) && row[2..].iter().all(|&x| x > 0),
                    "MS row {r}"
                );
            }
        }
    }

    #[test]
    fn strips_do_not_change_pixels() {
        let p = pixels(64);
        let mut whole = vec![vec![0u16; 64 * 64]];
        p.fill_pan(0, 64, &mut whole);
        let mut parts = Vec::new();
        for first in (0..64).step_by(7) {
            let rows = 7.min(64 - first);
            let mut strip = vec![vec![0u16; 64 * rows]];
            p.fill_pan(first, rows, &mut strip);
            parts.extend_from_slice(&strip[0]);
        }
        assert_eq!(whole[0], parts);
    }

    #[test]
    fn nir_differs_from_red_and_pan_follows_the_ms_bands() {
        let p = pixels(400);
        let mut ms = vec![vec![0u16; 100 * 100]; 4];
        p.fill_ms(0, 100, &mut ms);
        let mean =
            |band: &[u16]| band.iter().map(|&x| f64::from(x)).sum::<f64>() / band.len() as f64;
        let (red, nir) = (mean(&ms[2]), mean(&ms[3]));
        assert!(nir > 1.3 * red, "NIR mean {nir}, red mean {red}");
        let mut pan = vec![vec![0u16; 400 * 400]];
        p.fill_pan(0, 400, &mut pan);
        let expected: f64 = (0..4)
            .map(|b| mean(&ms[b]) * crate::scene::PAN_WEIGHTS[b])
            .sum();
        let got = mean(&pan[0]);
        assert!(
            (got - expected).abs() < 0.03 * expected,
            "P mean {got}, MS-weighted mean {expected}"
        );
    }
}

//! The synthetic landscape: crop parcels on a rotated grid, straight roads, a meandering river with riparian trees,
//! an urban district of blocks and buildings with shadows, and optional cumulus clouds. It is a pure function of
//! scene coordinates (u east, v south, both in [0, 1] over the footprint) and the seed, so the P and MS images see the
//! same landscape whatever their resolution, and every pixel can be computed independently.

use crate::hash::{hash, value_noise, Draws};

/// Top-of-atmosphere-like digital numbers (12-bit range) for the MS bands B0 blue, B1 green, B2 red, B3 near infrared.
pub type Radiance = [f64; 4];

/// Which surface a point shows. The discriminant is only a stable tag for hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cover {
    Water = 1,
    Trees = 2,
    Wheat = 3,
    Maize = 4,
    Grass = 5,
    BareSoil = 6,
    Ploughed = 7,
    Road = 8,
    TileRoof = 9,
    ConcreteRoof = 10,
    Street = 11,
    Shadow = 12,
}

impl Cover {
    /// Typical reflectance of the cover: vegetation is dark in red and bright in NIR, water dark everywhere (mostly in
    /// NIR), built surfaces flat and bright.
    fn radiance(self) -> Radiance {
        match self {
            Cover::Water => [320.0, 380.0, 260.0, 120.0],
            Cover::Trees => [210.0, 380.0, 230.0, 2300.0],
            Cover::Wheat => [260.0, 520.0, 330.0, 2600.0],
            Cover::Maize => [230.0, 480.0, 280.0, 3100.0],
            Cover::Grass => [300.0, 560.0, 380.0, 2200.0],
            Cover::BareSoil => [620.0, 820.0, 1050.0, 1350.0],
            Cover::Ploughed => [480.0, 640.0, 800.0, 1050.0],
            Cover::Road => [720.0, 760.0, 800.0, 850.0],
            Cover::TileRoof => [520.0, 640.0, 1250.0, 1400.0],
            Cover::ConcreteRoof => [1150.0, 1200.0, 1250.0, 1300.0],
            Cover::Street => [680.0, 720.0, 760.0, 800.0],
            Cover::Shadow => [180.0, 170.0, 150.0, 200.0],
        }
    }
}

const CLOUD: Radiance = [3400.0, 3450.0, 3500.0, 3550.0];
/// The P band's spectral response as weights of the MS bands (Pleiades P spans 480-830 nm).
pub const PAN_WEIGHTS: Radiance = [0.15, 0.3, 0.3, 0.25];
const CROPS: [Cover; 5] = [
    Cover::Wheat,
    Cover::Maize,
    Cover::Grass,
    Cover::BareSoil,
    Cover::Ploughed,
];

/// A straight road: points whose distance to the line `nx * u + ny * v = c` is below `half_width`.
#[derive(Debug, Clone, Copy)]
struct Road {
    nx: f64,
    ny: f64,
    c: f64,
    half_width: f64,
}

/// The landscape drawn from a seed.
#[derive(Debug, Clone)]
pub struct Scene {
    seed: u64,
    clouds: bool,
    /// Parcel grid: rotation (cos, sin), cell size.
    grid_cos: f64,
    grid_sin: f64,
    parcel: f64,
    roads: Vec<Road>,
    /// River centre line u = river_u + a1 sin(2 pi f1 v + p1) + a2 sin(2 pi f2 v + p2).
    river: [f64; 7],
    river_half_width: f64,
    /// Urban district rectangle [u0, u1] x [v0, v1] and its block size.
    urban: [f64; 4],
    block: f64,
}

impl Scene {
    pub fn new(seed: u64, clouds: bool) -> Self {
        let mut d = Draws::new(seed, 0x5CE7E);
        let angle = d.range(0.15, 0.45);
        let roads = (0..3)
            .map(|_| {
                let theta = d.range(0.0, std::f64::consts::PI);
                let (nx, ny) = (theta.cos(), theta.sin());
                // Through a point well inside the footprint, so every road crosses it.
                let (pu, pv) = (d.range(0.25, 0.75), d.range(0.25, 0.75));
                Road {
                    nx,
                    ny,
                    c: nx * pu + ny * pv,
                    half_width: 0.004,
                }
            })
            .collect();
        let river = [
            d.range(0.12, 0.3),
            d.range(0.03, 0.06),
            d.range(0.8, 1.6),
            d.range(0.0, 6.3),
            d.range(0.01, 0.02),
            d.range(3.0, 5.0),
            d.range(0.0, 6.3),
        ];
        let (uw, vh) = (d.range(0.22, 0.3), d.range(0.22, 0.3));
        let (u0, v0) = (d.range(0.5, 0.92 - uw), d.range(0.08, 0.92 - vh));
        Scene {
            seed,
            clouds,
            grid_cos: angle.cos(),
            grid_sin: angle.sin(),
            parcel: d.range(0.09, 0.14),
            roads,
            river,
            river_half_width: d.range(0.01, 0.015),
            urban: [u0, u0 + uw, v0, v0 + vh],
            block: d.range(0.035, 0.05),
        }
    }

    fn river_distance(&self, u: f64, v: f64) -> f64 {
        let r = &self.river;
        let tau = std::f64::consts::TAU;
        let centre =
            r[0] + r[1] * (tau * r[2] * v + r[3]).sin() + r[4] * (tau * r[5] * v + r[6]).sin();
        (u - centre).abs()
    }

    /// The cover at a point and a per-object brightness factor (parcels and roofs differ from their neighbours).
    pub fn cover(&self, u: f64, v: f64) -> (Cover, f64) {
        let river = self.river_distance(u, v);
        if river < self.river_half_width {
            return (Cover::Water, 1.0);
        }
        if river < self.river_half_width * 2.2 {
            return (Cover::Trees, 1.0);
        }
        if self
            .roads
            .iter()
            .any(|r| (r.nx * u + r.ny * v - r.c).abs() < r.half_width)
        {
            return (Cover::Road, 1.0);
        }
        let [u0, u1, v0, v1] = self.urban;
        if (u0..u1).contains(&u) && (v0..v1).contains(&v) {
            return self.urban_cover(u - u0, v - v0);
        }
        // Parcels: cells of a rotated grid, every other row shifted so boundaries do not line up.
        let x = (u * self.grid_cos + v * self.grid_sin) / self.parcel;
        let y = (-u * self.grid_sin + v * self.grid_cos) / (self.parcel * 0.6);
        let row = y.floor();
        let shift = if (row as i64).rem_euclid(2) == 0 {
            0.0
        } else {
            0.5
        };
        let col = (x + shift).floor();
        let h = hash(&[self.seed, 0xF1E1D, col as i64 as u64, row as i64 as u64]);
        let crop = CROPS[(h % CROPS.len() as u64) as usize];
        let mut factor = 0.85 + 0.3 * crate::hash::unit(h >> 8);
        if crop == Cover::Ploughed {
            // Furrows along the parcel's long side.
            factor *= 1.0 + 0.12 * (y * 60.0 * std::f64::consts::TAU).sin();
        }
        (crop, factor)
    }

    fn urban_cover(&self, du: f64, dv: f64) -> (Cover, f64) {
        let b = self.block;
        let (bx, by) = ((du / b).floor(), (dv / b).floor());
        let (fx, fy) = (du / b - bx, dv / b - by);
        let street = 0.16;
        if fx < street || fy < street {
            return (Cover::Street, 1.0);
        }
        // Two to three buildings per block along x, each with its own roof; the sun is in the south-west, so a
        // building casts its shadow on the strip north-east of it.
        let h = hash(&[self.seed, 0xB10C, bx as i64 as u64, by as i64 as u64]);
        let parts = 2 + (h % 2) as usize;
        let pos = (fx - street) / (1.0 - street) * parts as f64;
        let part = pos.floor();
        let (within_x, within_y) = (pos - part, (fy - street) / (1.0 - street));
        if within_x > 0.88 || within_y < 0.12 {
            return (Cover::Shadow, 1.0);
        }
        let roof = hash(&[h, part as u64]);
        let cover = if roof.is_multiple_of(3) {
            Cover::ConcreteRoof
        } else {
            Cover::TileRoof
        };
        (cover, 0.85 + 0.3 * crate::hash::unit(roof >> 8))
    }

    /// Cloud opacity in [0, 1] at a point: thresholded fractal value noise.
    fn cloud(&self, u: f64, v: f64) -> f64 {
        if !self.clouds {
            return 0.0;
        }
        let n = 0.6 * value_noise(self.seed ^ 0xC10D, u * 4.0, v * 4.0)
            + 0.3 * value_noise(self.seed ^ 0xC10E, u * 11.0, v * 11.0)
            + 0.1 * value_noise(self.seed ^ 0xC10F, u * 31.0, v * 31.0);
        ((n - 0.62) / 0.12).clamp(0.0, 1.0)
    }

    /// The noise-free radiance of the four MS bands at a point.
    pub fn radiance(&self, u: f64, v: f64) -> Radiance {
        let (cover, factor) = self.cover(u, v);
        let mut r = cover.radiance().map(|x| x * factor);
        let cloud = self.cloud(u, v);
        if cloud > 0.0 {
            for (x, c) in r.iter_mut().zip(CLOUD) {
                *x += (c - *x) * cloud;
            }
        }
        r
    }
}

/// The P radiance that matches an MS radiance.
pub fn pan_of(r: &Radiance) -> f64 {
    r.iter().zip(PAN_WEIGHTS).map(|(x, w)| x * w).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers(scene: &Scene) -> Vec<Cover> {
        let mut seen = Vec::new();
        for i in 0..200 {
            for j in 0..200 {
                let (c, _) = scene.cover((i as f64 + 0.5) / 200.0, (j as f64 + 0.5) / 200.0);
                if !seen.contains(&c) {
                    seen.push(c);
                }
            }
        }
        seen
    }

    #[test]
    fn every_seed_shows_water_roads_town_and_fields() {
        for seed in [0, 1, 42, 7_777] {
            let seen = covers(&Scene::new(seed, false));
            for wanted in [
                Cover::Water,
                Cover::Trees,
                Cover::Road,
                Cover::TileRoof,
                Cover::Street,
                Cover::Shadow,
            ] {
                assert!(
                    seen.contains(&wanted),
                    "seed {seed}: no {wanted:?} in {seen:?}"
                );
            }
            assert!(
                CROPS.iter().filter(|c| seen.contains(c)).count() >= 4,
                "seed {seed}: crops {seen:?}"
            );
        }
    }

    #[test]
    fn seeds_draw_different_landscapes() {
        let (a, b) = (Scene::new(1, false), Scene::new(2, false));
        let differing = (0..400)
            .filter(|&k| a.cover(k as f64 / 400.0, 0.37).0 != b.cover(k as f64 / 400.0, 0.37).0);
        assert!(differing.count() > 40);
    }

    #[test]
    fn vegetation_is_bright_in_nir_and_water_dark() {
        let [_, _, red, nir] = Cover::Maize.radiance();
        assert!(nir > 5.0 * red);
        let [_, _, red, nir] = Cover::Water.radiance();
        assert!(nir < red);
    }

    #[test]
    fn clouds_cover_part_of_the_scene_only_when_asked() {
        let (clear, cloudy) = (Scene::new(42, false), Scene::new(42, true));
        let points: Vec<(f64, f64)> = (0..10_000)
            .map(|k| ((k % 100) as f64 / 100.0, (k / 100) as f64 / 100.0))
            .collect();
        assert!(points.iter().all(|&(u, v)| clear.cloud(u, v) == 0.0));
        let covered = points
            .iter()
            .filter(|&&(u, v)| cloudy.cloud(u, v) > 0.5)
            .count();
        assert!(
            (100..5_000).contains(&covered),
            "{covered} of 10000 points under cloud"
        );
    }
}

//! Synthetic Pleiades-like P/MS pairs for testing and benchmarking the OTB pre-processing chain.
//!
//! [`generate`] writes `IMG_P.TIF` (N x N, one UInt16 band, ~0.5 m) and `IMG_MS.TIF` (N/4 x N/4, four UInt16 bands:
//! B0 blue, B1 green, B2 red, B3 NIR) over the same footprint, each with an RPC sensor model OTB reads twice over (GDAL's
//! RPC domain plus `METADATATYPE=OTB`, and an OTB `.geom` sidecar), and optionally a DEM directory.
//!
//! Invariants: pixel data is a pure function of (size, seed, clouds), byte-identical across runs and machines (the
//! centre only moves the sensor model); images are written strip by strip, so memory does not grow with N; 0 is NoData
//! and only NoData. Depends on GDAL only, never on OTB or the engine.

mod camera;
mod dem;
mod error;
mod hash;
mod pixels;
mod raster;
mod scene;

use std::path::{Path, PathBuf};

pub use camera::{Footprint, Rpc, MS_RATIO, PAN_GSD_M};
pub use error::Error;
pub use raster::pixel_checksum;

use pixels::Pixels;
use raster::{write_sensor_image, SensorImage};
use scene::Scene;

/// Smallest and largest accepted P sizes.
pub const MIN_SIZE: usize = 64;
pub const MAX_SIZE: usize = 100_000;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct PairSpec {
    /// P image side in pixels (a multiple of 4); the MS side is a quarter of it.
    pub size: usize,
    pub seed: u64,
    /// Footprint centre, degrees.
    pub lat: f64,
    pub lon: f64,
    /// Also write a DEM directory `dem/`.
    pub dem: bool,
    /// Add cumulus clouds to the scene.
    pub clouds: bool,
}

impl Default for PairSpec {
    fn default() -> Self {
        Self {
            size: 2000,
            seed: 42,
            lat: 43.6,
            lon: 1.44,
            dem: false,
            clouds: false,
        }
    }
}

impl PairSpec {
    /// Checks the size and centre before anything is written.
    pub fn validate(&self) -> Result<(), Error> {
        if !self.size.is_multiple_of(MS_RATIO) || !(MIN_SIZE..=MAX_SIZE).contains(&self.size) {
            return Err(Error::InvalidSize {
                size: self.size,
                min: MIN_SIZE,
                max: MAX_SIZE,
            });
        }
        if !(-80.0..=80.0).contains(&self.lat) || !(-180.0..=180.0).contains(&self.lon) {
            return Err(Error::InvalidCentre {
                lat: self.lat,
                lon: self.lon,
            });
        }
        Ok(())
    }

    pub fn footprint(&self) -> Footprint {
        Footprint {
            lat: self.lat,
            lon: self.lon,
            pan_size: self.size,
        }
    }
}

/// The files of a generated pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub pan: PathBuf,
    pub ms: PathBuf,
    /// OTB sidecars next to the images; `pan_geom` is also what OrthoRectification needs for the bundle
    /// (`-io.in "bundle.tif?&geom=IMG_P.geom"`).
    pub pan_geom: PathBuf,
    pub ms_geom: PathBuf,
    /// The DEM directory, for `-elev.dem`.
    pub dem_dir: Option<PathBuf>,
}

/// Writes a pair (and its DEM when asked) into `out`, creating it if needed. Existing files are replaced.
pub fn generate(out: &Path, spec: &PairSpec) -> Result<Pair, Error> {
    spec.validate()?;
    std::fs::create_dir_all(out).map_err(|source| Error::CreateDir {
        path: out.to_path_buf(),
        source,
    })?;
    let footprint = spec.footprint();
    let pixels = Pixels {
        scene: Scene::new(spec.seed, spec.clouds),
        seed: spec.seed,
        pan_size: spec.size,
    };
    let pair = Pair {
        pan: out.join("IMG_P.TIF"),
        ms: out.join("IMG_MS.TIF"),
        pan_geom: out.join("IMG_P.geom"),
        ms_geom: out.join("IMG_MS.geom"),
        dem_dir: spec.dem.then(|| out.join("dem")),
    };

    let pan_rpc = footprint.rpc(spec.size);
    let pan = SensorImage {
        path: &pair.pan,
        size: spec.size,
        band_names: &["P"],
        rpc: &pan_rpc,
    };
    write_sensor_image(&pan, |first, rows, bands| {
        pixels.fill_pan(first, rows, bands)
    })?;
    write_geom(&pair.pan_geom, &pan_rpc)?;

    let ms_rpc = footprint.rpc(spec.size / MS_RATIO);
    let names = ["B0 blue", "B1 green", "B2 red", "B3 NIR"];
    let ms = SensorImage {
        path: &pair.ms,
        size: spec.size / MS_RATIO,
        band_names: &names,
        rpc: &ms_rpc,
    };
    write_sensor_image(&ms, |first, rows, bands| pixels.fill_ms(first, rows, bands))?;
    write_geom(&pair.ms_geom, &ms_rpc)?;

    if let Some(dir) = &pair.dem_dir {
        dem::write_dem(dir, &footprint, spec.seed)?;
    }
    Ok(pair)
}

fn write_geom(path: &Path, rpc: &Rpc) -> Result<(), Error> {
    std::fs::write(path, rpc.geom_text()).map_err(|source| Error::WriteFile {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_centres_are_checked() {
        let ok = PairSpec::default();
        assert!(ok.validate().is_ok());
        for size in [0, 60, 402, 100_004] {
            let err = PairSpec { size, ..ok.clone() }.validate().unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("Expected the P image size to be a multiple of 4"),
                "{err}"
            );
        }
        let err = PairSpec {
            lat: 91.0,
            ..ok.clone()
        }
        .validate()
        .unwrap_err();
        assert!(matches!(err, Error::InvalidCentre { .. }), "{err}");
        assert!(PairSpec {
            lon: f64::NAN,
            ..ok
        }
        .validate()
        .is_err());
    }
}

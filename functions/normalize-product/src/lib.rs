//! normalize-product: the last step of the OTB pre-processing chain, a CLI and an HTTP function.
//!
//! Per band, the robust min/max (2 % and 98 % percentiles, nearest rank) of the valid pixels of the MS image come from
//! an exact streaming histogram; the ortho image is then rescaled tile by tile to Float32 [0, 1] with NaN NoData
//! (or UInt16 x 10000, NoData 0) into a tiled, compressed GeoTIFF that keeps the ortho image's georeferencing and
//! metadata.
//!
//! Invariant: memory is bounded by fixed-size windows of the ortho image (256 rows x at most 2048 columns, a few in
//! flight), the MS strips, fixed-size histograms and GDAL's block cache, never by the number of pixels. Must not depend on the engine or the worker: it is a plain program.

mod error;
pub mod histogram;
mod output;
mod rescale;
pub mod serve;
pub mod stats;

use std::path::{Path, PathBuf};
use std::time::Instant;

use gdal::Dataset;
use serde::Serialize;

pub use error::Error;
pub use stats::BandStats;

/// The output's sample type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputKind {
    /// Float32 in [0, 1], NoData NaN.
    Float32,
    /// UInt16 in [1, 10000] (value x 10000, valid pixels at least 1), NoData 0.
    #[value(name = "uint16")]
    UInt16,
}

/// One normalization, as the CLI flags (and the HTTP body's argv) give it.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "normalize-product", version)]
pub struct Request {
    /// The multispectral image whose valid pixels give each band's 2 %/98 % range.
    #[arg(long = "in_ms", value_name = "MS.tif")]
    pub in_ms: PathBuf,
    /// The orthorectified image to rescale (same band count), georeferenced.
    #[arg(long = "in_ortho", value_name = "ORTHO.tif")]
    pub in_ortho: PathBuf,
    /// The normalized GeoTIFF to write (tiled 256x256, ZSTD).
    #[arg(long = "out", value_name = "OUT.tif")]
    pub out: PathBuf,
    /// Sample type of the output.
    #[arg(long = "output", value_enum, default_value = "float32")]
    pub output: OutputKind,
    /// Threads compressing the output's tiles; with more than one, a reader thread also reads and rescales while
    /// the tiles are compressed and written. 1: everything on the calling thread.
    #[arg(long = "threads", default_value_t = 2)]
    pub threads: usize,
}

/// What a finished normalization reports (the HTTP function's 200 body).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub outputs: Vec<PathBuf>,
    pub duration_seconds: f64,
    pub bands: Vec<BandStats>,
}

fn open(path: &Path) -> Result<Dataset, Error> {
    // GDAL's own message for a missing or unreadable local file is often empty: say it first.
    if !path.starts_with("/vsi") {
        std::fs::File::open(path).map_err(|source| Error::Unreadable {
            path: path.to_owned(),
            source,
        })?;
    }
    Dataset::open(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })
}

/// Checks the inputs, computes the MS statistics and writes the output (to `OUT.partial`, renamed when complete, so a
/// failed run never leaves a plausible-looking product behind).
pub fn normalize(req: &Request) -> Result<Report, Error> {
    let started = Instant::now();
    let ms = open(&req.in_ms)?;
    let ortho = open(&req.in_ortho)?;
    if ms.raster_count() != ortho.raster_count() {
        return Err(Error::BandCount {
            ms_path: req.in_ms.clone(),
            ortho_path: req.in_ortho.clone(),
            ms: ms.raster_count(),
            ortho: ortho.raster_count(),
        });
    }
    let not_georef = |what| Error::NotGeoreferenced {
        path: req.in_ortho.clone(),
        what,
    };
    if ortho.geo_transform().is_err() {
        return Err(not_georef("no geotransform"));
    }
    if ortho.projection().trim().is_empty() {
        return Err(not_georef("no projection"));
    }
    let stats = stats::ms_stats(&req.in_ms, &ms)?;
    drop(ms);

    // GDAL's virtual file systems (/vsis3/...) cannot rename: write those in place.
    let in_place = req.out.starts_with("/vsi");
    let partial = if in_place {
        req.out.clone()
    } else {
        partial_path(&req.out)
    };
    let threads = req.threads.max(1);
    let written = (|| {
        let mut out = output::create(&partial, &ortho, &stats, req.output, threads)?;
        let job = rescale::Job {
            ortho_path: &req.in_ortho,
            out_path: &partial,
            stats: &stats,
            kind: req.output,
            threads,
        };
        rescale::rescale(&job, ortho, &mut out)?;
        out.close().map_err(|source| Error::Write {
            path: partial.clone(),
            band: 1,
            row: 0,
            source,
        })
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    if !in_place {
        std::fs::rename(&partial, &req.out).map_err(|source| Error::Rename {
            from: partial.clone(),
            to: req.out.clone(),
            source,
        })?;
    }
    Ok(Report {
        outputs: vec![req.out.clone()],
        duration_seconds: started.elapsed().as_secs_f64(),
        bands: stats,
    })
}

/// `OUT.partial` next to `OUT`.
fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

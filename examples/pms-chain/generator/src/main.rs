//! `pms-generate`: writes a synthetic Pleiades-like P/MS pair (and optionally a DEM) for the OTB chain.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use apsis_pms_generator::{generate, pixel_checksum, PairSpec};
use clap::Parser;

/// Generate a synthetic Pleiades-like P/MS pair with an RPC sensor model OTB reads.
#[derive(Debug, Parser)]
#[command(name = "pms-generate", version)]
struct Args {
    /// Output directory (created if missing): IMG_P.TIF, IMG_MS.TIF, their .geom sidecars, and dem/ with --dem.
    #[arg(long)]
    out: PathBuf,
    /// P image side in pixels, a multiple of 4; the MS image is a quarter of it.
    #[arg(long, default_value_t = 2000)]
    size: usize,
    /// Seed of the scene and the noise: the same seed gives the same pixels.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Also write a DEM GeoTIFF (EPSG:4326, 1 arc-second) into OUT/dem/, for -elev.dem.
    #[arg(long)]
    dem: bool,
    /// Add cumulus clouds.
    #[arg(long)]
    clouds: bool,
    /// Latitude of the footprint centre, degrees.
    #[arg(long, default_value_t = 43.6, allow_negative_numbers = true)]
    lat: f64,
    /// Longitude of the footprint centre, degrees.
    #[arg(long, default_value_t = 1.44, allow_negative_numbers = true)]
    lon: f64,
    /// Print an FNV-1a checksum of each image's pixels (reads the images back).
    #[arg(long)]
    checksum: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let spec = PairSpec {
        size: args.size,
        seed: args.seed,
        lat: args.lat,
        lon: args.lon,
        dem: args.dem,
        clouds: args.clouds,
    };
    let started = Instant::now();
    let pair = generate(&args.out, &spec)
        .with_context(|| format!("generating a pair in {}", args.out.display()))?;
    println!(
        "P    {} ({n}x{n}, 1 band UInt16)",
        pair.pan.display(),
        n = spec.size
    );
    println!(
        "MS   {} ({n}x{n}, 4 bands UInt16)",
        pair.ms.display(),
        n = spec.size / 4
    );
    println!(
        "geom {} {}",
        pair.pan_geom.display(),
        pair.ms_geom.display()
    );
    if let Some(dem) = &pair.dem_dir {
        println!("DEM  {}", dem.display());
    }
    println!("generated in {:.2} s", started.elapsed().as_secs_f64());
    if args.checksum {
        println!("checksum P  {:016x}", pixel_checksum(&pair.pan)?);
        println!("checksum MS {:016x}", pixel_checksum(&pair.ms)?);
    }
    Ok(())
}

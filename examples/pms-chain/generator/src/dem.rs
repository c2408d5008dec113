//! A small SRTM-like DEM: one Int16 GeoTIFF in EPSG:4326 with 1 arc-second posts covering the footprint with a margin,
//! gentle hills around the mean height the RPC assumes. OTB reads a directory of such tiles (`-elev.dem DIR`).

use std::path::{Path, PathBuf};

use gdal::raster::{Buffer, RasterCreationOptions};
use gdal::spatial_ref::SpatialRef;
use gdal::{DriverManager, Metadata};

use crate::camera::{Footprint, MEAN_HEIGHT_M};
use crate::error::{Error, GdalContext};
use crate::hash::Draws;

/// Post spacing: one arc-second, as SRTM 1.
const POST_DEG: f64 = 1.0 / 3600.0;

/// Writes `dir/dem.tif` and returns its path.
pub(crate) fn write_dem(dir: &Path, footprint: &Footprint, seed: u64) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join("dem.tif");
    let (dlat, dlon) = footprint.half_side_deg();
    // Margin: as wide again as the footprint, and at least ~500 m, so off-nadir and DEM lookups stay inside.
    let (mlat, mlon) = (dlat.max(0.005), dlon.max(0.005));
    let west = ((footprint.lon - dlon - mlon) / POST_DEG).floor() * POST_DEG;
    let north = ((footprint.lat + dlat + mlat) / POST_DEG).ceil() * POST_DEG;
    let cols = ((2.0 * (dlon + mlon)) / POST_DEG).ceil() as usize + 1;
    let rows = ((2.0 * (dlat + mlat)) / POST_DEG).ceil() as usize + 1;

    let mut d = Draws::new(seed, 0xDE11);
    let waves: Vec<[f64; 4]> = (0..3)
        .map(|_| {
            [
                d.range(8.0, 20.0),
                d.range(0.004, 0.012),
                d.range(0.0, 6.3),
                d.range(0.0, 6.3),
            ]
        })
        .collect();
    let mut heights = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let lat = north - (r as f64 + 0.5) * POST_DEG;
        for c in 0..cols {
            let lon = west + (c as f64 + 0.5) * POST_DEG;
            let relief: f64 = waves
                .iter()
                .map(|[amp, wavelength, p1, p2]| {
                    let tau = std::f64::consts::TAU;
                    amp * (tau * lon / wavelength + p1).sin() * (tau * lat / wavelength + p2).cos()
                })
                .sum();
            heights.push((MEAN_HEIGHT_M + relief).round() as i16);
        }
    }

    let driver =
        DriverManager::get_driver_by_name("GTiff").doing("find the GTiff driver for", &path)?;
    let options = RasterCreationOptions::from_iter(["COMPRESS=DEFLATE"]);
    let mut ds = driver
        .create_with_band_type_with_options::<i16, _>(&path, cols, rows, 1, &options)
        .doing("create", &path)?;
    ds.set_geo_transform(&[west, POST_DEG, 0.0, north, 0.0, -POST_DEG])
        .doing("georeference", &path)?;
    let wgs84 = SpatialRef::from_epsg(4326).doing("build EPSG:4326 for", &path)?;
    ds.set_spatial_ref(&wgs84).doing("georeference", &path)?;
    ds.set_metadata_item("AREA_OR_POINT", "Area", "")
        .doing("set metadata on", &path)?;
    let mut band = ds.rasterband(1).doing("open the band of", &path)?;
    let mut buffer = Buffer::new((cols, rows), heights);
    band.write((0, 0), (cols, rows), &mut buffer)
        .doing("write heights to", &path)?;
    band.set_description("height above ellipsoid (m)")
        .doing("name the band of", &path)?;
    ds.close().doing("close", &path)?;
    Ok(path)
}

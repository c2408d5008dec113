//! Writing the P and MS GeoTIFFs strip by strip (memory stays at one strip of 256 rows whatever the image size), and
//! reading pixels back for checksums.

use std::path::Path;

use gdal::raster::{Buffer, RasterCreationOptions};
use gdal::{Dataset, DriverManager, Metadata};

use crate::camera::Rpc;
use crate::error::{Error, GdalContext};

/// Rows written at a time: one row of 256 x 256 tiles.
pub(crate) const STRIP_ROWS: usize = 256;

/// A square UInt16 image in sensor geometry.
#[derive(Debug)]
pub(crate) struct SensorImage<'a> {
    pub path: &'a Path,
    pub size: usize,
    pub band_names: &'a [&'a str],
    pub rpc: &'a Rpc,
}

/// Creates the image, then asks `fill(first_row, rows, bands)` for each strip: `bands[b]` holds `rows * size` pixels,
/// row-major, to fill in. NoData is 0 on every band.
pub(crate) fn write_sensor_image(
    image: &SensorImage<'_>,
    mut fill: impl FnMut(usize, usize, &mut [Vec<u16>]),
) -> Result<(), Error> {
    let path = image.path;
    let driver =
        DriverManager::get_driver_by_name("GTiff").doing("find the GTiff driver for", path)?;
    let options = RasterCreationOptions::from_iter([
        "TILED=YES",
        "BLOCKXSIZE=256",
        "BLOCKYSIZE=256",
        "PHOTOMETRIC=MINISBLACK",
    ]);
    let n = image.size;
    let mut ds = driver
        .create_with_band_type_with_options::<u16, _>(path, n, n, image.band_names.len(), &options)
        .doing("create", path)?;
    // OTB reads GDAL's RPC domain only when the file also says its metadata is meant for OTB (see notes/otb.md).
    for (key, value) in image.rpc.gdal_items() {
        ds.set_metadata_item(&key, &value, "RPC")
            .doing("set RPC metadata on", path)?;
    }
    ds.set_metadata_item("METADATATYPE", "OTB", "")
        .doing("set METADATATYPE on", path)?;
    for (b, name) in image.band_names.iter().enumerate() {
        let mut band = ds.rasterband(b + 1).doing("open a band of", path)?;
        band.set_no_data_value(Some(0.0))
            .doing("set NoData on", path)?;
        band.set_description(name).doing("name a band of", path)?;
    }
    let mut strips: Vec<Vec<u16>> = vec![Vec::new(); image.band_names.len()];
    for first_row in (0..n).step_by(STRIP_ROWS) {
        let rows = STRIP_ROWS.min(n - first_row);
        for strip in &mut strips {
            strip.clear();
            strip.resize(rows * n, 0);
        }
        fill(first_row, rows, &mut strips);
        for (b, strip) in strips.iter_mut().enumerate() {
            let mut band = ds.rasterband(b + 1).doing("open a band of", path)?;
            let mut buffer = Buffer::new((n, rows), std::mem::take(strip));
            band.write((0, first_row as isize), (n, rows), &mut buffer)
                .doing("write pixels to", path)?;
            *strip = buffer.into_shape_and_vec().1;
        }
        // Whole tiles are done: hand them to the file now rather than keeping them in GDAL's block cache.
        ds.flush_cache().doing("flush", path)?;
    }
    ds.close().doing("close", path)?;
    Ok(())
}

/// FNV-1a over every band's pixels (UInt16, little endian, band after band, row-major), read strip by strip: equal
/// checksums mean byte-identical pixel data.
pub fn pixel_checksum(path: &Path) -> Result<u64, Error> {
    let ds = Dataset::open(path).doing("open", path)?;
    let (cols, rows) = ds.raster_size();
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in 1..=ds.raster_count() {
        let band = ds.rasterband(b).doing("open a band of", path)?;
        for first_row in (0..rows).step_by(STRIP_ROWS) {
            let n = STRIP_ROWS.min(rows - first_row);
            let buffer = band
                .read_as::<u16>((0, first_row as isize), (cols, n), (cols, n), None)
                .doing("read pixels from", path)?;
            for byte in buffer.data().iter().flat_map(|v| v.to_le_bytes()) {
                h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3);
            }
        }
    }
    Ok(h)
}

//! Small GeoTIFFs written with the gdal crate, and the expected values computed independently of the crate's code.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gdal::raster::Buffer;
use gdal::{DriverManager, Metadata};

pub const GEOTRANSFORM: [f64; 6] = [500_000.0, 2.0, 0.0, 4_800_000.0, 0.0, -2.0];
pub const UTM31N: &str = r#"PROJCS["WGS 84 / UTM zone 31N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",3],PARAMETER["scale_factor",0.9996],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1],AUTHORITY["EPSG","32631"]]"#;

/// A UInt16 image of `bands` bands, `value(band, x, y)` per pixel (band from 1), optional NoData and georeferencing.
pub struct Spec<'a> {
    pub size: (usize, usize),
    pub bands: usize,
    pub nodata: Option<f64>,
    pub georef: bool,
    pub value: &'a dyn Fn(usize, usize, usize) -> u16,
}

pub fn write_u16(path: &Path, spec: &Spec<'_>) {
    let (w, h) = spec.size;
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<u16, _>(path, w, h, spec.bands)
        .unwrap();
    if spec.georef {
        ds.set_geo_transform(&GEOTRANSFORM).unwrap();
        ds.set_projection(UTM31N).unwrap();
    }
    ds.set_metadata_item("ACQUISITION", "synthetic", "")
        .unwrap();
    for b in 1..=spec.bands {
        let mut band = ds.rasterband(b).unwrap();
        band.set_description(&format!("B{b}")).unwrap();
        if let Some(nd) = spec.nodata {
            band.set_no_data_value(Some(nd)).unwrap();
        }
        let data: Vec<u16> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| (spec.value)(b, x, y))
            .collect();
        let mut buf = Buffer::new((w, h), data);
        band.write((0, 0), (w, h), &mut buf).unwrap();
    }
}

/// The nearest-rank percentile of the values, by sorting (the definition the crate documents).
pub fn percentile(values: &mut [u16], p: f64) -> f64 {
    values.sort_unstable();
    let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1] as f64
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_normalize-product"))
}

pub fn run(args: &[&Path]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

/// The MS test pattern: band b holds 100 * b + (x * 7 + y * 13) % 200, and 0 (NoData) on the first row.
pub fn ms_value(b: usize, x: usize, y: usize) -> u16 {
    if y == 0 {
        0
    } else {
        (100 * b + (x * 7 + y * 13) % 200) as u16
    }
}

/// The ortho test pattern: a ramp over the MS range with NoData (0) on a left-hand border of 3 columns.
pub fn ortho_value(b: usize, x: usize, y: usize) -> u16 {
    if x < 3 {
        0
    } else {
        (100 * b + (x * 5 + y * 3) % 230) as u16
    }
}

/// The MS pattern's valid values of band `b` in a `w` x `h` image.
pub fn ms_valid(b: usize, (w, h): (usize, usize)) -> Vec<u16> {
    (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| ms_value(b, x, y))
        .filter(|&v| v != 0)
        .collect()
}

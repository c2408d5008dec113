//! The crate's one error type. Every message names the file (and band) it is about.

use std::path::PathBuf;

/// Why a normalization could not be done.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Expected to read {}, but it failed: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Expected to open {} as a raster with GDAL, but it failed: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: gdal::errors::GdalError,
    },
    #[error(
        "Expected the ortho image {} to have as many bands as the MS image {} ({ms}), but it has {ortho}",
        ortho_path.display(), ms_path.display()
    )]
    BandCount {
        ms_path: PathBuf,
        ortho_path: PathBuf,
        ms: usize,
        ortho: usize,
    },
    #[error("Expected the ortho image {} to be georeferenced (a geotransform and a projection), but it has {what}", path.display())]
    NotGeoreferenced { path: PathBuf, what: &'static str },
    #[error("Expected band {band} of the MS image {} to have at least one valid pixel, but every pixel is NoData", path.display())]
    NoValidPixel { path: PathBuf, band: usize },
    #[error("Expected to read band {band} of {} (rows {row}..), but GDAL failed: {source}", path.display())]
    Read {
        path: PathBuf,
        band: usize,
        row: usize,
        #[source]
        source: gdal::errors::GdalError,
    },
    #[error("Expected band {band} of {} to hold numbers, but its type is {kind}", path.display())]
    BandType {
        path: PathBuf,
        band: usize,
        kind: String,
    },
    #[error("Expected to create the output {}, but GDAL failed: {source}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: gdal::errors::GdalError,
    },
    #[error("Expected to write band {band} of the output {} (rows {row}..), but GDAL failed: {source}", path.display())]
    Write {
        path: PathBuf,
        band: usize,
        row: usize,
        #[source]
        source: gdal::errors::GdalError,
    },
    #[error("Expected to copy the georeferencing and metadata to the output {}, but GDAL failed: {source}", path.display())]
    Metadata {
        path: PathBuf,
        #[source]
        source: gdal::errors::GdalError,
    },
    #[error("Expected to move the finished output {} to {}, but it failed: {source}", from.display(), to.display())]
    Rename {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

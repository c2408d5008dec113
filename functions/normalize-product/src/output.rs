//! The output GeoTIFF: created with the ortho image's size, band count, georeferencing and metadata.

use std::path::Path;

use gdal::cpl::CslStringList;
use gdal::raster::GdalType;
use gdal::{Dataset, DriverManager, Metadata};

use crate::rescale::TILE;
use crate::stats::BandStats;
use crate::{Error, OutputKind};

/// Metadata domains that describe the file's layout or a sensor geometry, not the image: GDAL writes its own, and a
/// sensor model does not apply to a map-projected product.
const SKIPPED_DOMAINS: [&str; 5] = [
    "IMAGE_STRUCTURE",
    "DERIVED_SUBDATASETS",
    "RPC",
    "GEOLOCATION",
    "xml:XMP",
];

/// Tiles, compression and size options: 256x256 tiles (`rescale::TILE`), ZSTD (fast level); UInt16 with the
/// horizontal predictor, Float32 with none: the floating-point predictor (3) cost 6.4 s vs 4.0 s at 8000^2 for no
/// smaller file (713 vs 709 MB of [0, 1] values; bench/README figures), band-interleaved so that each tile of each
/// band is one block `write_block` can hand over, BigTIFF only when needed, compression on `threads` threads.
fn creation_options(
    kind: OutputKind,
    threads: usize,
) -> Result<CslStringList, gdal::errors::GdalError> {
    let mut o = CslStringList::new();
    o.set_name_value("TILED", "YES")?;
    let tile = TILE.to_string();
    o.set_name_value("BLOCKXSIZE", &tile)?;
    o.set_name_value("BLOCKYSIZE", &tile)?;
    o.set_name_value("COMPRESS", "ZSTD")?;
    o.set_name_value("ZSTD_LEVEL", "1")?;
    let predictor = match kind {
        OutputKind::Float32 => "1", // none: measured faster, and no larger
        OutputKind::UInt16 => "2",
    };
    o.set_name_value("PREDICTOR", predictor)?;
    o.set_name_value("INTERLEAVE", "BAND")?;
    o.set_name_value("BIGTIFF", "IF_SAFER")?;
    o.set_name_value("NUM_THREADS", &threads.to_string())?;
    Ok(o)
}

/// Creates `path` for the normalized `ortho` image and copies its georeferencing and metadata; records each band's
/// robust range as band metadata (`NORMALIZE_MIN`, `NORMALIZE_MAX`).
pub(crate) fn create(
    path: &Path,
    ortho: &Dataset,
    stats: &[BandStats],
    kind: OutputKind,
    threads: usize,
) -> Result<Dataset, Error> {
    let create_err = |source| Error::Create {
        path: path.to_owned(),
        source,
    };
    let meta_err = |source| Error::Metadata {
        path: path.to_owned(),
        source,
    };
    let driver = DriverManager::get_driver_by_name("GTiff").map_err(create_err)?;
    let options = creation_options(kind, threads).map_err(create_err)?;
    let (w, h) = ortho.raster_size();
    let bands = ortho.raster_count();
    let mut out = match kind {
        OutputKind::Float32 => create_typed::<f32>(&driver, path, (w, h), bands, &options),
        OutputKind::UInt16 => create_typed::<u16>(&driver, path, (w, h), bands, &options),
    }
    .map_err(create_err)?;

    let gt = ortho.geo_transform().map_err(meta_err)?;
    out.set_geo_transform(&gt).map_err(meta_err)?;
    out.set_projection(&ortho.projection()).map_err(meta_err)?;
    for domain in ortho.metadata_domains() {
        if SKIPPED_DOMAINS.contains(&domain.as_str()) {
            continue;
        }
        for (key, value) in items(ortho.metadata_domain(&domain)) {
            out.set_metadata_item(&key, &value, &domain)
                .map_err(meta_err)?;
        }
    }
    for (i, s) in stats.iter().enumerate().take(bands) {
        let src = ortho.rasterband(i + 1).map_err(meta_err)?;
        let mut dst = out.rasterband(i + 1).map_err(meta_err)?;
        let description = src.description().map_err(meta_err)?;
        if !description.is_empty() {
            dst.set_description(&description).map_err(meta_err)?;
        }
        dst.set_color_interpretation(src.color_interpretation())
            .map_err(meta_err)?;
        for (key, value) in items(src.metadata_domain("")) {
            // Statistics of the input do not describe the rescaled values.
            if !key.starts_with("STATISTICS_") {
                dst.set_metadata_item(&key, &value, "").map_err(meta_err)?;
            }
        }
        dst.set_metadata_item("NORMALIZE_MIN", &s.min.to_string(), "")
            .map_err(meta_err)?;
        dst.set_metadata_item("NORMALIZE_MAX", &s.max.to_string(), "")
            .map_err(meta_err)?;
        let nodata = match kind {
            OutputKind::Float32 => f64::NAN,
            OutputKind::UInt16 => 0.0,
        };
        dst.set_no_data_value(Some(nodata)).map_err(meta_err)?;
    }
    Ok(out)
}

fn create_typed<T: GdalType>(
    driver: &gdal::Driver,
    path: &Path,
    (w, h): (usize, usize),
    bands: usize,
    options: &CslStringList,
) -> gdal::errors::Result<Dataset> {
    driver.create_with_band_type_with_options::<T, _>(path, w, h, bands, options)
}

/// `KEY=VALUE` strings as pairs (a value may itself contain `=`).
fn items(list: Option<Vec<String>>) -> impl Iterator<Item = (String, String)> {
    list.unwrap_or_default()
        .into_iter()
        .filter_map(|s| s.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
}

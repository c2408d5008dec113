//! Pass over the MS image: per band, a streaming histogram of the valid pixels, then the 2 % / 98 % percentiles.
//!
//! Reads full-width strips into one reused buffer per band, so memory is the histograms plus one strip, whatever the
//! image size. 8/16-bit bands take one pass with one bin per value; wider bands take two (min/max, then a fine
//! histogram over it: see `histogram`).

use std::path::Path;

use gdal::raster::{GdalDataType, GdalType, RasterBand};
use gdal::Dataset;
use serde::Serialize;

use crate::histogram::{Histogram, Range};
use crate::Error;

/// Low and high percentiles taken as the robust min and max.
pub const LOW: f64 = 0.02;
pub const HIGH: f64 = 0.98;

/// The robust range of one MS band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BandStats {
    pub min: f64,
    pub max: f64,
    pub valid_pixels: u64,
    /// The MS band's NoData value, the ortho band's fallback.
    #[serde(skip)]
    pub nodata: Option<f64>,
}

/// Rows per strip: the band's block height when blocks are tall, else about 256 rows (whole blocks).
pub(crate) fn strip_rows(band: &RasterBand<'_>) -> usize {
    let (_, bh) = band.block_size();
    let bh = bh.max(1);
    if bh >= 64 {
        bh
    } else {
        256usize.div_ceil(bh) * bh
    }
}

enum Kind {
    /// Read as u16 codes (value + offset): UInt8, UInt16, Int8, Int16.
    Codes { offset: f64, signed: bool },
    /// Read as f64, two passes.
    Wide { integer: bool },
}

fn kind_of(path: &Path, band: usize, t: GdalDataType) -> Result<Kind, Error> {
    Ok(match t {
        GdalDataType::UInt8 | GdalDataType::UInt16 => Kind::Codes {
            offset: 0.0,
            signed: false,
        },
        GdalDataType::Int16 => Kind::Codes {
            offset: 32768.0,
            signed: true,
        },
        GdalDataType::UInt32 | GdalDataType::Int32 => Kind::Wide { integer: true },
        GdalDataType::Float32 | GdalDataType::Float64 => Kind::Wide { integer: false },
        other => {
            return Err(Error::BandType {
                path: path.to_owned(),
                band,
                kind: other.name(),
            })
        }
    })
}

/// The robust range of every band of the MS image `ds` (opened from `path`).
pub fn ms_stats(path: &Path, ds: &Dataset) -> Result<Vec<BandStats>, Error> {
    let mut out = Vec::with_capacity(ds.raster_count());
    for b in 1..=ds.raster_count() {
        let band = ds.rasterband(b).map_err(|source| Error::Read {
            path: path.to_owned(),
            band: b,
            row: 0,
            source,
        })?;
        let nodata = band.no_data_value();
        let mut hist = match kind_of(path, b, band.band_type())? {
            Kind::Codes { offset, signed } => codes_histogram(path, b, &band, offset, signed)?,
            Kind::Wide { integer } => wide_histogram(path, b, &band, integer)?,
        };
        hist.finish();
        let (Some(min), Some(max)) = (hist.percentile(LOW), hist.percentile(HIGH)) else {
            return Err(Error::NoValidPixel {
                path: path.to_owned(),
                band: b,
            });
        };
        out.push(BandStats {
            min,
            max,
            valid_pixels: hist.total(),
            nodata,
        });
    }
    Ok(out)
}

/// Calls `f` with each full-width strip of `band`, read as `T` into one reused buffer.
fn for_each_strip<T: Copy + GdalType + Default>(
    path: &Path,
    b: usize,
    band: &RasterBand<'_>,
    mut f: impl FnMut(&[T]),
) -> Result<(), Error> {
    let (w, h) = band.size();
    let rows = strip_rows(band);
    let mut buf = vec![T::default(); w * rows.min(h.max(1))];
    let mut row = 0;
    while row < h {
        let n = rows.min(h - row);
        let slice = &mut buf[..w * n];
        band.read_into_slice((0, row as isize), (w, n), (w, n), slice, None)
            .map_err(|source| Error::Read {
                path: path.to_owned(),
                band: b,
                row,
                source,
            })?;
        f(slice);
        row += n;
    }
    Ok(())
}

fn codes_histogram(
    path: &Path,
    b: usize,
    band: &RasterBand<'_>,
    offset: f64,
    signed: bool,
) -> Result<Histogram, Error> {
    let mut hist = Histogram::for_u16_codes(offset);
    // A NoData value that no pixel of this type can hold excludes nothing.
    let nodata_code = band
        .no_data_value()
        .filter(|v| v.fract() == 0.0 && (v + offset) >= 0.0 && (v + offset) <= 65535.0)
        .map(|v| (v + offset) as u16);
    if signed {
        for_each_strip::<i16>(path, b, band, |s| {
            for &v in s {
                let code = (v as i32 + 32768) as u16;
                if Some(code) != nodata_code {
                    hist.add_code(code);
                }
            }
        })?;
    } else {
        for_each_strip::<u16>(path, b, band, |s| match nodata_code {
            Some(nd) => s
                .iter()
                .filter(|&&v| v != nd)
                .for_each(|&v| hist.add_code(v)),
            None => s.iter().for_each(|&v| hist.add_code(v)),
        })?;
    }
    Ok(hist)
}

fn wide_histogram(
    path: &Path,
    b: usize,
    band: &RasterBand<'_>,
    integer: bool,
) -> Result<Histogram, Error> {
    let nodata = band.no_data_value();
    let valid = |v: f64| !v.is_nan() && Some(v) != nodata;
    let mut range = Range::default();
    for_each_strip::<f64>(path, b, band, |s| {
        s.iter().filter(|&&v| valid(v)).for_each(|&v| range.add(v))
    })?;
    if range.count == 0 {
        return Ok(Histogram::for_range(0.0, 0.0, integer));
    }
    let mut hist = Histogram::for_range(range.min, range.max, integer);
    for_each_strip::<f64>(path, b, band, |s| {
        s.iter().filter(|&&v| valid(v)).for_each(|&v| hist.add(v))
    })?;
    Ok(hist)
}

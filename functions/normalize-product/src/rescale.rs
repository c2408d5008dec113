//! Pass over the ortho image: each full-width strip of each band is read as Float32, rescaled with its band's robust
//! range and written to the output. One strip buffer per direction, reused: memory does not grow with the image.

use std::path::Path;

use gdal::raster::Buffer;
use gdal::Dataset;

use crate::stats::{strip_rows, BandStats};
use crate::{Error, OutputKind};

/// How one band maps a value to [0, 1]: `(v - lo) * scale`, clamped; NoData and NaN are invalid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Linear {
    lo: f32,
    hi: f32,
    scale: f32,
    nodata: Option<f32>,
}

impl Linear {
    pub(crate) fn new(stats: &BandStats, nodata: Option<f64>) -> Self {
        let (lo, hi) = (stats.min as f32, stats.max as f32);
        // A constant band (lo == hi) maps to 0 at or below it and 1 above.
        let scale = if hi > lo { 1.0 / (hi - lo) } else { 0.0 };
        Linear {
            lo,
            hi,
            scale,
            nodata: nodata.map(|v| v as f32),
        }
    }

    /// The rescaled value in [0, 1], or `None` for NoData.
    #[inline]
    pub(crate) fn apply(&self, v: f32) -> Option<f32> {
        if v.is_nan() || Some(v) == self.nodata {
            return None;
        }
        if self.scale == 0.0 {
            return Some(if v > self.hi { 1.0 } else { 0.0 });
        }
        Some(((v - self.lo) * self.scale).clamp(0.0, 1.0))
    }
}

/// Rescales every band of `ortho` into `out`, strip by strip.
pub(crate) fn rescale(
    ortho_path: &Path,
    ortho: &Dataset,
    out_path: &Path,
    out: &mut Dataset,
    stats: &[BandStats],
    kind: OutputKind,
) -> Result<(), Error> {
    let (w, h) = ortho.raster_size();
    let first = ortho.rasterband(1).map_err(|source| Error::Read {
        path: ortho_path.to_owned(),
        band: 1,
        row: 0,
        source,
    })?;
    // Strips of whole output tiles (256 rows) and whole input blocks.
    let rows = strip_rows(&first).max(256).div_ceil(256) * 256;
    let rows = rows.min(h.max(1));
    let mut input = vec![0f32; w * rows];
    let mut f32_out = Buffer::new((w, rows), vec![0f32; w * rows]);
    let mut u16_out = Buffer::new((w, rows), vec![0u16; w * rows]);
    let mut row = 0;
    while row < h {
        let n = rows.min(h - row);
        for (i, s) in stats.iter().enumerate() {
            let b = i + 1;
            let read_err = |source| Error::Read {
                path: ortho_path.to_owned(),
                band: b,
                row,
                source,
            };
            let band = ortho.rasterband(b).map_err(read_err)?;
            let linear = Linear::new(s, band.no_data_value().or(s.nodata));
            let slice = &mut input[..w * n];
            band.read_into_slice((0, row as isize), (w, n), (w, n), slice, None)
                .map_err(read_err)?;
            let write_err = |source| Error::Write {
                path: out_path.to_owned(),
                band: b,
                row,
                source,
            };
            let mut dst = out.rasterband(b).map_err(write_err)?;
            match kind {
                OutputKind::Float32 => {
                    let buf = strip(&mut f32_out, (w, n));
                    for (o, &v) in buf.data_mut().iter_mut().zip(slice.iter()) {
                        *o = linear.apply(v).unwrap_or(f32::NAN);
                    }
                    dst.write((0, row as isize), (w, n), buf)
                        .map_err(write_err)?;
                }
                OutputKind::UInt16 => {
                    let buf = strip(&mut u16_out, (w, n));
                    for (o, &v) in buf.data_mut().iter_mut().zip(slice.iter()) {
                        // Valid pixels are at least 1 so that none reads as NoData (0).
                        *o = linear
                            .apply(v)
                            .map_or(0, |x| ((x * 10000.0).round() as u16).max(1));
                    }
                    dst.write((0, row as isize), (w, n), buf)
                        .map_err(write_err)?;
                }
            }
        }
        // Write this strip's finished tiles now (compressed on the creation option's threads) rather than let them
        // pile up in GDAL's block cache until it is full: the cache stays small and the writes overlap the reads.
        out.flush_cache().map_err(|source| Error::Write {
            path: out_path.to_owned(),
            band: 1,
            row,
            source,
        })?;
        row += n;
    }
    Ok(())
}

/// `buf` reshaped to `shape` (the last strip is shorter), keeping its allocation.
fn strip<T: Copy + Default + gdal::raster::GdalType>(
    buf: &mut Buffer<T>,
    shape: (usize, usize),
) -> &mut Buffer<T> {
    if buf.shape() != shape {
        let (_, mut v) =
            std::mem::replace(buf, Buffer::new((0, 0), Vec::new())).into_shape_and_vec();
        v.truncate(shape.0 * shape.1);
        *buf = Buffer::new(shape, v);
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(min: f64, max: f64) -> BandStats {
        BandStats {
            min,
            max,
            valid_pixels: 1,
            nodata: None,
        }
    }

    #[test]
    fn linear_clamps_and_masks() {
        let l = Linear::new(&stats(100.0, 300.0), Some(0.0));
        assert_eq!(l.apply(0.0), None);
        assert_eq!(l.apply(f32::NAN), None);
        assert_eq!(l.apply(50.0), Some(0.0));
        assert_eq!(l.apply(200.0), Some(0.5));
        assert_eq!(l.apply(400.0), Some(1.0));
    }

    #[test]
    fn constant_band_maps_to_0_or_1() {
        let l = Linear::new(&stats(7.0, 7.0), None);
        assert_eq!(l.apply(7.0), Some(0.0));
        assert_eq!(l.apply(8.0), Some(1.0));
    }
}

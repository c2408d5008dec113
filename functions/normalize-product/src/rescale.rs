//! Pass over the ortho image, tile by tile: each window of 256 rows x at most `WINDOW_TILES` output tiles is read per
//! band as Float32, rescaled with its band's robust range into whole output tiles (edges padded with NoData), and each
//! tile is handed to GDAL with `write_block`, which compresses it on the creation option's threads and writes it,
//! without going through GDAL's block cache.
//!
//! With more than one thread, a reader thread reads and rescales (`Producer`) while the calling thread hands the
//! finished tiles to GDAL, so reading, rescaling and compressing overlap; a bounded channel and recycled tile buffers
//! keep memory fixed. With one thread the same `Producer` runs on the calling thread. Either way the buffers are sized
//! by the window, not the image: memory does not grow with the image's width or height.

use std::path::Path;
use std::sync::mpsc;

use gdal::raster::{Buffer, GdalType};
use gdal::Dataset;

use crate::stats::BandStats;
use crate::{Error, OutputKind};

/// The output's tile side (its BLOCKXSIZE and BLOCKYSIZE).
pub(crate) const TILE: usize = 256;
/// Output tiles per window: a window is 256 rows x 2048 columns at most, whatever the image's width.
const WINDOW_TILES: usize = 8;
/// Windows (of one band) waiting between the reader thread and the writer.
const QUEUE: usize = 4;

/// How one band maps a value to [0, 1]: `(v - lo) * scale`, clamped; NoData and NaN are invalid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Linear {
    lo: f32,
    hi: f32,
    scale: f32,
    /// NaN when the band has none (NaN equals nothing, NaN pixels are tested separately).
    nodata: f32,
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
            nodata: nodata.map_or(f32::NAN, |v| v as f32),
        }
    }

    /// The rescaled value in [0, 1], or `None` for NoData.
    #[inline]
    pub(crate) fn apply(&self, v: f32) -> Option<f32> {
        if v.is_nan() || v == self.nodata {
            return None;
        }
        if self.scale == 0.0 {
            return Some(if v > self.hi { 1.0 } else { 0.0 });
        }
        Some(((v - self.lo) * self.scale).clamp(0.0, 1.0))
    }

    /// `dst[i] = S::from(apply(src[i]))`, written without branches in the loop body so that it vectorizes.
    fn map_row<S: Sample>(&self, src: &[f32], dst: &mut [S]) {
        if self.scale == 0.0 {
            for (o, &v) in dst.iter_mut().zip(src) {
                *o = S::from_option(self.apply(v));
            }
            return;
        }
        let (lo, scale, nodata) = (self.lo, self.scale, self.nodata);
        for (o, &v) in dst.iter_mut().zip(src) {
            let valid = !(v.is_nan() || v == nodata);
            *o = S::from_unit(((v - lo) * scale).clamp(0.0, 1.0), valid);
        }
    }
}

/// An output sample type: Float32 (NoData NaN) or UInt16 x 10000 (NoData 0).
pub(crate) trait Sample: GdalType + Copy + Default + Send + 'static {
    const NODATA: Self;
    /// `x` in [0, 1] as this type, or NoData when not `valid`.
    fn from_unit(x: f32, valid: bool) -> Self;
    fn from_option(x: Option<f32>) -> Self {
        match x {
            Some(x) => Self::from_unit(x, true),
            None => Self::NODATA,
        }
    }
}

impl Sample for f32 {
    const NODATA: f32 = f32::NAN;
    #[inline]
    fn from_unit(x: f32, valid: bool) -> f32 {
        if valid {
            x
        } else {
            f32::NAN
        }
    }
}

impl Sample for u16 {
    const NODATA: u16 = 0;
    #[inline]
    fn from_unit(x: f32, valid: bool) -> u16 {
        // Valid pixels are at least 1 so that none reads as NoData (0).
        let v = ((x * 10000.0).round() as u16).max(1);
        if valid {
            v
        } else {
            0
        }
    }
}

/// One band of one window: its output tiles, left to right.
struct Piece<S> {
    band: usize,
    /// Tile row, and tile column of the first tile.
    ty: usize,
    tx0: usize,
    tiles: Vec<Buffer<S>>,
}

/// The windows of an image, in writing order: tile rows top to bottom, windows left to right, bands in order.
fn windows(
    (w, h): (usize, usize),
    bands: usize,
) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    let (tiles_x, tiles_y) = (w.div_ceil(TILE), h.div_ceil(TILE));
    (0..tiles_y).flat_map(move |ty| {
        (0..tiles_x).step_by(WINDOW_TILES).flat_map(move |tx0| {
            let tx1 = (tx0 + WINDOW_TILES).min(tiles_x);
            (1..=bands).map(move |b| (b, ty, tx0, tx1))
        })
    })
}

/// Reads windows of the ortho image and rescales them into output tiles.
struct Producer<'a> {
    path: &'a Path,
    ortho: &'a Dataset,
    size: (usize, usize),
    linear: Vec<Linear>,
    input: Vec<f32>,
}

impl Producer<'_> {
    /// Fills `piece` (its buffers reused) with band `b`'s tiles `tx0..tx1` of tile row `ty`.
    fn produce<S: Sample>(
        &mut self,
        (b, ty, tx0, tx1): (usize, usize, usize, usize),
        mut tiles: Vec<Buffer<S>>,
    ) -> Result<Piece<S>, Error> {
        let (w, h) = self.size;
        let (x0, y0) = (tx0 * TILE, ty * TILE);
        let (ww, wh) = ((tx1 * TILE).min(w) - x0, TILE.min(h - y0));
        let read_err = |source| Error::Read {
            path: self.path.to_owned(),
            band: b,
            row: y0,
            source,
        };
        let band = self.ortho.rasterband(b).map_err(read_err)?;
        let input = &mut self.input[..ww * wh];
        band.read_into_slice((x0 as isize, y0 as isize), (ww, wh), (ww, wh), input, None)
            .map_err(read_err)?;
        let linear = self.linear[b - 1];
        tiles.resize_with(tx1 - tx0, || {
            Buffer::new((TILE, TILE), vec![S::NODATA; TILE * TILE])
        });
        for (i, tile) in tiles.iter_mut().enumerate() {
            let c0 = i * TILE;
            let cols = TILE.min(ww - c0);
            let data = tile.data_mut();
            for (r, dst) in data.chunks_exact_mut(TILE).enumerate() {
                if r < wh {
                    let src = &input[r * ww + c0..r * ww + c0 + cols];
                    linear.map_row(src, &mut dst[..cols]);
                    dst[cols..].fill(S::NODATA);
                } else {
                    dst.fill(S::NODATA);
                }
            }
        }
        Ok(Piece {
            band: b,
            ty,
            tx0,
            tiles,
        })
    }
}

/// Hands a piece's tiles to GDAL, which compresses and writes them.
fn write<S: Sample>(out: &mut Dataset, out_path: &Path, piece: &mut Piece<S>) -> Result<(), Error> {
    let write_err = |source| Error::Write {
        path: out_path.to_owned(),
        band: piece.band,
        row: piece.ty * TILE,
        source,
    };
    let mut band = out.rasterband(piece.band).map_err(write_err)?;
    for (i, tile) in piece.tiles.iter_mut().enumerate() {
        band.write_block((piece.tx0 + i, piece.ty), tile)
            .map_err(write_err)?;
    }
    Ok(())
}

/// Where the rescale reads and writes.
pub(crate) struct Job<'a> {
    pub ortho_path: &'a Path,
    pub out_path: &'a Path,
    pub stats: &'a [BandStats],
    pub kind: OutputKind,
    /// More than one: a reader thread overlaps reading and rescaling with compressing and writing.
    pub threads: usize,
}

/// Rescales every band of `ortho` into `out` (created by `output::create` with 256 x 256 tiles).
pub(crate) fn rescale(job: &Job<'_>, ortho: Dataset, out: &mut Dataset) -> Result<(), Error> {
    match job.kind {
        OutputKind::Float32 => run::<f32>(job, ortho, out),
        OutputKind::UInt16 => run::<u16>(job, ortho, out),
    }
}

fn run<S: Sample>(job: &Job<'_>, ortho: Dataset, out: &mut Dataset) -> Result<(), Error> {
    let size = ortho.raster_size();
    let bands = ortho.raster_count();
    let mut linear = Vec::with_capacity(bands);
    for (i, s) in job.stats.iter().enumerate().take(bands) {
        let band = ortho.rasterband(i + 1).map_err(|source| Error::Read {
            path: job.ortho_path.to_owned(),
            band: i + 1,
            row: 0,
            source,
        })?;
        linear.push(Linear::new(s, band.no_data_value().or(s.nodata)));
    }
    let input = vec![0f32; size.0.min(WINDOW_TILES * TILE) * size.1.min(TILE)];
    let windows = windows(size, bands);
    if job.threads <= 1 {
        let mut producer = Producer {
            path: job.ortho_path,
            ortho: &ortho,
            size,
            linear,
            input,
        };
        let mut spare = Vec::new();
        for window in windows {
            let mut piece = producer.produce::<S>(window, spare)?;
            write(out, job.out_path, &mut piece)?;
            spare = piece.tiles;
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        let (to_writer, from_reader) = mpsc::sync_channel::<Result<Piece<S>, Error>>(QUEUE);
        let (recycle, recycled) = mpsc::channel::<Vec<Buffer<S>>>();
        scope.spawn(move || {
            let mut producer = Producer {
                path: job.ortho_path,
                ortho: &ortho,
                size,
                linear,
                input,
            };
            for window in windows {
                let spare = recycled.try_recv().unwrap_or_default();
                let piece = producer.produce::<S>(window, spare);
                let failed = piece.is_err();
                // The writer hung up (it failed) or this read failed: either way, stop.
                if to_writer.send(piece).is_err() || failed {
                    return;
                }
            }
        });
        for piece in from_reader {
            let mut piece = piece?;
            write(out, job.out_path, &mut piece)?;
            // The reader may have finished: its buffers are then simply dropped.
            let _ = recycle.send(piece.tiles);
        }
        Ok(())
    })
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

    #[test]
    fn map_row_is_apply_for_both_types() {
        let src = [
            0.0,
            f32::NAN,
            50.0,
            100.0,
            101.0,
            200.0,
            299.0,
            300.0,
            1e9,
            -5.0,
        ];
        for l in [
            Linear::new(&stats(100.0, 300.0), Some(0.0)),
            Linear::new(&stats(7.0, 7.0), None),
            Linear::new(&stats(100.0, 300.0), None),
        ] {
            let mut f = [0f32; 10];
            let mut u = [0u16; 10];
            l.map_row(&src, &mut f);
            l.map_row(&src, &mut u);
            for (i, &v) in src.iter().enumerate() {
                let want = l.apply(v);
                assert_eq!(f[i].to_bits(), want.unwrap_or(f32::NAN).to_bits(), "{v}");
                assert_eq!(
                    u[i],
                    want.map_or(0, |x| ((x * 10000.0).round() as u16).max(1)),
                    "{v}"
                );
            }
        }
    }

    #[test]
    fn windows_cover_every_tile_once_in_order() {
        // 2100 x 300: 9 tile columns (two windows: 8 + 1) x 2 tile rows, 3 bands.
        let all: Vec<_> = windows((2100, 300), 3).collect();
        assert_eq!(all.len(), 2 * 2 * 3);
        assert_eq!(all[0], (1, 0, 0, 8));
        assert_eq!(all[3], (1, 0, 8, 9));
        assert_eq!(all[11], (3, 1, 8, 9));
        let mut seen = std::collections::BTreeSet::new();
        for (b, ty, tx0, tx1) in all {
            for tx in tx0..tx1 {
                assert!(seen.insert((b, ty, tx)));
            }
        }
        assert_eq!(seen.len(), 9 * 2 * 3);
        assert_eq!(windows((0, 0), 4).count(), 0);
    }
}

#!/usr/bin/python3
"""Block-wise Python/GDAL reference of normalize-product's algorithm, for the benchmark.

Per MS band: exact histogram of the valid pixels (np.bincount per strip), 2 % / 98 % nearest-rank percentiles; then
the ortho image rescaled strip by strip to Float32 [0, 1], NoData NaN, into a tiled ZSTD GeoTIFF with the same creation
options as normalize-product. GDAL settings are left at their defaults (as a script usually runs).

usage: normalize_ref.py MS.tif ORTHO.tif OUT.tif
"""
import sys

import numpy as np
from osgeo import gdal

gdal.UseExceptions()

LOW, HIGH = 0.02, 0.98
ROWS = 256


def nearest_rank(counts, p):
    total = int(counts.sum())
    rank = min(max(int(np.ceil(p * total)), 1), total)
    return int(np.searchsorted(np.cumsum(counts), rank))


def robust_ranges(ms):
    ranges = []
    for b in range(1, ms.RasterCount + 1):
        band = ms.GetRasterBand(b)
        nodata = band.GetNoDataValue()
        counts = np.zeros(65536, dtype=np.int64)
        for row in range(0, ms.RasterYSize, ROWS):
            n = min(ROWS, ms.RasterYSize - row)
            a = band.ReadAsArray(0, row, ms.RasterXSize, n).ravel()
            if nodata is not None:
                a = a[a != nodata]
            counts += np.bincount(a, minlength=65536)
        if counts.sum() == 0:
            sys.exit(f"band {b} of the MS image has no valid pixel")
        ranges.append((nearest_rank(counts, LOW), nearest_rank(counts, HIGH)))
    return ranges


def main(ms_path, ortho_path, out_path):
    ms = gdal.Open(ms_path)
    ortho = gdal.Open(ortho_path)
    ranges = robust_ranges(ms)
    w, h, nb = ortho.RasterXSize, ortho.RasterYSize, ortho.RasterCount
    out = gdal.GetDriverByName("GTiff").Create(
        out_path, w, h, nb, gdal.GDT_Float32,
        ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=ZSTD", "ZSTD_LEVEL=1", "PREDICTOR=1",
         "INTERLEAVE=BAND", "BIGTIFF=IF_SAFER", "NUM_THREADS=2"])
    out.SetGeoTransform(ortho.GetGeoTransform())
    out.SetProjection(ortho.GetProjection())
    out.SetMetadata(ortho.GetMetadata())
    for row in range(0, h, ROWS):
        n = min(ROWS, h - row)
        for b in range(1, nb + 1):
            src = ortho.GetRasterBand(b)
            lo, hi = ranges[b - 1]
            a = src.ReadAsArray(0, row, w, n).astype(np.float32)
            nodata = src.GetNoDataValue()
            invalid = np.isnan(a) if nodata is None else (a == nodata) | np.isnan(a)
            r = np.clip((a - lo) / max(hi - lo, 1e-30), 0.0, 1.0)
            r[invalid] = np.nan
            dst = out.GetRasterBand(b)
            dst.WriteArray(r, 0, row)
    for b in range(1, nb + 1):
        out.GetRasterBand(b).SetNoDataValue(float("nan"))
    out = None


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])

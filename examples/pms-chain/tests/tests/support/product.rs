//! What a correct run of the chain leaves in its output directory, read back with GDAL.

use std::path::Path;

use gdal::raster::GdalDataType;
use gdal::Dataset;
use serde_json::Value;

use super::{Pair, SIZE};

/// What the checks counted, for the test's report.
#[derive(Debug)]
pub struct Checked {
    pub ortho_size: (usize, usize),
    /// Pixels (per band, summed over the 4 bands) valid in the ortho image, and NoData there.
    pub valid: usize,
    pub nodata: usize,
}

fn open(path: &Path) -> Dataset {
    Dataset::open(path)
        .unwrap_or_else(|e| panic!("Expected GDAL to open {}, but: {e}", path.display()))
}

/// Checks `bundle.tif`, `ortho.tif` and `normalized_ortho.tif` of `pair`, and that `product` names the last one.
#[track_caller]
pub fn check(pair: &Pair, product: &Value) -> Checked {
    assert_eq!(
        product.as_str(),
        Some(pair.product().display().to_string().as_str()),
        "Expected the variable 'product' to be the normalized product's path"
    );
    let bundle = open(&pair.out.join("bundle.tif"));
    assert_eq!(
        (bundle.raster_size(), bundle.raster_count()),
        ((SIZE as usize, SIZE as usize), 4),
        "bundle.tif: the P image's size, the MS image's 4 bands"
    );

    let ortho_path = pair.out.join("ortho.tif");
    let ortho = open(&ortho_path);
    let srs = ortho
        .spatial_ref()
        .expect("Expected ortho.tif to have a spatial reference");
    assert!(
        srs.is_projected(),
        "Expected ortho.tif in a projected CRS, but found {:?}",
        srs.to_wkt()
    );
    let gt = ortho.geo_transform().expect("ortho.tif is georeferenced");
    // OTB estimates the output spacing from the sensor model: 0.5 m to within a few millimetres (0.4990 with the
    // DEM, 0.5003 without, seen at 400^2); the generator's own OTB test allows the same 0.01 m.
    assert!(
        (gt[1] - 0.5).abs() < 0.01 && (gt[5] + 0.5).abs() < 0.01 && gt[2] == 0.0 && gt[4] == 0.0,
        "Expected ortho.tif north-up with 0.5 m pixels, but its geotransform is {gt:?}"
    );
    assert_eq!(ortho.raster_count(), 4, "ortho.tif bands");
    let (w, h) = ortho.raster_size();
    assert!(
        (SIZE as usize..SIZE as usize * 2).contains(&w)
            && (SIZE as usize..SIZE as usize * 2).contains(&h),
        "Expected ortho.tif about {SIZE} pixels a side, but it is {w} x {h}"
    );

    let normalized = open(&pair.product());
    assert_eq!(
        normalized.raster_size(),
        (w, h),
        "normalized_ortho.tif: the size of ortho.tif"
    );
    assert_eq!(
        normalized.geo_transform().unwrap(),
        gt,
        "normalized_ortho.tif: the geotransform of ortho.tif"
    );
    assert_eq!(normalized.raster_count(), 4, "normalized_ortho.tif bands");
    let ms = open(&pair.ms);
    let (mut valid, mut nodata) = (0, 0);
    for b in 1..=4 {
        let out_band = normalized.rasterband(b).unwrap();
        assert_eq!(
            out_band.band_type(),
            GdalDataType::Float32,
            "normalized_ortho.tif band {b}"
        );
        assert!(
            out_band.no_data_value().is_some_and(f64::is_nan),
            "Expected normalized_ortho.tif band {b} to have NoData NaN, but it has {:?}",
            out_band.no_data_value()
        );
        let in_band = ortho.rasterband(b).unwrap();
        // normalize-product's rule: the ortho band's NoData value, else the MS band's.
        let ortho_nodata = in_band
            .no_data_value()
            .or_else(|| ms.rasterband(b).unwrap().no_data_value())
            .unwrap_or_else(|| {
                panic!("Expected a NoData value on ortho.tif or IMG_MS.TIF band {b}, but neither has one")
            });
        let input = in_band.read_band_as::<f64>().unwrap();
        let output = out_band.read_band_as::<f32>().unwrap();
        for (i, (&x, &y)) in input.data().iter().zip(output.data()).enumerate() {
            if x == ortho_nodata {
                assert!(
                    y.is_nan(),
                    "Expected NaN in normalized_ortho.tif band {b} pixel ({}, {}), where ortho.tif has NoData, but found {y}",
                    i % w,
                    i / w
                );
                nodata += 1;
            } else {
                assert!(
                    (0.0..=1.0).contains(&y),
                    "Expected a value in [0, 1] in normalized_ortho.tif band {b} pixel ({}, {}) (ortho {x}), but found {y}",
                    i % w,
                    i / w
                );
                valid += 1;
            }
        }
    }
    assert!(
        nodata > 0,
        "Expected NoData in ortho.tif (the western strip and the borders), but found none"
    );
    assert!(
        valid > 4 * w * h / 2,
        "Expected most of ortho.tif valid, but only {valid} of {} band pixels are",
        4 * w * h
    );
    Checked {
        ortho_size: (w, h),
        valid,
        nodata,
    }
}

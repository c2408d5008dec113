//! The `normalize-product` binary on small generated GeoTIFFs: values, NoData, georeferencing, metadata, errors and
//! exit codes.

mod common;

use std::path::Path;

use common::*;
use gdal::{Dataset, Metadata};

const MS_SIZE: (usize, usize) = (30, 20);
const ORTHO_SIZE: (usize, usize) = (70, 50);

fn inputs(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let ms = dir.join("ms.tif");
    let ortho = dir.join("ortho.tif");
    write_u16(
        &ms,
        &Spec {
            size: MS_SIZE,
            bands: 4,
            nodata: Some(0.0),
            georef: false,
            value: &ms_value,
        },
    );
    write_u16(
        &ortho,
        &Spec {
            size: ORTHO_SIZE,
            bands: 4,
            nodata: Some(0.0),
            georef: true,
            value: &ortho_value,
        },
    );
    (ms, ortho)
}

/// The robust range of MS band `b`, by sorting.
fn range(b: usize) -> (f64, f64) {
    let mut valid = ms_valid(b, MS_SIZE);
    (percentile(&mut valid, 0.02), percentile(&mut valid, 0.98))
}

fn expected((lo, hi): (f64, f64), b: usize, x: usize, y: usize) -> Option<f32> {
    let v = ortho_value(b, x, y);
    (v != 0).then(|| ((v as f64 - lo) / (hi - lo)).clamp(0.0, 1.0) as f32)
}

#[test]
fn float32_output_is_rescaled_with_nan_nodata_and_keeps_georeferencing() {
    let dir = tempfile::tempdir().unwrap();
    let (ms, ortho) = inputs(dir.path());
    let out = dir.path().join("out.tif");
    let o = normalize(&ms, &ortho, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let bands = report["bands"].as_array().unwrap();
    assert_eq!(bands.len(), 4);
    let mut valid = ms_valid(2, MS_SIZE);
    assert_eq!(bands[1]["validPixels"], valid.len());
    assert_eq!(bands[1]["min"], percentile(&mut valid, 0.02));
    assert_eq!(bands[1]["max"], percentile(&mut valid, 0.98));
    assert!(!dir.path().join("out.tif.partial").exists());

    let ds = Dataset::open(&out).unwrap();
    assert_eq!(ds.raster_size(), ORTHO_SIZE);
    assert_eq!(ds.raster_count(), 4);
    assert_eq!(ds.geo_transform().unwrap(), GEOTRANSFORM);
    assert_eq!(ds.spatial_ref().unwrap().auth_code().unwrap(), 32631);
    assert_eq!(
        ds.metadata_item("ACQUISITION", "").as_deref(),
        Some("synthetic")
    );
    assert_eq!(
        ds.metadata_item("COMPRESSION", "IMAGE_STRUCTURE")
            .as_deref(),
        Some("ZSTD")
    );
    let (w, h) = ORTHO_SIZE;
    let (mut nan, mut seen_0, mut seen_1) = (0, false, false);
    for b in 1..=4 {
        let band = ds.rasterband(b).unwrap();
        assert_eq!(band.description().unwrap(), format!("B{b}"));
        assert_eq!(band.block_size(), (256, 256));
        assert!(band.no_data_value().unwrap().is_nan());
        let data = band.read_as::<f32>((0, 0), (w, h), (w, h), None).unwrap();
        let r = range(b);
        for y in 0..h {
            for x in 0..w {
                let got = data.data()[y * w + x];
                match expected(r, b, x, y) {
                    None => {
                        assert!(got.is_nan(), "band {b} ({x},{y}) = {got}");
                        nan += 1;
                    }
                    Some(want) => {
                        assert!((0.0..=1.0).contains(&got));
                        assert!(
                            (got - want).abs() < 1e-6,
                            "band {b} ({x},{y}): {got} vs {want}"
                        );
                        seen_0 |= got == 0.0;
                        seen_1 |= got == 1.0;
                    }
                }
            }
        }
    }
    assert_eq!(nan, 4 * 3 * h);
    assert!(seen_0 && seen_1, "the pattern exercises both clamps");
}

#[test]
fn uint16_output_is_scaled_by_10000_with_nodata_0() {
    let dir = tempfile::tempdir().unwrap();
    let (ms, ortho) = inputs(dir.path());
    let out = dir.path().join("out16.tif");
    let o = normalize(&ms, &ortho, &out, &["--output", "uint16"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ds = Dataset::open(&out).unwrap();
    let band = ds.rasterband(3).unwrap();
    assert_eq!(band.band_type(), gdal::raster::GdalDataType::UInt16);
    assert_eq!(band.no_data_value(), Some(0.0));
    let (w, h) = ORTHO_SIZE;
    let data = band.read_as::<u16>((0, 0), (w, h), (w, h), None).unwrap();
    let r = range(3);
    for y in 0..h {
        for x in 0..w {
            let got = data.data()[y * w + x];
            match expected(r, 3, x, y) {
                None => assert_eq!(got, 0),
                Some(want) => {
                    let want = ((want * 10000.0).round() as u16).max(1);
                    assert_eq!(got, want, "({x},{y})");
                }
            }
        }
    }
}

#[test]
fn band_count_mismatch_names_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let (ms, _) = inputs(dir.path());
    let ortho3 = dir.path().join("ortho3.tif");
    write_u16(
        &ortho3,
        &Spec {
            size: (10, 10),
            bands: 3,
            nodata: None,
            georef: true,
            value: &ortho_value,
        },
    );
    let out = dir.path().join("out.tif");
    let o = normalize(&ms, &ortho3, &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Expected the ortho image"), "{err}");
    assert!(
        err.contains("ortho3.tif") && err.contains("ms.tif"),
        "{err}"
    );
    assert!(err.contains("(4), but it has 3"), "{err}");
    assert!(!out.exists());
}

#[test]
fn ortho_without_georeferencing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ms, _) = inputs(dir.path());
    let plain = dir.path().join("plain.tif");
    write_u16(
        &plain,
        &Spec {
            size: (10, 10),
            bands: 4,
            nodata: None,
            georef: false,
            value: &ortho_value,
        },
    );
    let o = normalize(&ms, &plain, &dir.path().join("o.tif"), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("plain.tif to be georeferenced"), "{err}");
}

#[test]
fn ms_band_without_valid_pixel_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_, ortho) = inputs(dir.path());
    let ms = dir.path().join("empty3.tif");
    let value = |b: usize, x: usize, y: usize| if b == 3 { 0 } else { ms_value(b, x, y) };
    write_u16(
        &ms,
        &Spec {
            size: (10, 10),
            bands: 4,
            nodata: Some(0.0),
            georef: false,
            value: &value,
        },
    );
    let o = normalize(&ms, &ortho, &dir.path().join("o.tif"), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("band 3 of the MS image") && err.contains("empty3.tif"),
        "{err}"
    );
}

#[test]
fn unreadable_input_and_unwritable_output_exit_1_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (ms, ortho) = inputs(dir.path());
    let missing = dir.path().join("missing.tif");
    let o = normalize(&missing, &ortho, &dir.path().join("o.tif"), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Expected to read") && err.contains("missing.tif"),
        "{err}"
    );

    let garbage = dir.path().join("garbage.tif");
    std::fs::write(&garbage, b"not a tiff").unwrap();
    let o = normalize(&ms, &garbage, &dir.path().join("o.tif"), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Expected to open") && err.contains("garbage.tif"),
        "{err}"
    );

    let out = dir.path().join("no-such-dir").join("o.tif");
    let o = normalize(&ms, &ortho, &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Expected to create the output") && err.contains("no-such-dir"),
        "{err}"
    );
}

#[test]
fn argument_errors_exit_2() {
    let o = run(&[Path::new("--in_ms"), Path::new("a.tif")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--in_ortho"));
    let o = normalize(
        Path::new("a"),
        Path::new("b"),
        Path::new("c"),
        &["--output", "int8"],
    );
    assert_eq!(o.status.code(), Some(2));
}

/// An odd-sized ortho image (not a multiple of the 256-pixel tile; wider than one 2048-column window) and the MS image.
fn odd_inputs(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (ms, _) = inputs(dir);
    let ortho = dir.join("odd.tif");
    write_u16(
        &ortho,
        &Spec {
            size: ODD_SIZE,
            bands: 4,
            nodata: Some(0.0),
            georef: true,
            value: &ortho_value,
        },
    );
    (ms, ortho)
}

/// Runs `normalize-product --in_ms MS --in_ortho ORTHO --out OUT` followed by `extra`.
fn normalize(ms: &Path, ortho: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        Path::new("--in_ms"),
        ms,
        Path::new("--in_ortho"),
        ortho,
        Path::new("--out"),
        out,
    ];
    args.extend(extra.iter().map(Path::new));
    run(&args)
}

const ODD_SIZE: (usize, usize) = (2311, 517);

fn normalize_odd(ms: &Path, ortho: &Path, out: &Path, output: &str, threads: &str) {
    let o = normalize(ms, ortho, out, &["--output", output, "--threads", threads]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn pipelined_writer_equals_the_sequential_one_on_an_odd_sized_image() {
    let dir = tempfile::tempdir().unwrap();
    let (ms, ortho) = odd_inputs(dir.path());
    let (w, h) = ODD_SIZE;
    for output in ["float32", "uint16"] {
        let seq = dir.path().join(format!("seq_{output}.tif"));
        let pip = dir.path().join(format!("pip_{output}.tif"));
        normalize_odd(&ms, &ortho, &seq, output, "1");
        normalize_odd(&ms, &ortho, &pip, output, "2");
        let (seq, pip) = (Dataset::open(&seq).unwrap(), Dataset::open(&pip).unwrap());
        assert_eq!(pip.raster_size(), ODD_SIZE);
        assert_eq!(pip.geo_transform().unwrap(), GEOTRANSFORM);
        for b in 1..=4 {
            let a = seq.rasterband(b).unwrap();
            let p = pip.rasterband(b).unwrap();
            assert_eq!(p.block_size(), (256, 256));
            let a = a.read_as::<f32>((0, 0), (w, h), (w, h), None).unwrap();
            let p = p.read_as::<f32>((0, 0), (w, h), (w, h), None).unwrap();
            let r = range(b);
            for (i, (x, y)) in (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).enumerate() {
                let (got, seq_got) = (p.data()[i], a.data()[i]);
                assert_eq!(
                    got.to_bits(),
                    seq_got.to_bits(),
                    "{output} band {b} ({x},{y})"
                );
                let want = expected(r, b, x, y);
                match (output, want) {
                    ("float32", None) => assert!(got.is_nan(), "band {b} ({x},{y}) = {got}"),
                    ("float32", Some(want)) => {
                        assert!(
                            (got - want).abs() < 1e-6,
                            "band {b} ({x},{y}): {got} vs {want}"
                        )
                    }
                    (_, None) => assert_eq!(got, 0.0, "band {b} ({x},{y})"),
                    (_, Some(want)) => {
                        let want = ((want * 10000.0).round()).max(1.0);
                        assert!(
                            (got - want).abs() <= 1.0,
                            "band {b} ({x},{y}): {got} vs {want}"
                        )
                    }
                }
            }
        }
    }
}

#[test]
fn a_read_failure_in_the_reader_thread_names_the_ortho_file_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let (ms, ortho) = odd_inputs(dir.path());
    // Cut the uncompressed pixels short: the header and first rows read, a later window does not.
    let len = std::fs::metadata(&ortho).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&ortho)
        .unwrap();
    file.set_len(len / 2).unwrap();
    drop(file);
    for threads in ["1", "2"] {
        let out = dir.path().join(format!("cut{threads}.tif"));
        let o = normalize(&ms, &ortho, &out, &["--threads", threads]);
        assert_eq!(o.status.code(), Some(1), "threads {threads}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("Expected to read band") && err.contains("odd.tif"),
            "{err}"
        );
        assert!(!out.exists());
        assert!(!dir
            .path()
            .join(format!("cut{threads}.tif.partial"))
            .exists());
    }
}

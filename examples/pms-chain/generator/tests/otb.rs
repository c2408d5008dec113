//! The generated pair through real Orfeo Toolbox, as the chain of issue 5 runs it: BundleToPerfectSensor, then
//! OrthoRectification with the P image's `.geom`, without and with the DEM. OTB is a project dependency
//! (scripts/install-deps.sh), so a missing `otbcli_*` fails these tests rather than skipping them.

use std::path::Path;
use std::process::Command;

use apsis_pms_generator::{generate, Pair, PairSpec};
use gdal::{Dataset, Metadata};

const NO_SENSOR_MODEL: &str = "could not find a compatible Sensor Transform";

/// Runs an OTB application without a shell, bounded in memory, and returns its log (stdout + stderr).
fn otb(app: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(format!("otbcli_{app}"))
        .args(args)
        .current_dir(dir)
        .env("GDAL_CACHEMAX", "64")
        .output()
        .unwrap_or_else(|e| {
            panic!("Expected to run otbcli_{app} (scripts/install-deps.sh installs it), but {e}")
        });
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "otbcli_{app} {args:?} exited with {}:\n{log}",
        out.status
    );
    log
}

/// Share of pixels that are valid (non-zero in band 1), and the zero-ness of each of the first `cols` columns.
fn validity(path: &Path, cols: usize) -> (f64, Vec<bool>) {
    let ds = Dataset::open(path).unwrap();
    let band = ds.rasterband(1).unwrap();
    let (w, h) = band.size();
    let px = band.read_as::<u16>((0, 0), (w, h), (w, h), None).unwrap();
    let valid = px.data().iter().filter(|&&v| v != 0).count() as f64 / (w * h) as f64;
    let zero_columns = (0..cols)
        .map(|c| (0..h).all(|r| px.data()[r * w + c] == 0))
        .collect();
    (valid, zero_columns)
}

fn pair(dir: &Path, dem: bool) -> Pair {
    generate(
        dir,
        &PairSpec {
            size: 400,
            seed: 11,
            dem,
            ..PairSpec::default()
        },
    )
    .unwrap()
}

fn bundle(dir: &Path, pair: &Pair) -> String {
    let (p, ms) = (pair.pan.to_str().unwrap(), pair.ms.to_str().unwrap());
    otb(
        "BundleToPerfectSensor",
        &[
            "-inp",
            p,
            "-inxs",
            ms,
            "-out",
            "bundle.tif",
            "uint16",
            "-ram",
            "128",
        ],
        dir,
    )
}

#[test]
fn otb_bundles_the_pair_exactly_and_orthorectifies_it_with_and_without_the_dem() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pair = pair(dir, true);

    let log = bundle(dir, &pair);
    assert!(
        !log.contains(NO_SENSOR_MODEL),
        "OTB found no sensor model:\n{log}"
    );
    let ds = Dataset::open(dir.join("bundle.tif")).unwrap();
    assert_eq!((ds.raster_size(), ds.raster_count()), ((400, 400), 4));
    // The P NoData strip is 8 columns (2 MS pixels): if the MS did not cover the P footprint exactly, the bundle's
    // strip would be wider or narrower.
    let (valid, zero_columns) = validity(&dir.join("bundle.tif"), 10);
    assert!(
        valid > 0.97,
        "only {:.1} % of the bundle is valid",
        valid * 100.0
    );
    assert_eq!(
        zero_columns,
        [true, true, true, true, true, true, true, true, false, false]
    );

    let geom = format!("bundle.tif?&geom={}", pair.pan_geom.to_str().unwrap());
    let mut origins = Vec::new();
    for dem in [None, pair.dem_dir.as_ref()] {
        let mut args = vec![
            "-io.in",
            &geom,
            "-io.out",
            "ortho.tif",
            "uint16",
            "-opt.ram",
            "128",
        ];
        if let Some(dem) = dem {
            args.extend(["-elev.dem", dem.to_str().unwrap()]);
        }
        let log = otb("OrthoRectification", &args, dir);
        assert_eq!(dem.is_some(), log.contains("1 DEM found"), "{log}");
        let ds = Dataset::open(dir.join("ortho.tif")).unwrap();
        let gt = ds.geo_transform().unwrap();
        assert!(
            (gt[1] - 0.5).abs() < 0.01 && (gt[5] + 0.5).abs() < 0.01,
            "ortho pixel is not ~0.5 m: {gt:?}"
        );
        let srs = ds.spatial_ref().unwrap();
        assert_eq!(
            srs.auth_code().unwrap(),
            32631,
            "Toulouse should be in UTM 31N"
        );
        let (valid, _) = validity(&dir.join("ortho.tif"), 0);
        assert!(
            valid > 0.9,
            "only {:.1} % of the ortho image is valid (DEM {dem:?})",
            valid * 100.0
        );
        origins.push(gt[0]);
    }
    // Terrain ~150 m above the ellipsoid seen 5 degrees off nadir: the DEM moves the image ~13 m west.
    let shift = origins[0] - origins[1];
    assert!(
        (8.0..20.0).contains(&shift),
        "the DEM moved the ortho image by {shift} m"
    );
}

#[test]
fn otb_reads_the_rpc_tags_without_sidecars_and_warns_once_they_are_hidden() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pair = pair(dir, false);
    std::fs::remove_file(&pair.pan_geom).unwrap();
    std::fs::remove_file(&pair.ms_geom).unwrap();
    let log = bundle(dir, &pair);
    assert!(
        !log.contains(NO_SENSOR_MODEL),
        "OTB ignored the RPC tags:\n{log}"
    );
    assert!(validity(&dir.join("bundle.tif"), 0).0 > 0.97);

    // Control: without METADATATYPE=OTB the same tags are invisible to OTB, which says so and writes a mostly empty
    // image with exit code 0 -- the trap the chain's otbcli function must catch.
    for image in [&pair.pan, &pair.ms] {
        let mut ds = Dataset::open_ex(
            image,
            gdal::DatasetOptions {
                open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE,
                ..Default::default()
            },
        )
        .unwrap();
        ds.set_metadata_item("METADATATYPE", "", "").unwrap();
    }
    let log = bundle(dir, &pair);
    assert!(log.contains(NO_SENSOR_MODEL), "{log}");
    assert!(validity(&dir.join("bundle.tif"), 0).0 < 0.5);
}

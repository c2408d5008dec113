//! The generator as users run it: determinism by seed, and clear refusals of bad arguments.

use std::process::Command;

use apsis_pms_generator::{generate, pixel_checksum, PairSpec};

fn checksums(spec: &PairSpec) -> (u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let pair = generate(dir.path(), spec).unwrap();
    (
        pixel_checksum(&pair.pan).unwrap(),
        pixel_checksum(&pair.ms).unwrap(),
    )
}

#[test]
fn the_same_seed_gives_byte_identical_pixels_and_another_seed_does_not() {
    let spec = PairSpec {
        size: 320,
        seed: 7,
        ..PairSpec::default()
    };
    let first = checksums(&spec);
    assert_eq!(first, checksums(&spec));
    // The centre and the DEM only change the sensor model and the extra files, never the pixels.
    assert_eq!(
        first,
        checksums(&PairSpec {
            lat: -33.9,
            lon: 18.4,
            dem: true,
            ..spec.clone()
        })
    );
    let other = checksums(&PairSpec {
        seed: 8,
        ..spec.clone()
    });
    assert!(
        first.0 != other.0 && first.1 != other.1,
        "seeds 7 and 8 gave {first:x?} and {other:x?}"
    );
    let cloudy = checksums(&PairSpec {
        clouds: true,
        ..spec
    });
    assert!(first.0 != cloudy.0, "clouds changed nothing");
}

#[test]
fn the_binary_writes_a_pair_and_prints_its_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pms-generate"))
        .args([
            "--size",
            "128",
            "--seed",
            "3",
            "--dem",
            "--checksum",
            "--out",
        ])
        .arg(dir.path().join("pair"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "IMG_P.TIF",
        "IMG_MS.TIF",
        "IMG_P.geom",
        "IMG_MS.geom",
        "dem/dem.tif",
    ] {
        assert!(
            dir.path().join("pair").join(file).is_file(),
            "no {file}; stdout: {stdout}"
        );
    }
    let expected = checksums(&PairSpec {
        size: 128,
        seed: 3,
        ..PairSpec::default()
    });
    assert!(
        stdout.contains(&format!("checksum P  {:016x}", expected.0)),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("checksum MS {:016x}", expected.1)),
        "{stdout}"
    );
}

fn refused(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pms-generate"))
        .args(args)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} was accepted");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "{args:?} wrote files before failing"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_arguments_are_refused_with_a_reason_and_nothing_written() {
    let stderr = refused(&["--out", "x", "--size", "402"]);
    assert!(
        stderr.contains(
            "Expected the P image size to be a multiple of 4 between 64 and 100000, but it is 402"
        ),
        "{stderr}"
    );
    let stderr = refused(&["--out", "x", "--lat", "95"]);
    assert!(
        stderr.contains("Expected a latitude within [-80, 80]"),
        "{stderr}"
    );
    let stderr = refused(&["--size", "400"]);
    assert!(stderr.contains("--out"), "{stderr}");
    let stderr = refused(&["--out", "x", "--size", "big"]);
    assert!(stderr.contains("invalid value 'big'"), "{stderr}");
}

//! Real OTB through the real HTTP function: a successful orthorectification, a corrupt input, OTB's silent
//! sensor-transform failure, and what a run that lies (exit 0, bad or missing output) or hangs gets.

mod common;

use common::{error_of, fake_app, gdal, log_of, utm_image, Fixture};

#[tokio::test]
async fn orthorectification_succeeds_and_reports_the_output() {
    let f = Fixture::start(false, &[]).await;
    utm_image(&f.root.join("utm.tif"));
    let (status, answer) = f
        .call(&[
            "otbcli_OrthoRectification",
            "-io.in",
            &f.path("utm.tif"),
            "-io.out",
            &f.path("ortho.tif"),
            "uint16",
        ])
        .await;
    assert_eq!(status, 200, "{answer}");
    let output = &answer["outputs"][0];
    assert_eq!(output["path"], f.path("ortho.tif"));
    assert_eq!(
        (output["width"].as_u64(), output["height"].as_u64()),
        (Some(64), Some(64))
    );
    assert_eq!(output["bands"], 1);
    assert_eq!(output["dataType"], "UInt16");
    assert!(answer["durationSeconds"].as_f64().unwrap() > 0.0);
    // The -opt.ram default reached OTB.
    assert!(
        log_of(&answer).contains("(avail.: 128 MB)"),
        "{}",
        log_of(&answer)
    );
}

#[tokio::test]
async fn a_corrupt_input_fails_with_otbs_message() {
    let f = Fixture::start(false, &[]).await;
    std::fs::write(f.root.join("corrupt.tif"), b"II*\0 this is not an image").unwrap();
    let (status, answer) = f
        .call(&[
            "otbcli_OrthoRectification",
            "-io.in",
            &f.path("corrupt.tif"),
            "-io.out",
            &f.path("o.tif"),
        ])
        .await;
    assert_eq!(status, 500, "{answer}");
    let error = error_of(&answer);
    assert!(
        error.starts_with(
            "Expected otbcli_OrthoRectification to succeed, but it exited with code 1"
        ),
        "{error}"
    );
    assert!(
        error.contains("(FATAL)") && error.contains("corrupt.tif"),
        "{error}"
    );
    assert!(log_of(&answer).contains("corrupt.tif"));
}

#[tokio::test]
async fn the_sensor_transform_warning_is_a_failure_even_with_exit_code_0() {
    let f = Fixture::start(false, &[]).await;
    let p = f.root.join("p.tif");
    let ms = f.root.join("ms.tif");
    for (path, size, bands) in [(&p, "64", "1"), (&ms, "16", "4")] {
        let path = path.to_str().unwrap();
        gdal(
            "gdal_create",
            &[
                "-of", "GTiff", "-outsize", size, size, "-bands", bands, "-ot", "UInt16", "-burn",
                "7", path,
            ],
        );
    }
    let (status, answer) = f
        .call(&[
            "otbcli_BundleToPerfectSensor",
            "-inp",
            &f.path("p.tif"),
            "-inxs",
            &f.path("ms.tif"),
            "-out",
            &f.path("bundle.tif"),
            "uint16",
        ])
        .await;
    assert_eq!(status, 500, "{answer}");
    let error = error_of(&answer);
    assert!(error.contains("otbcli_BundleToPerfectSensor"), "{error}");
    assert!(
        error.contains("exited with code 0 after logging a failure"),
        "{error}"
    );
    assert!(
        error.contains("could not find a compatible Sensor Transform"),
        "{error}"
    );
    // The -ram default (BundleToPerfectSensor's flag) reached OTB.
    assert!(
        log_of(&answer).contains("(avail.: 128 MB)"),
        "{}",
        log_of(&answer)
    );
}

#[tokio::test]
async fn exit_code_0_is_not_enough_without_a_good_output() {
    let f = Fixture::start(true, &[]).await;
    fake_app(
        &f.fake_bin,
        "Warns",
        "echo '(WARNING): could not find a compatible Sensor Transform' >&2; exit 0",
    );
    fake_app(&f.fake_bin, "Nothing", "echo done; exit 0");
    fake_app(
        &f.fake_bin,
        "Garbage",
        "[ \"$1\" = -help ] && exit 1; echo garbage > \"$2\"; exit 0",
    );
    let out = f.path("out.tif");
    let (status, answer) = f.call(&["otbcli_Warns", "-out", &out]).await;
    assert_eq!(status, 500, "{answer}");
    assert!(error_of(&answer).contains("Sensor Transform"), "{answer}");
    let (status, answer) = f.call(&["otbcli_Nothing", "-out", &out]).await;
    assert_eq!(status, 500, "{answer}");
    assert!(
        error_of(&answer).contains(&format!("its output {out} (-out) does not exist")),
        "{answer}"
    );
    let (status, answer) = f.call(&["otbcli_Garbage", "-out", &out]).await;
    assert_eq!(status, 500, "{answer}");
    assert!(
        error_of(&answer).contains("does not open with GDAL"),
        "{answer}"
    );
    assert_eq!(log_of(&answer), "");
}

#[tokio::test]
async fn a_run_past_the_timeout_is_killed_with_its_children() {
    let f = Fixture::start(true, &[("APSIS_OTB_TIMEOUT_SECONDS", "1")]).await;
    let marker = f.path("child-survived");
    // The child outlives its parent unless the whole process group is killed.
    fake_app(
        &f.fake_bin,
        "Hangs",
        &format!("[ \"$1\" = -help ] && exit 1; (sleep 3; touch {marker}) & sleep 30"),
    );
    let started = std::time::Instant::now();
    let (status, answer) = f.call(&["otbcli_Hangs"]).await;
    assert_eq!(status, 500, "{answer}");
    assert!(
        error_of(&answer).contains("finish within 1 s, but it was still running and was killed"),
        "{answer}"
    );
    assert!(started.elapsed().as_secs() < 10);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(
        !std::path::Path::new(&marker).exists(),
        "the app's child was not killed"
    );
}

//! What may not run is refused with 400 and one sentence, and nothing runs: every request here goes to a fake
//! application that would leave a marker file, and the marker must never appear.

mod common;

use common::{error_of, fake_app, Fixture};

#[tokio::test]
async fn paths_outside_the_roots_and_foreign_programs_are_refused_before_anything_runs() {
    let f = Fixture::start(true, &[]).await;
    let marker = f.dir.path().join("ran");
    fake_app(
        &f.fake_bin,
        "Marker",
        &format!("touch {}", marker.display()),
    );
    std::fs::write(f.root.join("in.tif"), b"x").unwrap();
    std::os::unix::fs::symlink("/etc", f.root.join("etc-link")).unwrap();
    let inside = f.path("in.tif");
    let link_out = f.path("etc-link/passwd");
    let geom_out = format!("{inside}?&geom=/etc/x");
    let unknown_option = format!("{inside}?&lut=/x");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["otbcli_Marker", "-in", "../../etc/passwd"],
            "contains a '..' component",
        ),
        (
            vec!["otbcli_Marker", "-in", "/etc/passwd"],
            "'/etc/passwd' of -in to be inside the data roots",
        ),
        (
            vec!["otbcli_Marker", "-in", &link_out],
            "but it resolves to /etc/passwd",
        ),
        (
            vec!["otbcli_Marker", "-in", "etc-link"],
            "but it resolves to /etc",
        ),
        (
            vec!["otbcli_Marker", "-out", "/tmp/elsewhere.tif"],
            "of -out to be inside the data roots",
        ),
        (
            vec!["otbcli_Marker", "-in", &geom_out],
            "'/etc/x' of -in (option geom)",
        ),
        (
            vec!["otbcli_Marker", "-in", &unknown_option],
            "but found 'lut'",
        ),
        (
            vec!["otbcli_Marker", "-in", "/vsicurl/http://example.org/a.tif"],
            "APSIS_ALLOWED_VSI does not allow",
        ),
        (
            vec!["otbcli_Marker", "-inxml", &inside],
            "Expected no -inxml parameter",
        ),
        (
            vec!["rm", "-rf", &inside],
            "Expected argv[0] to be an OTB application name",
        ),
        (vec!["/bin/sh", "-c", "touch /tmp/x"], "but found '/bin/sh'"),
        (vec!["otbcli_../x"], "but found 'otbcli_../x'"),
        (
            vec!["otbcli_NotInstalled"],
            "Expected otbcli_NotInstalled to be an OTB application installed in",
        ),
        (vec![], "but it is empty"),
    ];
    for (argv, why) in &cases {
        let (status, answer) = f.call(argv).await;
        assert_eq!(status, 400, "{argv:?}: {answer}");
        let error = error_of(&answer);
        assert!(error.starts_with("Expected "), "{error}");
        assert!(error.contains(why), "{argv:?}: {error}");
    }
    assert!(!marker.exists(), "a refused request ran");
    // The same app with confined paths does run: the marker is a real witness.
    let (status, answer) = f.call(&["otbcli_Marker", "-in", &inside]).await;
    assert_eq!(status, 200, "{answer}");
    assert!(marker.exists());
}

#[tokio::test]
async fn a_body_that_is_not_an_argv_is_refused() {
    let f = Fixture::start(true, &[]).await;
    let response = f
        .client
        .post(format!("http://{}/", f.handle.local_addr()))
        .body("{\"args\": []}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("Expected a JSON body"), "{text}");
}

//! Shared by the integration tests: a temporary data root with small images made by GDAL's own tools, a fake OTB
//! bin directory, the function served in-process on a free port, and a plain HTTP client.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use apsis_otbcli::config::Flags;
use apsis_otbcli::{Handle, Options, Service};
use serde_json::Value;
use tempfile::TempDir;

pub struct Fixture {
    pub dir: TempDir,
    pub root: PathBuf,
    pub fake_bin: PathBuf,
    pub handle: Handle,
    pub client: reqwest::Client,
}

/// Runs a GDAL tool; panics with its stderr when it fails.
pub fn gdal(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 64 x 64 UInt16 UTM (EPSG:32631) GeoTIFF at `path`: OrthoRectification needs no sensor model for it.
pub fn utm_image(path: &Path) {
    gdal(
        "gdal_create",
        &[
            "-of",
            "GTiff",
            "-outsize",
            "64",
            "64",
            "-bands",
            "1",
            "-ot",
            "UInt16",
            "-burn",
            "100",
            "-a_srs",
            "EPSG:32631",
            "-a_ullr",
            "300000",
            "5000640",
            "300640",
            "5000000",
            path.to_str().unwrap(),
        ],
    );
}

/// Writes an executable script `otbcli_<name>` into the fake bin directory (a test's stand-in for an OTB app).
pub fn fake_app(fake_bin: &Path, name: &str, script: &str) {
    let path = fake_bin.join(format!("otbcli_{name}"));
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

impl Fixture {
    /// The function with one data root, OTB from `bin_dir` (None: /usr/bin), and extra `APSIS_*` settings.
    pub async fn start(fake_bin_dir: bool, extra: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        let fake_bin = dir.path().join("bin");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&fake_bin).unwrap();
        let mut env: BTreeMap<String, String> = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.insert("APSIS_DATA_ROOTS".into(), root.display().to_string());
        env.insert("APSIS_LISTEN".into(), "127.0.0.1:0".into());
        if fake_bin_dir {
            env.insert("APSIS_OTB_BIN_DIR".into(), fake_bin.display().to_string());
        }
        let options = Options::resolve(&Flags::default(), &env).unwrap();
        let root = options.data_roots.workdir().to_owned();
        let handle = Service::start(options, None).await.unwrap();
        Fixture {
            dir,
            root,
            fake_bin,
            handle,
            client: reqwest::Client::new(),
        }
    }

    pub fn path(&self, name: &str) -> String {
        self.root.join(name).display().to_string()
    }

    /// POSTs `{"argv": argv}` and returns the status and the JSON answer.
    pub async fn call(&self, argv: &[&str]) -> (u16, Value) {
        let body = serde_json::json!({ "argv": argv }).to_string();
        let response = self
            .client
            .post(format!("http://{}/", self.handle.local_addr()))
            .header("X-Call-Id", "test-call")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
        (status, value)
    }
}

/// The answer's `error` sentence.
pub fn error_of(answer: &Value) -> &str {
    answer["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {answer}"))
}

/// The answer's `logTail` joined into one text.
pub fn log_of(answer: &Value) -> String {
    answer["logTail"]
        .as_array()
        .unwrap_or_else(|| panic!("no logTail in {answer}"))
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

//! Checking declared outputs after a run: each must exist, and an image must open with GDAL (`gdalinfo -json`, run
//! as a program: no GDAL library linked into the function, and a crash in a driver cannot take the server down).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;

use crate::validate::Output;

/// How long `gdalinfo` may take on one file.
const GDALINFO_TIMEOUT: Duration = Duration::from_secs(60);

/// An output as reported in the 200 answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OutputInfo {
    pub path: String,
    pub param: String,
    /// Pixels; absent for an output that is not an image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bands: Option<u64>,
    /// GDAL's name of the first band's type (`UInt16`, `Float32`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
}

/// `Err`: why the output does not count (the end of a sentence: "... but {reason}").
pub(crate) async fn check(gdalinfo: &Path, output: &Output) -> Result<OutputInfo, String> {
    let remote = output.path.starts_with("/vsi");
    if !remote && std::fs::metadata(&output.path).is_err() {
        return Err(format!(
            "its output {} (-{}) does not exist",
            output.path, output.param
        ));
    }
    let mut info = OutputInfo {
        path: output.path.clone(),
        param: output.param.clone(),
        width: None,
        height: None,
        bands: None,
        data_type: None,
    };
    if !output.image {
        return Ok(info);
    }
    let mut command = tokio::process::Command::new(gdalinfo);
    command
        .arg("-json")
        .arg(&output.path)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let ran = tokio::time::timeout(GDALINFO_TIMEOUT, command.output()).await;
    let output_text = match ran {
        Err(_) => return Err(format!("gdalinfo on its output {} timed out", output.path)),
        Ok(Err(e)) => {
            return Err(format!(
                "gdalinfo ({}) could not be started to check {}: {e}",
                gdalinfo.display(),
                output.path
            ))
        }
        Ok(Ok(out)) if !out.status.success() => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "its output {} does not open with GDAL: {}",
                output.path,
                stderr.trim()
            ));
        }
        Ok(Ok(out)) => out.stdout,
    };
    let json: serde_json::Value = serde_json::from_slice(&output_text).map_err(|e| {
        format!(
            "gdalinfo printed something other than JSON for {}: {e}",
            output.path
        )
    })?;
    let size = json["size"].as_array();
    info.width = size.and_then(|s| s.first()).and_then(|v| v.as_u64());
    info.height = size.and_then(|s| s.get(1)).and_then(|v| v.as_u64());
    let bands = json["bands"].as_array();
    info.bands = bands.map(|b| b.len() as u64);
    info.data_type = bands
        .and_then(|b| b.first())
        .and_then(|b| b["type"].as_str())
        .map(str::to_owned);
    match (info.width, info.height, info.bands) {
        (Some(w), Some(h), Some(b)) if w > 0 && h > 0 && b > 0 => Ok(info),
        _ => Err(format!(
            "its output {} opens with GDAL but has no pixels or no bands",
            output.path
        )),
    }
}

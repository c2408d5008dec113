//! Checking declared outputs after a run: each must exist, and an image must open with GDAL, in this process (on a
//! blocking thread). It used to run `gdalinfo -json` as a program, which cost ~50 ms of process start and driver
//! registration per output: 4 % of a 2000^2 chain (examples/pms-chain/README.md, "Orchestration overhead"); opening
//! a file GDAL's registered drivers already know takes about a millisecond.

use std::time::Duration;

use serde::Serialize;

use crate::validate::Output;

/// How long opening one output may take (a remote `/vsi` output can be slow).
const OPEN_TIMEOUT: Duration = Duration::from_secs(60);

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
pub(crate) async fn check(output: &Output) -> Result<OutputInfo, String> {
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
    let path = output.path.clone();
    let opened = tokio::time::timeout(
        OPEN_TIMEOUT,
        tokio::task::spawn_blocking(move || describe(&path)),
    )
    .await;
    let (width, height, bands, data_type) = match opened {
        Err(_) => {
            return Err(format!(
                "opening its output {} with GDAL timed out",
                output.path
            ))
        }
        Ok(Err(e)) => return Err(format!("checking its output {} failed: {e}", output.path)),
        Ok(Ok(Err(e))) => {
            return Err(format!(
                "its output {} does not open with GDAL: {e}",
                output.path
            ))
        }
        Ok(Ok(Ok(described))) => described,
    };
    info.width = Some(width);
    info.height = Some(height);
    info.bands = Some(bands);
    info.data_type = data_type;
    if width > 0 && height > 0 && bands > 0 {
        Ok(info)
    } else {
        Err(format!(
            "its output {} opens with GDAL but has no pixels or no bands",
            output.path
        ))
    }
}

/// Width, height, band count and the first band's GDAL type name of the raster at `path`.
fn describe(path: &str) -> Result<(u64, u64, u64, Option<String>), gdal::errors::GdalError> {
    let dataset = gdal::Dataset::open(path)?;
    let (width, height) = dataset.raster_size();
    let bands = dataset.raster_count();
    let data_type = if bands > 0 {
        Some(dataset.rasterband(1)?.band_type().name())
    } else {
        None
    };
    Ok((width as u64, height as u64, bands as u64, data_type))
}

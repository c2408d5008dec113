//! Checks of the chain's outputs with `gdalinfo -json -stats` (GDAL's own reading of the files, as a process): each
//! a GeoTIFF with pixels, the ortho-rectified image and the product georeferenced, the product Float32 with every
//! band's values within [0, 1] and NaN as NoData.

use std::path::Path;
use std::process::Stdio;

use anyhow::{bail, Context as _};
use serde_json::Value;

/// What was checked of one file, for the summary.
#[derive(Debug, Clone)]
pub struct Checked {
    pub width: u64,
    pub height: u64,
    pub bands: usize,
    pub data_type: String,
    /// The CRS's name, when georeferenced.
    pub crs: Option<String>,
    /// Per band (min, max) from the statistics.
    pub ranges: Vec<(f64, f64)>,
}

/// Runs `gdalinfo -json -stats` on `path` (without writing a `.aux.xml` next to it).
async fn gdalinfo(path: &Path) -> anyhow::Result<Value> {
    let output = tokio::process::Command::new("gdalinfo")
        .args(["-json", "-stats"])
        .arg(path)
        .env("GDAL_PAM_ENABLED", "NO")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .context("Expected to run gdalinfo (GDAL's command-line tools: apt-get install gdal-bin), but could not")?;
    if !output.status.success() {
        bail!(
            "Expected gdalinfo to read {}, but it failed ({}): {}",
            path.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "Expected gdalinfo -json to print JSON for {}, but it did not",
            path.display()
        )
    })
}

/// Checks `path`: a GeoTIFF with pixels; georeferenced if `georeferenced`.
pub async fn image(path: &Path, georeferenced: bool) -> anyhow::Result<Checked> {
    Ok(read(path, georeferenced).await?.0)
}

async fn read(path: &Path, georeferenced: bool) -> anyhow::Result<(Checked, Value)> {
    let info = gdalinfo(path).await?;
    let name = path.display();
    let driver = info["driverShortName"].as_str().unwrap_or("");
    if driver != "GTiff" {
        bail!("Expected {name} to be a GeoTIFF, but GDAL reads it as '{driver}'");
    }
    let size = info["size"].as_array().cloned().unwrap_or_default();
    let (width, height) = match size.as_slice() {
        [w, h] => (w.as_u64().unwrap_or(0), h.as_u64().unwrap_or(0)),
        _ => (0, 0),
    };
    let bands = info["bands"].as_array().cloned().unwrap_or_default();
    if width == 0 || height == 0 || bands.is_empty() {
        bail!(
            "Expected {name} to have pixels, but it is {width} x {height} with {} bands",
            bands.len()
        );
    }
    let wkt = info
        .pointer("/coordinateSystem/wkt")
        .and_then(Value::as_str)
        .unwrap_or("");
    let crs = (!wkt.is_empty() && info.get("geoTransform").is_some()).then(|| crs_name(wkt));
    if georeferenced && crs.is_none() {
        bail!("Expected {name} to be georeferenced (a CRS and a geotransform), but it is not");
    }
    let mut ranges = Vec::new();
    for (i, band) in bands.iter().enumerate() {
        let min = band["minimum"].as_f64();
        let max = band["maximum"].as_f64();
        match (min, max) {
            (Some(min), Some(max)) => ranges.push((min, max)),
            _ => bail!("Expected statistics of band {} of {name}, but gdalinfo gave none (no valid pixel?)", i + 1),
        }
    }
    let checked = Checked {
        width,
        height,
        bands: bands.len(),
        data_type: bands[0]["type"].as_str().unwrap_or("?").to_owned(),
        crs,
        ranges,
    };
    Ok((checked, info))
}

/// Checks the product: georeferenced, Float32, values within [0, 1], NoData NaN, the ortho image's size.
pub async fn product(path: &Path, ortho: &Checked) -> anyhow::Result<Checked> {
    let (checked, info) = read(path, true).await?;
    let name = path.display();
    if checked.data_type != "Float32" {
        bail!(
            "Expected {name} to be Float32, but it is {}",
            checked.data_type
        );
    }
    if (checked.width, checked.height, checked.bands) != (ortho.width, ortho.height, ortho.bands) {
        bail!(
            "Expected {name} to be {} x {} with {} bands like ortho.tif, but it is {} x {} with {}",
            ortho.width,
            ortho.height,
            ortho.bands,
            checked.width,
            checked.height,
            checked.bands
        );
    }
    for (i, (min, max)) in checked.ranges.iter().enumerate() {
        if *min < 0.0 || *max > 1.0 {
            bail!(
                "Expected band {} of {name} within [0, 1], but it spans [{min}, {max}]",
                i + 1
            );
        }
    }
    for (i, band) in info["bands"].as_array().into_iter().flatten().enumerate() {
        let nodata = &band["noDataValue"];
        let nan = nodata
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("nan"))
            || nodata.as_f64().is_some_and(f64::is_nan);
        if !nan {
            bail!(
                "Expected band {} of {name} to have NaN as NoData, but its NoData is {nodata}",
                i + 1
            );
        }
    }
    Ok(checked)
}

/// `PROJCRS["WGS 84 / UTM zone 31N", ...` -> `WGS 84 / UTM zone 31N`.
fn crs_name(wkt: &str) -> String {
    wkt.split_once('"')
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or_else(|| "a CRS".to_owned(), |(name, _)| name.to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn crs_names_come_from_the_wkt() {
        assert_eq!(
            super::crs_name("PROJCRS[\"WGS 84 / UTM zone 31N\",BASEGEOGCRS[\"WGS 84\"]]"),
            "WGS 84 / UTM zone 31N"
        );
        assert_eq!(super::crs_name("LOCAL_CS[]"), "a CRS");
    }
}

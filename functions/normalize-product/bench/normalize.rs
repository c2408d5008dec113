//! Benchmark (prints figures, asserts nothing): for each size N (default 2000 and 8000; `NORMALIZE_BENCH_SIZES=2000`),
//! generates an N x N 4-band UInt16 ortho image and an (N/4)^2 MS image, then runs side by side
//! normalize-product, the block-wise Python/GDAL reference (`bench/normalize_ref.py`, /usr/bin/python3) and plain
//! `gdal_translate -ot Float32` of the ortho image, printing each one's wall time and peak RSS (VmHWM of the child,
//! sampled every 5 ms until it exits).
//!
//! `cargo bench -p apsis-normalize-product --bench normalize` (files under $NORMALIZE_BENCH_DIR, default a temp dir;
//! inputs in a given directory are kept and reused by the next run).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use gdal::raster::Buffer;
use gdal::DriverManager;

const BANDS: usize = 4;

/// A cheap deterministic hash of a pixel, for texture.
fn hash(x: usize, y: usize, seed: u64) -> u64 {
    let mut h = (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ seed;
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 32)
}

/// A scene in ground units (one unit = one ortho pixel): parcels with their own reflectance per band, a smooth
/// illumination gradient, sensor noise, and NoData (0) outside a tilted footprint, as an orthorectified image has.
fn scene(b: usize, gx: usize, gy: usize, n: usize) -> u16 {
    if gx + gy < n / 8 || (n - gx) + (n - gy) < n / 8 {
        return 0;
    }
    let parcel = hash(gx / 97 + (gy / 61) * 7, gy / 61, b as u64);
    let base = 200 + (parcel % 2400) as i64 + (b as i64) * 150;
    let gradient = ((gx + gy) * 400 / (2 * n)) as i64;
    let noise = (hash(gx, gy, 17 + b as u64) % 101) as i64 - 50;
    (base + gradient + noise).clamp(1, 4095) as u16
}

/// Writes a `size` x `size` image whose pixel (x, y) shows the scene at (x * scale, y * scale), 256 rows at a time.
fn generate(path: &Path, size: usize, scale: usize, n: usize) {
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<u16, _>(path, size, size, BANDS)
        .unwrap();
    ds.set_geo_transform(&[
        600_000.0,
        0.5 * scale as f64,
        0.0,
        4_900_000.0,
        0.0,
        -0.5 * scale as f64,
    ])
    .unwrap();
    ds.set_projection(
        &gdal::spatial_ref::SpatialRef::from_epsg(32631)
            .unwrap()
            .to_wkt()
            .unwrap(),
    )
    .unwrap();
    for b in 1..=BANDS {
        ds.rasterband(b)
            .unwrap()
            .set_no_data_value(Some(0.0))
            .unwrap();
    }
    let mut row = 0;
    while row < size {
        let rows = 256.min(size - row);
        for b in 1..=BANDS {
            let data = (row..row + rows)
                .flat_map(|y| (0..size).map(move |x| scene(b, x * scale, y * scale, n)))
                .collect();
            let mut buf = Buffer::new((size, rows), data);
            ds.rasterband(b)
                .unwrap()
                .write((0, row as isize), (size, rows), &mut buf)
                .unwrap();
        }
        row += rows;
    }
}

/// Runs `cmd`, returning (wall seconds, peak RSS in MB).
fn measure(cmd: &mut Command) -> (f64, f64) {
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            {
                peak_kb = peak_kb.max(kb);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = started.elapsed().as_secs_f64();
    assert!(status.success(), "{cmd:?} failed: {status}");
    (wall, peak_kb as f64 / 1024.0)
}

fn mb(path: &Path) -> f64 {
    std::fs::metadata(path)
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or(0.0)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("NORMALIZE_BENCH_SIZES")
        .unwrap_or_else(|_| "2000,8000".to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let given = std::env::var_os("NORMALIZE_BENCH_DIR");
    let keep = given.is_some();
    let dir: PathBuf = given.map_or_else(|| tmp.path().to_owned(), PathBuf::from);
    std::fs::create_dir_all(&dir).unwrap();
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench");
    let bin = env!("CARGO_BIN_EXE_normalize-product");
    println!(
        "normalize-product benchmark: {BANDS}-band UInt16 ortho N x N, MS (N/4)^2; files in {}",
        dir.display()
    );
    println!(
        "{:>6} {:<34} {:>8} {:>13} {:>10}",
        "N", "tool", "wall s", "peak RSS MB", "out MB"
    );
    for n in sizes {
        let ms = dir.join(format!("ms_{n}.tif"));
        let ortho = dir.join(format!("ortho_{n}.tif"));
        let started = Instant::now();
        // Inputs in a given directory are kept and reused (they depend only on N).
        if !(keep && ms.exists() && ortho.exists()) {
            generate(&ms, n / 4, 4, n);
            generate(&ortho, n, 1, n);
        }
        println!(
            "{n:>6} (inputs generated in {:.1} s, ortho {:.0} MB)",
            started.elapsed().as_secs_f64(),
            mb(&ortho)
        );
        let out_rs = dir.join(format!("out_rs_{n}.tif"));
        let out_py = dir.join(format!("out_py_{n}.tif"));
        let out_gt = dir.join(format!("out_gt_{n}.tif"));
        let runs: Vec<(&str, Command, &Path)> = vec![
            (
                "normalize-product",
                {
                    let mut c = Command::new(bin);
                    c.arg("--in_ms")
                        .arg(&ms)
                        .arg("--in_ortho")
                        .arg(&ortho)
                        .arg("--out")
                        .arg(&out_rs);
                    c.stdout(std::process::Stdio::null());
                    c
                },
                &out_rs,
            ),
            (
                "python reference (normalize_ref.py)",
                {
                    let mut c = Command::new("/usr/bin/python3");
                    c.arg(here.join("normalize_ref.py"))
                        .arg(&ms)
                        .arg(&ortho)
                        .arg(&out_py);
                    c
                },
                &out_py,
            ),
            (
                "gdal_translate -ot Float32",
                {
                    let mut c = Command::new("gdal_translate");
                    c.args(["-q", "-ot", "Float32"]).arg(&ortho).arg(&out_gt);
                    c
                },
                &out_gt,
            ),
        ];
        let mut walls = Vec::new();
        for (name, mut cmd, out) in runs {
            let (wall, rss) = measure(&mut cmd);
            println!(
                "{n:>6} {name:<34} {wall:>8.2} {rss:>13.0} {:>10.0}",
                mb(out)
            );
            walls.push(wall);
        }
        println!(
            "{n:>6} normalize-product / python = {:.2}x, / gdal_translate = {:.2}x",
            walls[0] / walls[1],
            walls[0] / walls[2]
        );
        for f in [&out_rs, &out_py, &out_gt] {
            let _ = std::fs::remove_file(f);
        }
        if !keep {
            let _ = std::fs::remove_file(&ms);
            let _ = std::fs::remove_file(&ortho);
        }
    }
}

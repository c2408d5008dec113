//! The sensor model: an affine RPC (rational polynomial coefficients, the RPC00B layout GDAL and OTB use) of a
//! north-up pushbroom camera looking slightly off nadir, so that terrain height shifts pixels across track as on a real
//! Pleiades scene and a DEM changes the orthorectified result.
//!
//! The P and MS images share one ground footprint: the MS model is the P model with 4x coarser pixels, so
//! BundleToPerfectSensor superimposes them exactly. Image coordinates follow the RPC convention: (0, 0) is the centre
//! of the top-left pixel.

/// Ground sampling distance of the P image, in metres (Pleiades P is 0.7 m resampled to 0.5 m).
pub const PAN_GSD_M: f64 = 0.5;
/// How many P pixels one MS pixel spans along each axis.
pub const MS_RATIO: usize = 4;
/// Mean terrain height, metres above the ellipsoid: the RPC height offset and the DEM's mean.
pub const MEAN_HEIGHT_M: f64 = 150.0;
const HEIGHT_SCALE_M: f64 = 500.0;
/// Across-track viewing angle: a point 10 m above the mean height appears 10 * tan(5 deg) = 0.87 m further east.
const VIEW_ANGLE_DEG: f64 = 5.0;

/// Metres per degree of latitude and of longitude at a latitude (WGS84, series to the cos 3phi term).
pub(crate) fn metres_per_degree(lat_deg: f64) -> (f64, f64) {
    let phi = lat_deg.to_radians();
    let lat = 111_132.92 - 559.82 * (2.0 * phi).cos() + 1.175 * (4.0 * phi).cos();
    let lon = 111_412.84 * phi.cos() - 93.5 * (3.0 * phi).cos();
    (lat, lon)
}

/// The ground area both images cover: a square centred on (lat, lon), `pan_size` P pixels on a side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Footprint {
    pub lat: f64,
    pub lon: f64,
    pub pan_size: usize,
}

impl Footprint {
    /// Half the side of the square, in metres.
    pub fn half_side_m(&self) -> f64 {
        self.pan_size as f64 * PAN_GSD_M / 2.0
    }

    /// Half the side in degrees of (latitude, longitude).
    pub fn half_side_deg(&self) -> (f64, f64) {
        let (m_lat, m_lon) = metres_per_degree(self.lat);
        (self.half_side_m() / m_lat, self.half_side_m() / m_lon)
    }

    /// The RPC of an image of this footprint with `size` pixels on a side (`pan_size` for P, `pan_size / 4` for MS).
    pub fn rpc(&self, size: usize) -> Rpc {
        let (lat_scale, long_scale) = self.half_side_deg();
        let half = size as f64 / 2.0;
        // samp = SAMP_OFF + SAMP_SCALE * (L + k H): one normalised unit of L is half the footprint, i.e. SAMP_SCALE
        // pixels; a height difference dh moves the point by dh * tan(angle) metres, i.e. k * dh / HEIGHT_SCALE units.
        let k = VIEW_ANGLE_DEG.to_radians().tan() * HEIGHT_SCALE_M / self.half_side_m();
        let mut samp_num = [0.0; 20];
        samp_num[1] = 1.0; // L (longitude)
        samp_num[3] = k; // H (height)
        let mut line_num = [0.0; 20];
        line_num[2] = -1.0; // P (latitude): rows go south
        let mut den = [0.0; 20];
        den[0] = 1.0;
        Rpc {
            line_off: half - 0.5,
            samp_off: half - 0.5,
            lat_off: self.lat,
            long_off: self.lon,
            height_off: MEAN_HEIGHT_M,
            line_scale: half,
            samp_scale: half,
            lat_scale,
            long_scale,
            height_scale: HEIGHT_SCALE_M,
            line_num,
            line_den: den,
            samp_num,
            samp_den: den,
        }
    }
}

/// An RPC00B model: normalised image coordinates as ratios of cubic polynomials of normalised (lon, lat, height).
#[derive(Debug, Clone, PartialEq)]
pub struct Rpc {
    pub line_off: f64,
    pub samp_off: f64,
    pub lat_off: f64,
    pub long_off: f64,
    pub height_off: f64,
    pub line_scale: f64,
    pub samp_scale: f64,
    pub lat_scale: f64,
    pub long_scale: f64,
    pub height_scale: f64,
    pub line_num: [f64; 20],
    pub line_den: [f64; 20],
    pub samp_num: [f64; 20],
    pub samp_den: [f64; 20],
}

/// The 20 RPC00B monomials of normalised longitude L, latitude P and height H, in GDAL's order.
fn monomials(l: f64, p: f64, h: f64) -> [f64; 20] {
    [
        1.0,
        l,
        p,
        h,
        l * p,
        l * h,
        p * h,
        l * l,
        p * p,
        h * h,
        p * l * h,
        l * l * l,
        l * p * p,
        l * h * h,
        l * l * p,
        p * p * p,
        p * h * h,
        l * l * h,
        p * p * h,
        h * h * h,
    ]
}

fn dot(a: &[f64; 20], b: &[f64; 20]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Rpc {
    /// Image (column, row) of a ground point, as OTB and GDAL compute it.
    pub fn ground_to_image(&self, lon: f64, lat: f64, height: f64) -> (f64, f64) {
        let m = monomials(
            (lon - self.long_off) / self.long_scale,
            (lat - self.lat_off) / self.lat_scale,
            (height - self.height_off) / self.height_scale,
        );
        let samp =
            self.samp_off + self.samp_scale * dot(&self.samp_num, &m) / dot(&self.samp_den, &m);
        let line =
            self.line_off + self.line_scale * dot(&self.line_num, &m) / dot(&self.line_den, &m);
        (samp, line)
    }

    fn scalars(&self) -> [(&'static str, f64); 10] {
        [
            ("LINE_OFF", self.line_off),
            ("SAMP_OFF", self.samp_off),
            ("LAT_OFF", self.lat_off),
            ("LONG_OFF", self.long_off),
            ("HEIGHT_OFF", self.height_off),
            ("LINE_SCALE", self.line_scale),
            ("SAMP_SCALE", self.samp_scale),
            ("LAT_SCALE", self.lat_scale),
            ("LONG_SCALE", self.long_scale),
            ("HEIGHT_SCALE", self.height_scale),
        ]
    }

    fn coefficients(&self) -> [(&'static str, &[f64; 20]); 4] {
        [
            ("LINE_NUM_COEFF", &self.line_num),
            ("LINE_DEN_COEFF", &self.line_den),
            ("SAMP_NUM_COEFF", &self.samp_num),
            ("SAMP_DEN_COEFF", &self.samp_den),
        ]
    }

    /// The items of GDAL's "RPC" metadata domain (RFC 22). Numbers use Rust's shortest exact representation.
    pub fn gdal_items(&self) -> Vec<(String, String)> {
        let mut items: Vec<(String, String)> = self
            .scalars()
            .iter()
            .map(|(k, v)| (k.to_string(), format!("{v:?}")))
            .collect();
        for (key, values) in self.coefficients() {
            let joined: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
            items.push((key.to_string(), joined.join(" ")));
        }
        items
    }

    /// An OTB `.geom` keyword list holding this model, as OTB 8's GeomMetadataSupplier reads it
    /// (`polynomial_format` marks an RPC; coefficients are `line_num_coeff_00` .. `_19`).
    pub fn geom_text(&self) -> String {
        let mut text = String::from("type: ossimRpcModel\npolynomial_format: B\n");
        for (key, value) in self.scalars() {
            text.push_str(&format!("{}: {value:?}\n", key.to_lowercase()));
        }
        for (key, values) in self.coefficients() {
            for (i, value) in values.iter().enumerate() {
                text.push_str(&format!("{}_{i:02}: {value:?}\n", key.to_lowercase()));
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOULOUSE: Footprint = Footprint {
        lat: 43.6,
        lon: 1.44,
        pan_size: 2000,
    };

    #[test]
    fn the_footprint_corners_are_the_image_corners() {
        let rpc = TOULOUSE.rpc(2000);
        let (dlat, dlon) = TOULOUSE.half_side_deg();
        let (col, row) =
            rpc.ground_to_image(TOULOUSE.lon - dlon, TOULOUSE.lat + dlat, MEAN_HEIGHT_M);
        assert!(
            (col + 0.5).abs() < 1e-9 && (row + 0.5).abs() < 1e-9,
            "north-west corner at ({col}, {row})"
        );
        let (col, row) =
            rpc.ground_to_image(TOULOUSE.lon + dlon, TOULOUSE.lat - dlat, MEAN_HEIGHT_M);
        assert!(
            (col - 1999.5).abs() < 1e-9 && (row - 1999.5).abs() < 1e-9,
            "south-east corner at ({col}, {row})"
        );
    }

    #[test]
    fn pixels_are_half_a_metre_and_heights_shift_them_across_track() {
        let rpc = TOULOUSE.rpc(2000);
        let (m_lat, _) = metres_per_degree(TOULOUSE.lat);
        let (_, row0) = rpc.ground_to_image(TOULOUSE.lon, TOULOUSE.lat, MEAN_HEIGHT_M);
        let (_, row1) =
            rpc.ground_to_image(TOULOUSE.lon, TOULOUSE.lat - 100.0 / m_lat, MEAN_HEIGHT_M);
        assert!(
            (row1 - row0 - 200.0).abs() < 1e-6,
            "100 m south is {} rows",
            row1 - row0
        );
        let (c0, _) = rpc.ground_to_image(TOULOUSE.lon, TOULOUSE.lat, MEAN_HEIGHT_M);
        let (c1, r1) = rpc.ground_to_image(TOULOUSE.lon, TOULOUSE.lat, MEAN_HEIGHT_M + 100.0);
        let expected = 100.0 * VIEW_ANGLE_DEG.to_radians().tan() / PAN_GSD_M;
        assert!(
            (c1 - c0 - expected).abs() < 1e-6 && (r1 - row0).abs() < 1e-9,
            "100 m up moves {} columns",
            c1 - c0
        );
    }

    #[test]
    fn an_ms_pixel_covers_exactly_four_by_four_pan_pixels() {
        let (pan, ms) = (TOULOUSE.rpc(2000), TOULOUSE.rpc(500));
        for (lon, lat, h) in [
            (1.4401, 43.6003, 150.0),
            (1.437, 43.597, 0.0),
            (1.443, 43.602, 300.0),
        ] {
            let (pc, pr) = pan.ground_to_image(lon, lat, h);
            let (mc, mr) = ms.ground_to_image(lon, lat, h);
            // Pixel-corner coordinates (centre convention + 0.5) scale by exactly 4.
            assert!(
                ((pc + 0.5) - 4.0 * (mc + 0.5)).abs() < 1e-6,
                "columns {pc} vs {mc}"
            );
            assert!(
                ((pr + 0.5) - 4.0 * (mr + 0.5)).abs() < 1e-6,
                "rows {pr} vs {mr}"
            );
        }
    }

    #[test]
    fn the_geom_lists_all_eighty_coefficients_and_the_gdal_items_all_fourteen_keys() {
        let rpc = TOULOUSE.rpc(2000);
        let geom = rpc.geom_text();
        assert_eq!(geom.lines().filter(|l| l.contains("_coeff_")).count(), 80);
        assert!(
            geom.contains("line_num_coeff_02: -1.0\n") && geom.contains("samp_num_coeff_19: 0.0\n")
        );
        assert!(geom.contains("lat_off: 43.6\n"), "{geom}");
        let items = rpc.gdal_items();
        assert_eq!(items.len(), 14);
        let line_num = &items.iter().find(|(k, _)| k == "LINE_NUM_COEFF").unwrap().1;
        assert_eq!(line_num.split(' ').count(), 20);
    }
}

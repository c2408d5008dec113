//! Confinement of file arguments to the data roots, and OTB extended filenames (`file.tif?&key=value&...`).
//!
//! The data-root policy itself (no `..`, symlinks resolved, absolute paths elsewhere refused, a new output checked
//! through its parent, relative paths taken from the first root) is `apsis_function_kit::roots`, shared with the
//! other functions. What is OTB's is here: which arguments are files, the extended-filename options (an allow-list,
//! `geom=` confined like the file), and GDAL virtual file systems (refused unless `APSIS_ALLOWED_VSI` names them).

use std::path::Path;

use apsis_function_kit::DataRoots;

use crate::validate::Rejection;

/// Extended-filename options accepted; an entry ending in `*` accepts every key with that prefix. Each is one OTB
/// documents for reading or writing images; anything else is refused, so a new option is a deliberate decision.
pub const ALLOWED_OPTIONS: &[&str] = &[
    "geom",
    "sdataidx",
    "resol",
    "skipcarto",
    "skipgeom",
    "skiprpctag",
    "bands",
    "nodata",
    "box",
    "writegeom",
    "writerpctags",
    "multiwrite",
    "gdal:co:*",
    "gdal:of",
    "streaming:*",
];
/// Extended-filename options whose value is a path, confined like the file itself.
const PATH_OPTIONS: &[&str] = &["geom"];

/// The file part of an argument and its extended-filename options, in order.
pub(crate) fn split_extended(arg: &str) -> (&str, Vec<(&str, &str)>) {
    match arg.split_once('?') {
        None => (arg, Vec::new()),
        Some((file, rest)) => {
            let options = rest
                .split('&')
                .filter(|o| !o.is_empty())
                .map(|o| o.split_once('=').unwrap_or((o, "")))
                .collect();
            (file, options)
        }
    }
}

fn option_allowed(key: &str) -> bool {
    ALLOWED_OPTIONS
        .iter()
        .any(|allowed| match allowed.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix) && key.len() > prefix.len(),
            None => key == *allowed,
        })
}

/// Where files may be.
#[derive(Debug, Clone)]
pub(crate) struct Confinement {
    pub(crate) roots: DataRoots,
    pub(crate) allowed_vsi: Vec<String>,
}

impl Confinement {
    /// The applications' working directory: bare file names land in the first root.
    pub(crate) fn workdir(&self) -> &Path {
        self.roots.workdir()
    }

    /// Checks one argument of parameter `param` (e.g. `-io.in`); `arg` may carry extended-filename options.
    /// `known_path`: the argument is a file whatever it looks like (an output parameter's value).
    pub(crate) fn check_argument(
        &self,
        param: &str,
        arg: &str,
        known_path: bool,
    ) -> Result<(), Rejection> {
        let (file, options) = split_extended(arg);
        if arg.contains('?') {
            if !options.iter().all(|(k, _)| !k.is_empty()) || !arg.contains("?&") {
                return Err(Rejection(format!(
                    "Expected the argument '{arg}' of -{param} to use the extended filename form 'file?&key=value', but it does not"
                )));
            }
            for (key, value) in &options {
                if !option_allowed(key) {
                    return Err(Rejection(format!(
                        "Expected only the extended-filename options {} in the argument of -{param}, but found '{key}'",
                        ALLOWED_OPTIONS.join(", ")
                    )));
                }
                if PATH_OPTIONS.contains(key) {
                    self.check_path(&format!("-{param} (option {key})"), value)?;
                }
            }
        }
        let looks_like_path = known_path
            || file.contains('/')
            || self.workdir().join(file).symlink_metadata().is_ok();
        if looks_like_path && !file.is_empty() {
            self.check_path(&format!("-{param}"), file)?;
        }
        Ok(())
    }

    /// `file` must be inside a root (see the module documentation).
    pub(crate) fn check_path(&self, what: &str, file: &str) -> Result<(), Rejection> {
        let refuse =
            |why: String| Err(Rejection(self.roots.refusal(what, Path::new(file), &why).0));
        if let Some(rest) = file.strip_prefix("/vsi") {
            let fs = rest.split('/').next().unwrap_or_default();
            let fs = format!("vsi{fs}");
            if self.allowed_vsi.contains(&fs) {
                if what.starts_with("-elev.") {
                    // OTB ignores a remote DEM or geoid silently (exit 0, no elevation): refuse it even when allowed.
                    return refuse(format!("OTB silently ignores /{fs}/ for {what}; use a local directory or a local .vrt"));
                }
                return Ok(());
            }
            return refuse(format!(
                "it is on the GDAL virtual file system /{fs}/, which APSIS_ALLOWED_VSI does not allow"
            ));
        }
        self.roots
            .check_path(what, Path::new(file))
            .map(|_| ())
            .map_err(|refusal| Rejection(refusal.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confinement(root: &Path) -> Confinement {
        Confinement {
            roots: DataRoots::parse(root.to_str().unwrap(), "a test").unwrap(),
            allowed_vsi: vec!["vsis3".to_owned()],
        }
    }

    #[test]
    fn extended_filenames_are_split_and_filtered() {
        assert_eq!(
            split_extended("a.tif?&geom=/d/p.geom&gdal:co:TILED=YES"),
            (
                "a.tif",
                vec![("geom", "/d/p.geom"), ("gdal:co:TILED", "YES")]
            )
        );
        assert!(option_allowed("gdal:co:COMPRESS"));
        assert!(option_allowed("streaming:type"));
        assert!(!option_allowed("gdal:co:"));
        assert!(!option_allowed("gdal:config"));
        assert!(!option_allowed("lut"));
    }

    #[test]
    fn paths_inside_pass_and_outside_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("in.tif"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("out-link")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/x", root.join("dangling")).unwrap();
        let c = confinement(root);
        let inside = root.join("in.tif");
        let inside = inside.to_str().unwrap();
        c.check_argument("io.in", inside, false).unwrap();
        c.check_argument("io.out", &format!("{}/new.tif", root.display()), true)
            .unwrap();
        c.check_argument("io.out", "new.tif", true).unwrap();
        c.check_argument("opt.ram", "128", false).unwrap();
        c.check_argument("in", "/vsis3/bucket/a.tif", false)
            .unwrap();
        for (param, arg, why) in [
            ("in", "../../etc/passwd", "'..'"),
            ("in", "/etc/passwd", "it is outside them"),
            (
                "in",
                &format!("{}/out-link/passwd", root.display()),
                "resolves to /etc/passwd",
            ),
            ("in", "out-link", "resolves to /etc"),
            ("out", "dangling", "symlink"),
            ("out", "/nope/dir/x.tif", "neither it nor its directory"),
            (
                "in",
                &format!("{inside}?&geom=/etc/x"),
                "'/etc/x' of -in (option geom)",
            ),
            ("in", &format!("{inside}?&lut=1"), "found 'lut'"),
            ("in", "/vsicurl/http://x/a.tif", "APSIS_ALLOWED_VSI"),
            ("elev.dem", "/vsis3/bucket/dem", "silently ignores"),
        ] {
            let e = c.check_argument(param, arg, false).unwrap_err().0;
            assert!(e.starts_with("Expected "), "{e}");
            assert!(e.contains(why), "{arg}: {e}");
        }
    }
}

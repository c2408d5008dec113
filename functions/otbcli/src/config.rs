//! The configuration of the otbcli function, resolved in layers: built-in defaults < environment (`APSIS_*`) <
//! command-line flags. No file layer: a function is configured by `stack.yml`'s `environment` (OpenFaaS) or the
//! local runtime's definitions, both environment variables.
//!
//! This module is the only code that reads the process environment ([`process_env`]); everything else takes
//! [`Options`]. Each error names the variable or flag a bad value came from.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use apsis_function_kit::settings::{number, var};
use apsis_function_kit::{Common, DataRoots};

use crate::Error;

pub const DEFAULT_OTB_BIN_DIR: &str = "/usr/bin";

/// Every variable this module reads besides the ones every function reads (`apsis_function_kit::settings`).
pub const VARIABLES: &[&str] = &[
    "APSIS_OTB_BIN_DIR",
    "APSIS_GDAL_CACHEMAX_MB",
    "APSIS_OTB_RAM_MB",
    "APSIS_OTB_TIMEOUT_SECONDS",
    "APSIS_ALLOWED_VSI",
    "APSIS_OTB_MAX_CONCURRENT",
];

/// Everything the function needs to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The listen address, the stdin lifeline and the log filter.
    pub common: Common,
    /// Every file an application reads or writes must be inside one of them. The first is also the applications'
    /// working directory.
    pub data_roots: DataRoots,
    /// Where `otbcli_<App>` launchers are looked up (never PATH).
    pub otb_bin_dir: PathBuf,
    /// `GDAL_CACHEMAX` of the applications, in MB: GDAL's block cache, on top of OTB's RAM setting.
    pub gdal_cachemax_mb: u64,
    /// `OTB_MAX_RAM_HINT`, and the `-ram` / `-opt.ram` added when the caller sets none, in MB.
    pub otb_ram_mb: u64,
    /// A run longer than this is killed (its whole process group) and reported failed.
    pub timeout: Duration,
    /// GDAL virtual file systems allowed in arguments (`vsis3`, `vsicurl`...); none by default.
    pub allowed_vsi: Vec<String>,
    /// Applications run at once in this process; more wait. OTB uses every core, so 1 by default.
    pub max_concurrent: usize,
}

/// Settings given as flags; each wins over the environment.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub listen: Option<String>,
    pub data_roots: Option<String>,
    pub otb_bin_dir: Option<PathBuf>,
}

/// The variables this function reads that are set. The only read of the environment.
pub fn process_env() -> BTreeMap<String, String> {
    apsis_function_kit::settings::read_env(VARIABLES.iter().copied())
}

impl Options {
    pub fn resolve(flags: &Flags, env: &BTreeMap<String, String>) -> Result<Options, Error> {
        let var = |name: &'static str| var(env, name);
        let common = Common::resolve(flags.listen.as_deref(), env)?;
        let data_roots = DataRoots::resolve(flags.data_roots.as_deref(), env)?;

        let (bin_dir, origin) = flags
            .otb_bin_dir
            .clone()
            .map(|p| (p, "--otb-bin-dir".to_owned()))
            .or_else(|| var("APSIS_OTB_BIN_DIR").map(|(v, o)| (PathBuf::from(v), o)))
            .unwrap_or_else(|| (PathBuf::from(DEFAULT_OTB_BIN_DIR), "the default".to_owned()));
        if !bin_dir.is_dir() {
            return Err(Error::BinDir {
                path: bin_dir,
                origin,
            });
        }

        let number = |name: &'static str, default: u64| {
            number(
                env,
                name,
                default,
                1..=u64::MAX,
                "a whole number, at least 1",
            )
        };
        let gdal_cachemax_mb = number("APSIS_GDAL_CACHEMAX_MB", 64)?;
        let otb_ram_mb = number("APSIS_OTB_RAM_MB", 128)?;
        let timeout = Duration::from_secs(number("APSIS_OTB_TIMEOUT_SECONDS", 7200)?);
        let max_concurrent = number("APSIS_OTB_MAX_CONCURRENT", 1)? as usize;
        let allowed_vsi = var("APSIS_ALLOWED_VSI")
            .map(|(v, _)| {
                v.split(',')
                    .map(|s| s.trim().trim_matches('/').to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(Options {
            common,
            data_roots,
            otb_bin_dir: bin_dir,
            gdal_cachemax_mb,
            otb_ram_mb,
            timeout,
            allowed_vsi,
            max_concurrent,
        })
    }

    /// The resolved configuration as TOML lines, for `--print-config`.
    pub fn to_display(&self) -> String {
        let list = |items: Vec<String>| {
            items
                .iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "{}data_roots = [{}]\notb_bin_dir = {:?}\ngdal_cachemax_mb = {}\notb_ram_mb = {}\n\
             timeout_seconds = {}\nallowed_vsi = [{}]\nmax_concurrent = {}\n",
            self.common.to_display(),
            list(
                self.data_roots
                    .roots()
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect()
            ),
            self.otb_bin_dir.display().to_string(),
            self.gdal_cachemax_mb,
            self.otb_ram_mb,
            self.timeout.as_secs(),
            list(self.allowed_vsi.clone()),
            self.max_concurrent,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use apsis_function_kit::settings::env_of as env;

    #[test]
    fn defaults_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let o = Options::resolve(&Flags::default(), &env(&[("APSIS_DATA_ROOTS", root)])).unwrap();
        assert_eq!(o.common.listen.to_string(), "127.0.0.1:8082");
        assert_eq!(
            (o.gdal_cachemax_mb, o.otb_ram_mb, o.max_concurrent),
            (64, 128, 1)
        );
        assert_eq!(o.data_roots.roots(), [dir.path().canonicalize().unwrap()]);
        let flags = Flags {
            listen: Some("127.0.0.1:9".into()),
            ..Flags::default()
        };
        let o = Options::resolve(
            &flags,
            &env(&[
                ("APSIS_DATA_ROOTS", root),
                ("APSIS_LISTEN", "127.0.0.1:7"),
                ("APSIS_ALLOWED_VSI", "/vsis3/, vsicurl"),
                ("APSIS_OTB_RAM_MB", "512"),
            ]),
        )
        .unwrap();
        assert_eq!(o.common.listen.to_string(), "127.0.0.1:9");
        assert_eq!(o.allowed_vsi, vec!["vsis3", "vsicurl"]);
        assert_eq!(o.otb_ram_mb, 512);
        assert!(o.to_display().contains("otb_ram_mb = 512"));
    }

    #[test]
    fn refuses_bad_settings_with_a_sentence() {
        let e = Options::resolve(&Flags::default(), &env(&[])).unwrap_err();
        assert!(e.to_string().contains("APSIS_DATA_ROOTS"), "{e}");
        let e = Options::resolve(&Flags::default(), &env(&[("APSIS_DATA_ROOTS", "rel/dir")]))
            .unwrap_err();
        assert!(
            e.to_string().starts_with("Expected the data root rel/dir"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let e = Options::resolve(
            &Flags::default(),
            &env(&[("APSIS_DATA_ROOTS", root), ("APSIS_OTB_RAM_MB", "lots")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("but found 'lots'"), "{e}");
    }
}

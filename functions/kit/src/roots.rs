//! The data roots (`APSIS_DATA_ROOTS`, colon-separated absolute directories): the only places a function reads or
//! writes for a request.
//!
//! A path is checked by resolving it. `..` components are refused outright, before any resolution. A relative path is
//! taken from the first root (the functions' working directory). An existing path is canonicalised (every symlink
//! followed) and must land in a root; a path that does not exist yet (an output) must have an existing parent that
//! canonicalises into a root, and must not be a dangling symlink (writing through it would land wherever it points).
//! [`DataRoots::check_input`] also requires the path to exist.
//!
//! The check happens before the work, so a file swapped for a symlink between check and use is not caught: the roots
//! are expected to be writable only by the chain itself.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use crate::settings::var;
use crate::Error;

/// Canonical absolute directories, at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRoots {
    roots: Vec<PathBuf>,
}

/// Why a path a request names is refused (a 400), as one sentence naming the argument and the roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

impl DataRoots {
    /// The roots of `flag` (`--data-roots`), else of `APSIS_DATA_ROOTS`; one of them is required.
    pub fn resolve(flag: Option<&str>, env: &BTreeMap<String, String>) -> Result<DataRoots, Error> {
        let (text, origin) = flag
            .map(|v| (v.to_owned(), "--data-roots".to_owned()))
            .or_else(|| var(env, "APSIS_DATA_ROOTS"))
            .ok_or(Error::NoDataRoots)?;
        DataRoots::parse(&text, &origin)
    }

    /// `text`: colon-separated absolute directories that exist; `origin` names where it came from, for messages.
    pub fn parse(text: &str, origin: &str) -> Result<DataRoots, Error> {
        let mut roots = Vec::new();
        for root in text.split(':').map(str::trim).filter(|r| !r.is_empty()) {
            roots.push(canonical_dir(Path::new(root), origin)?);
        }
        if roots.is_empty() {
            return Err(Error::NoDataRoots);
        }
        Ok(DataRoots { roots })
    }

    /// The canonical roots, in the order given.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The first root: the working directory relative paths are taken from.
    pub fn workdir(&self) -> &Path {
        &self.roots[0]
    }

    /// The roots as they are set, colon-separated.
    pub fn to_display(&self) -> String {
        let roots: Vec<String> = self.roots.iter().map(|r| r.display().to_string()).collect();
        roots.join(":")
    }

    /// `path`, named `what` in the answer (e.g. `--in_ms`), must exist inside a root. Returns the path to use: `path`
    /// taken from the first root when relative.
    pub fn check_input(&self, what: &str, path: &Path) -> Result<PathBuf, Refusal> {
        self.check(what, path, true)
    }

    /// `path`, named `what` in the answer (e.g. `--out`), must be inside a root: an existing path itself, a new one
    /// through its parent. Returns the path to use: `path` taken from the first root when relative.
    pub fn check_path(&self, what: &str, path: &Path) -> Result<PathBuf, Refusal> {
        self.check(what, path, false)
    }

    /// The refusal of `path`, named `what`, for the reason `why` (a clause: "it is outside them"), for a function's
    /// own checks (e.g. otbcli's GDAL virtual file systems).
    pub fn refusal(&self, what: &str, path: &Path, why: &str) -> Refusal {
        Refusal(format!(
            "Expected the path '{}' of {what} to be inside the data roots ({}), but {why}",
            path.display(),
            self.to_display()
        ))
    }

    fn check(&self, what: &str, path: &Path, must_exist: bool) -> Result<PathBuf, Refusal> {
        let refuse = |why: String| Err(self.refusal(what, path, &why));
        if path.as_os_str().is_empty() {
            return refuse("it is empty".to_owned());
        }
        if path.components().any(|c| c == Component::ParentDir) {
            return refuse("it contains a '..' component".to_owned());
        }
        let full = self.workdir().join(path);
        let resolved = match full.canonicalize() {
            Ok(resolved) => resolved,
            Err(_) if full.symlink_metadata().is_ok() => {
                return refuse("it is a symlink to a place that does not exist".to_owned())
            }
            Err(_) if must_exist => return refuse("it does not exist".to_owned()),
            Err(_) => {
                let (Some(parent), Some(name)) = (full.parent(), full.file_name()) else {
                    return refuse("it has no parent directory".to_owned());
                };
                match parent.canonicalize() {
                    Ok(parent) => parent.join(name),
                    Err(_) => {
                        return refuse(format!(
                            "neither it nor its directory {} exists",
                            parent.display()
                        ))
                    }
                }
            }
        };
        if self.roots.iter().any(|root| resolved.starts_with(root)) {
            Ok(full)
        } else if resolved != full {
            refuse(format!("it resolves to {}", resolved.display()))
        } else {
            refuse("it is outside them".to_owned())
        }
    }
}

/// Roots are compared after canonicalisation, so a root reached through a symlink still confines correctly.
fn canonical_dir(path: &Path, origin: &str) -> Result<PathBuf, Error> {
    let fail = |source| Error::DataRoot {
        path: path.to_owned(),
        origin: origin.to_owned(),
        source,
    };
    if !path.is_absolute() {
        return Err(fail(None));
    }
    let canonical = path.canonicalize().map_err(|e| fail(Some(e)))?;
    if !canonical.is_dir() {
        return Err(fail(None));
    }
    Ok(canonical)
}

#[cfg(test)]
#[path = "roots_tests.rs"]
mod tests;

use std::path::PathBuf;

/// Everything that can go wrong while generating a pair. Messages read "Expected to <X>, but <Y>".
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "Expected the P image size to be a multiple of 4 between {min} and {max}, but it is {size}"
    )]
    InvalidSize { size: usize, min: usize, max: usize },
    #[error("Expected a latitude within [-80, 80] and a longitude within [-180, 180], but got {lat}, {lon}")]
    InvalidCentre { lat: f64, lon: f64 },
    #[error("Expected to create directory {path}, but {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Expected to write {path}, but {source}")]
    WriteFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Expected GDAL to {action} {path}, but {source}")]
    Gdal {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: gdal::errors::GdalError,
    },
}

/// Attaches what GDAL was doing, and to which file, to a GDAL error.
pub(crate) trait GdalContext<T> {
    fn doing(self, action: &'static str, path: &std::path::Path) -> Result<T, Error>;
}

impl<T> GdalContext<T> for Result<T, gdal::errors::GdalError> {
    fn doing(self, action: &'static str, path: &std::path::Path) -> Result<T, Error> {
        self.map_err(|source| Error::Gdal {
            action,
            path: path.to_path_buf(),
            source,
        })
    }
}

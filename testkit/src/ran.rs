//! What a finished command did, as text, with the checks every CLI test makes.

use std::process::Output;

use serde_json::Value;

/// A finished command's exit code and output (lossy UTF-8).
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Ran {
    /// Panics if the command was ended by a signal: a CLI under test exits.
    fn from(out: Output) -> Ran {
        Ran {
            code: out.status.code().expect("exited, not signalled"),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Ran {
    /// Exit 0 and nothing on stderr.
    #[track_caller]
    pub fn ok(&self) -> &Ran {
        assert_eq!((self.code, self.stderr.as_str()), (0, ""), "{self:#?}");
        self
    }

    /// Exit `code` and nothing on stdout.
    #[track_caller]
    pub fn failed(&self, code: i32) -> &Ran {
        assert_eq!(self.code, code, "{self:#?}");
        assert!(self.stdout.is_empty(), "{self:#?}");
        self
    }

    /// Stdout as one JSON value.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is one JSON object ({e}): {self:#?}"))
    }

    /// Stderr as one JSON value.
    #[track_caller]
    pub fn error_json(&self) -> Value {
        serde_json::from_str(self.stderr.trim())
            .unwrap_or_else(|e| panic!("stderr is one JSON object ({e}): {self:#?}"))
    }
}

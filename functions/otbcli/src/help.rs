//! What an OTB application declares about its parameters, read once from `otbcli_<App> -help` and cached.
//!
//! Asking the application rather than keeping a table: the table would be wrong for every application it forgets
//! (OTB 8.1.1 ships 110), while the help text is the application's own word. It tells two things we need: which RAM
//! parameter it has (`-ram` for BundleToPerfectSensor, `-opt.ram` for OrthoRectification, none for some) and which
//! parameters are output images (`<string> [pixel]`). Costs about 0.3 s, once per application per process.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long `-help` may take at most (and never longer than a run may).
const HELP_TIMEOUT: Duration = Duration::from_secs(30);

/// One parameter as the help lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParamInfo {
    /// `string`, `int32`, `group`, `string list`...
    pub(crate) kind: String,
    /// An output image (`[pixel]`: accepts a pixel type after the file name).
    pub(crate) output_image: bool,
}

/// The parameters of one application, by name without the dash (`io.out`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AppHelp {
    pub(crate) params: BTreeMap<String, ParamInfo>,
}

impl AppHelp {
    /// Parses the `Parameters:` lines, e.g.
    /// `MISSING -io.out  <string> [pixel] Output Image ...` or `        -opt.ram  <int32>  Available RAM (MB) ...`.
    pub(crate) fn parse(text: &str) -> AppHelp {
        let mut params = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim_start();
            let line = line.strip_prefix("MISSING").unwrap_or(line).trim_start();
            let Some(rest) = line.strip_prefix('-') else {
                continue;
            };
            let Some((name, rest)) = rest.split_once(char::is_whitespace) else {
                continue;
            };
            let rest = rest.trim_start();
            let Some((kind, after)) = rest.strip_prefix('<').and_then(|r| r.split_once('>')) else {
                continue;
            };
            params.insert(
                name.to_owned(),
                ParamInfo {
                    kind: kind.to_owned(),
                    output_image: after.trim_start().starts_with("[pixel]"),
                },
            );
        }
        AppHelp { params }
    }

    /// The application's RAM parameter, if it has one.
    pub(crate) fn ram_param(&self) -> Option<&'static str> {
        ["ram", "opt.ram"]
            .into_iter()
            .find(|p| self.params.contains_key(*p))
    }
}

/// Help texts by program path; a failed lookup is not cached (an empty help means "no RAM flag, outputs by name").
#[derive(Debug, Default)]
pub(crate) struct HelpCache {
    apps: Mutex<HashMap<String, Arc<AppHelp>>>,
}

impl HelpCache {
    pub(crate) async fn get(&self, program: &Path, run_timeout: Duration) -> Arc<AppHelp> {
        let key = program.display().to_string();
        if let Some(help) = self.apps.lock().unwrap().get(&key) {
            return help.clone();
        }
        let mut command = tokio::process::Command::new(program);
        command.arg("-help").stdin(Stdio::null()).kill_on_drop(true);
        let output = tokio::time::timeout(HELP_TIMEOUT.min(run_timeout), command.output()).await;
        let Ok(Ok(output)) = output else {
            tracing::warn!(program = %key, "Expected to read the application's -help, but it failed or timed out");
            return Arc::new(AppHelp::default());
        };
        // OTB prints the help on stderr and exits 1.
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let help = Arc::new(AppHelp::parse(&text));
        self.apps.lock().unwrap().insert(key, help.clone());
        help
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORTHO: &str = "Parameters: \n        -io                      <group>          Input and output data \n\
MISSING -io.in                   <string>         Input Image  (mandatory)\n\
MISSING -io.out                  <string> [pixel] Output Image  [pixel=uint8/uint16] (mandatory)\n\
        -outputs.mode            <string>         Parameters estimation modes [auto/autosize]\n\
        -opt.ram                 <int32>          Available RAM (MB)  (optional, off by default, default value is 256)\n\
        -help                    <string list>    Display long help\n\
Use -help param1 [... paramN] to see detailed documentation of those parameters.\n\
otbcli_OrthoRectification -io.in QB_TOULOUSE_MUL_Extract_500_500.tif -io.out QB_Toulouse_ortho.tif\n";

    #[test]
    fn parses_parameters_ram_and_output_images() {
        let help = AppHelp::parse(ORTHO);
        assert_eq!(help.params.len(), 6);
        assert!(help.params["io.out"].output_image);
        assert!(!help.params["io.in"].output_image);
        assert_eq!(help.params["help"].kind, "string list");
        assert_eq!(help.ram_param(), Some("opt.ram"));
        let bundle = AppHelp::parse("        -ram  <int32>  Available RAM (MB)\n");
        assert_eq!(bundle.ram_param(), Some("ram"));
        assert_eq!(AppHelp::parse("").ram_param(), None);
    }
}

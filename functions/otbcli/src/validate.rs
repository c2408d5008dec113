//! Refusals before anything runs, and the plan of a run.
//!
//! [`check_argv`] is all the checking: argv[0] must name an installed OTB application (`otbcli_<App>`, letters and
//! digits only, found in the OTB bin directory: never a path, never PATH), no parameter may load parameters from a
//! file (`-inxml`), and every file argument must be confined (`paths`). A file argument is: anything containing `/`
//! after its extended filename is cut off, anything naming an existing entry of the working directory, and the value
//! of an output parameter. [`plan`] then adds what the application's help tells: the RAM default and which outputs
//! are images.

use std::path::{Path, PathBuf};

use crate::help::AppHelp;
use crate::paths::{split_extended, Confinement};

/// A request refused before anything ran (400); the sentence says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection(pub String);

/// Parameters that make OTB read its parameters from a file, which could name anything.
const FORBIDDEN_PARAMS: &[&str] = &["inxml"];

/// An argv that passed every check.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub(crate) app: String,
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
}

/// A declared output, to be checked after the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Output {
    pub(crate) param: String,
    /// As OTB sees it (extended filename cut off), relative paths taken from the working directory.
    pub(crate) path: String,
    /// An image: it must open with GDAL, not only exist.
    pub(crate) image: bool,
}

/// What runs.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) app: String,
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) outputs: Vec<Output>,
}

/// `-io.in` is a parameter name; `-5` is a value.
fn parameter_name(arg: &str) -> Option<&str> {
    arg.strip_prefix('-')
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_alphabetic()))
}

/// Output parameters by name: `out`, `io.out`, `*.out`, `out.*` (`out.xml`), `outxml`, `outgeom`.
pub(crate) fn output_param(name: &str) -> bool {
    name == "out"
        || name.ends_with(".out")
        || name.starts_with("out.")
        || name == "outxml"
        || name == "outgeom"
}

/// `otbcli_` followed by letters and digits.
fn valid_app_name(name: &str) -> bool {
    name.strip_prefix("otbcli_")
        .is_some_and(|app| !app.is_empty() && app.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Every check that needs no run of anything (see the module documentation).
pub(crate) fn check_argv(
    argv: &[String],
    bin_dir: &Path,
    confinement: &Confinement,
) -> Result<Checked, Rejection> {
    let Some((app, args)) = argv.split_first() else {
        return Err(Rejection(
            "Expected argv to name an OTB application and its arguments, but it is empty"
                .to_owned(),
        ));
    };
    if !valid_app_name(app) {
        return Err(Rejection(format!(
            "Expected argv[0] to be an OTB application name such as otbcli_OrthoRectification (otbcli_ then letters and digits), but found '{app}'"
        )));
    }
    let program = bin_dir.join(app);
    let executable = std::fs::metadata(&program).is_ok_and(|m| {
        use std::os::unix::fs::PermissionsExt as _;
        m.is_file() && m.permissions().mode() & 0o111 != 0
    });
    if !executable {
        return Err(Rejection(format!(
            "Expected {app} to be an OTB application installed in {}, but it is not there",
            bin_dir.display()
        )));
    }
    let mut param = String::new();
    let mut first_value = false;
    for arg in args {
        if arg.contains('\0') {
            return Err(Rejection(format!(
                "Expected the arguments of {app} to be text without NUL bytes, but one has one"
            )));
        }
        if let Some(name) = parameter_name(arg) {
            if FORBIDDEN_PARAMS.contains(&name) {
                return Err(Rejection(format!(
                    "Expected no -{name} parameter (it loads parameters from a file that cannot be checked), but {app} was given one"
                )));
            }
            param = name.to_owned();
            first_value = true;
            continue;
        }
        let known_path = first_value && output_param(&param);
        first_value = false;
        confinement.check_argument(&param, arg, known_path)?;
    }
    Ok(Checked {
        app: app.clone(),
        program,
        args: args.to_vec(),
    })
}

/// The run of `checked`: `-ram`/`-opt.ram` added when the application has one and the caller set none, and the
/// declared outputs (an output image per the help's `[pixel]`, or by name when the help does not know it).
pub(crate) fn plan(checked: Checked, help: &AppHelp, ram_mb: u64, workdir: &Path) -> Plan {
    let mut outputs = Vec::new();
    let mut given = Vec::new();
    let mut iter = checked.args.iter().peekable();
    while let Some(arg) = iter.next() {
        let Some(name) = parameter_name(arg) else {
            continue;
        };
        given.push(name.to_owned());
        let info = help.params.get(name);
        let image = info.is_some_and(|i| i.output_image)
            || (info.is_none() && (name == "out" || name.ends_with(".out")));
        let is_output = image || (output_param(name) && info.is_none_or(|i| i.kind != "group"));
        let value = iter.peek().filter(|v| parameter_name(v).is_none());
        if let (true, Some(value)) = (is_output, value) {
            let (file, _) = split_extended(value);
            let path = if file.starts_with('/') {
                file.to_owned()
            } else {
                workdir.join(file).display().to_string()
            };
            outputs.push(Output {
                param: name.to_owned(),
                path,
                image,
            });
        }
    }
    let mut args = checked.args;
    if let Some(ram) = help.ram_param() {
        if !given.iter().any(|g| g == ram) {
            args.push(format!("-{ram}"));
            args.push(ram_mb.to_string());
        }
    }
    Plan {
        app: checked.app,
        program: checked.program,
        args,
        outputs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn app_names() {
        assert!(valid_app_name("otbcli_OrthoRectification"));
        for bad in [
            "rm",
            "/bin/sh",
            "otbcli_../x",
            "otbcli_",
            "otbcli_a b",
            "/usr/bin/otbcli_Ortho",
        ] {
            assert!(!valid_app_name(bad), "{bad}");
        }
    }

    #[test]
    fn plan_adds_the_ram_default_and_finds_outputs() {
        let help = AppHelp::parse(
            "MISSING -io.out <string> [pixel] Output\n -opt.ram <int32> RAM\n -outxml <string> XML\n",
        );
        let checked = Checked {
            app: "otbcli_OrthoRectification".into(),
            program: "/usr/bin/otbcli_OrthoRectification".into(),
            args: strings(&[
                "-io.in",
                "/d/a.tif",
                "-io.out",
                "b.tif?&gdal:co:TILED=YES",
                "uint16",
                "-outxml",
                "/d/p.xml",
            ]),
        };
        let plan = plan(checked.clone(), &help, 128, Path::new("/d"));
        assert_eq!(&plan.args[7..], &strings(&["-opt.ram", "128"]));
        assert_eq!(
            plan.outputs,
            vec![
                Output {
                    param: "io.out".into(),
                    path: "/d/b.tif".into(),
                    image: true
                },
                Output {
                    param: "outxml".into(),
                    path: "/d/p.xml".into(),
                    image: false
                },
            ]
        );
        let mut own = checked;
        own.args.extend(strings(&["-opt.ram", "1024"]));
        let plan2 = super::plan(own, &help, 128, Path::new("/d"));
        assert_eq!(plan2.args.iter().filter(|a| *a == "-opt.ram").count(), 1);
        assert!(plan2.args.ends_with(&strings(&["1024"])));
        // Without help, `-out` is taken for an image by its name.
        let unknown = Checked {
            app: "otbcli_X".into(),
            program: "/x".into(),
            args: strings(&["-out", "/d/o.tif", "-n", "-5"]),
        };
        let plan3 = super::plan(unknown, &AppHelp::default(), 128, Path::new("/d"));
        assert_eq!(plan3.outputs.len(), 1);
        assert!(plan3.outputs[0].image);
        assert_eq!(plan3.args.len(), 4);
    }
}

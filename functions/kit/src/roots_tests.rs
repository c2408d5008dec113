use std::os::unix::fs::symlink;

use super::*;
use crate::settings::env_of as env;

/// A root holding `in.tif`, `sub/`, a symlink out (`out-link` -> /etc), a dangling symlink and a symlink that stays
/// inside (`inner-link` -> in.tif); a second root; and a directory outside both.
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    second: PathBuf,
    outside: PathBuf,
    roots: DataRoots,
}

fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let (root, second, outside) = (base.join("root"), base.join("second"), base.join("outside"));
    for d in [&root, &second, &outside, &root.join("sub")] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(root.join("in.tif"), b"x").unwrap();
    std::fs::write(outside.join("secret.tif"), b"x").unwrap();
    symlink("/etc", root.join("out-link")).unwrap();
    symlink(outside.join("secret.tif"), root.join("secret-link.tif")).unwrap();
    symlink("/nonexistent/x", root.join("dangling")).unwrap();
    symlink(root.join("in.tif"), root.join("inner-link")).unwrap();
    let text = format!("{}:{}", root.display(), second.display());
    let roots = DataRoots::parse(&text, "APSIS_DATA_ROOTS").unwrap();
    Tree {
        _dir: dir,
        root,
        second,
        outside,
        roots,
    }
}

#[test]
fn paths_inside_a_root_pass_and_come_back_usable() {
    let t = tree();
    let r = &t.roots;
    let p = |s: &str| PathBuf::from(s);
    let inside = t.root.join("in.tif");
    assert_eq!(r.check_input("--in", &inside).unwrap(), inside);
    // Relative: from the first root.
    assert_eq!(r.check_input("--in", &p("in.tif")).unwrap(), inside);
    assert_eq!(
        r.check_input("--in", &p("sub")).unwrap(),
        t.root.join("sub")
    );
    // A symlink that stays inside.
    r.check_input("--in", &p("inner-link")).unwrap();
    // Outputs: new files in an existing directory of any root, or an existing file.
    let new = t.second.join("new.tif");
    assert_eq!(r.check_path("--out", &new).unwrap(), new);
    assert_eq!(
        r.check_path("--out", &p("sub/new.tif")).unwrap(),
        t.root.join("sub/new.tif")
    );
    r.check_path("--out", &inside).unwrap();
    // A root reached through a symlink still confines: its canonical form is what is compared.
    let via = t.outside.join("via-link");
    symlink(&t.root, &via).unwrap();
    r.check_input("--in", &via.join("in.tif")).unwrap();
}

#[test]
fn paths_outside_the_roots_are_refused_with_a_sentence() {
    let t = tree();
    let r = &t.roots;
    let roots = format!("{}:{}", t.root.display(), t.second.display());
    let secret = t.outside.join("secret.tif");
    let missing_dir = t.root.join("nope/out.tif");
    let cases: &[(bool, String, String)] = &[
        // (input?, path, why)
        (
            true,
            "../outside/secret.tif".into(),
            "it contains a '..' component".into(),
        ),
        (
            false,
            format!("{}/sub/../../outside/x.tif", t.root.display()),
            "'..'".into(),
        ),
        (true, "/etc/passwd".into(), "it is outside them".into()),
        (
            false,
            secret.display().to_string(),
            "it is outside them".into(),
        ),
        (
            false,
            t.outside.join("new.tif").display().to_string(),
            "it is outside them".into(),
        ),
        (
            true,
            "out-link/passwd".into(),
            "it resolves to /etc/passwd".into(),
        ),
        (
            false,
            "out-link/new.tif".into(),
            "it resolves to /etc/new.tif".into(),
        ),
        (
            true,
            "secret-link.tif".into(),
            format!("it resolves to {}", secret.display()),
        ),
        (false, "secret-link.tif".into(), "it resolves to".into()),
        (
            false,
            "dangling".into(),
            "a symlink to a place that does not exist".into(),
        ),
        (
            true,
            "dangling".into(),
            "a symlink to a place that does not exist".into(),
        ),
        (true, "missing.tif".into(), "it does not exist".into()),
        (
            false,
            missing_dir.display().to_string(),
            format!(
                "neither it nor its directory {} exists",
                t.root.join("nope").display()
            ),
        ),
        (false, String::new(), "it is empty".into()),
    ];
    for (input, path, why) in cases {
        let what = if *input { "--in_ms" } else { "--out" };
        let check = if *input {
            DataRoots::check_input
        } else {
            DataRoots::check_path
        };
        let e = check(r, what, Path::new(path)).unwrap_err().to_string();
        let expected = format!(
            "Expected the path '{path}' of {what} to be inside the data roots ({roots}), but "
        );
        assert!(e.starts_with(&expected), "{path}: {e}");
        assert!(e.contains(why.as_str()), "{path}: {e}");
    }
}

#[test]
fn roots_are_required_absolute_existing_directories() {
    let t = tree();
    let e = DataRoots::resolve(None, &env(&[])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Expected at least one data root in APSIS_DATA_ROOTS or --data-roots (colon-separated absolute \
         directories), but none is set"
    );
    let e = DataRoots::resolve(None, &env(&[("APSIS_DATA_ROOTS", " : ")])).unwrap_err();
    assert!(matches!(e, Error::NoDataRoots), "{e}");
    let e = DataRoots::resolve(None, &env(&[("APSIS_DATA_ROOTS", "rel/dir")])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Expected the data root rel/dir (from APSIS_DATA_ROOTS) to be an existing absolute directory, but it is not"
    );
    let file = t.root.join("in.tif");
    let e = DataRoots::resolve(Some(file.to_str().unwrap()), &env(&[])).unwrap_err();
    assert!(e.to_string().contains("(from --data-roots)"), "{e}");
    let env = env(&[("APSIS_DATA_ROOTS", t.second.to_str().unwrap())]);
    let flag = format!("{}/./", t.root.display());
    let r = DataRoots::resolve(Some(&flag), &env).unwrap();
    assert_eq!(r.roots(), std::slice::from_ref(&t.root));
    let r = DataRoots::resolve(None, &env).unwrap();
    assert_eq!(
        (r.workdir(), r.to_display()),
        (t.second.as_path(), t.second.display().to_string())
    );
}

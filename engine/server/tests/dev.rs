//! `apsis dev`, `apsis demo` and `apsis submit` as a user runs them: the real binary and its real children (the local
//! function runtime, the worker, callback-ack, otbcli with real OTB, normalize-product with real GDAL) on free
//! loopback ports. Every wait is bounded; every process is killed when its test ends.
//!
//! `apsis dev` finds its children next to itself. When the workspace's binaries are not all next to the test's
//! `apsis` (`cargo test -p apsis-server` builds only its own), the test puts a hard link of `apsis` and symlinks of
//! the others (built by testkit) in a folder of its own: `apsis` resolves its own path to that folder.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use apsis_testkit::{binary, free_port, Captured, ChildGuard};

/// The binaries `apsis dev` runs, with their packages.
const SIBLINGS: &[(&str, &str)] = &[
    ("apsis-faas-local", "apsis-faas-local"),
    ("apsis-worker-faas", "apsis-worker-faas"),
    ("apsis-callback-ack", "apsis-callback-ack"),
    ("otbcli-function", "apsis-otbcli"),
    ("normalize-product", "apsis-normalize-product"),
    ("pms-generate", "apsis-pms-generator"),
];

/// How long the tree may take to start (several processes, a shared machine).
const START_WITHIN: Duration = Duration::from_secs(120);
/// How long a chain on a 400^2 pair may take (debug builds, other tests running).
const CHAIN_WITHIN: Duration = Duration::from_secs(300);

/// `apsis` with every sibling binary next to it.
fn apsis() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let own = PathBuf::from(env!("CARGO_BIN_EXE_apsis"));
        let own_dir = own.parent().unwrap().to_path_buf();
        let siblings: Vec<(&str, PathBuf)> = SIBLINGS
            .iter()
            .map(|(name, package)| (*name, binary(name, package)))
            .collect();
        if siblings
            .iter()
            .all(|(_, p)| p.parent() == Some(own_dir.as_path()))
        {
            return own_dir;
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("apsis-dev-bin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if std::fs::hard_link(&own, dir.join("apsis")).is_err() {
            std::fs::copy(&own, dir.join("apsis")).unwrap();
        }
        for (name, path) in siblings {
            std::os::unix::fs::symlink(path, dir.join(name)).unwrap();
        }
        dir
    });
    dir.join("apsis")
}

/// A running `apsis dev` with its stdout lines on a channel.
struct Dev {
    guard: ChildGuard,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    gateway: String,
    data_dir: tempfile::TempDir,
}

impl Dev {
    fn start() -> Dev {
        let data_dir = tempfile::tempdir().unwrap();
        let gateway = format!("127.0.0.1:{}", free_port());
        let mut guard = ChildGuard::spawn(
            Command::new(apsis())
                .arg("dev")
                .arg("--data-dir")
                .arg(data_dir.path())
                .args(["--gateway-address", &gateway])
                .args([
                    "--monitoring-address",
                    &format!("127.0.0.1:{}", free_port()),
                ])
                .args(["--functions-address", &format!("127.0.0.1:{}", free_port())])
                .args(["--worker-address", &format!("127.0.0.1:{}", free_port())])
                .env("APSIS_LOG_LEVEL", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        );
        let stdout = guard.child().stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut dev = Dev {
            guard,
            lines,
            seen: Vec::new(),
            gateway: format!("http://{gateway}"),
            data_dir,
        };
        dev.wait_for_line("Ctrl-C stops everything.", START_WITHIN);
        dev
    }

    /// Waits for a stdout line containing `text`; panics with what it saw otherwise.
    fn wait_for_line(&mut self, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(line) = self.seen.iter().find(|l| l.contains(text)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "Expected apsis dev to print '{text}' within {within:?}, but it printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn data_root(&self) -> PathBuf {
        self.data_dir.path().join("data")
    }
}

/// Every process descending from `pid` now (from /proc's parent links).
fn descendants(pid: u32) -> BTreeSet<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        if let Some(ppid) = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok())
        {
            parents.push((child, ppid));
        }
    }
    let mut found = BTreeSet::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for (child, _) in parents.iter().filter(|(_, ppid)| *ppid == p) {
            if found.insert(*child) {
                frontier.push(*child);
            }
        }
    }
    found
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

fn assert_all_gone(pids: &BTreeSet<u32>, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Expected every child of apsis dev to be gone within {within:?}, but these still run: {:?}",
            left.iter()
                .map(|p| std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default().replace('\0', " "))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The worker, the runtime and its three functions: five processes under `apsis dev`.
fn wait_for_tree(pid: u32) -> BTreeSet<u32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = descendants(pid);
        if found.len() >= 5 {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "Expected apsis dev to run the worker, the runtime and three functions, but found {} processes",
            found.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn dev_starts_answers_topology_deploys_the_chain_and_leaves_no_child_after_sigterm() {
    let mut dev = Dev::start();
    let deployed = dev.wait_for_line("deployed", Duration::ZERO);
    assert!(
        deployed.contains("pms-chain version") && deployed.contains("pms-chain-hold version"),
        "Expected both chains deployed, but: {deployed}"
    );
    let data_roots = dev.wait_for_line("data roots", Duration::ZERO);
    assert!(
        data_roots.contains(&dev.data_root().display().to_string()),
        "{data_roots}"
    );

    let status = Captured::spawn(Command::new(apsis()).args(["status", "--address", &dev.gateway]))
        .finish(Duration::from_secs(30));
    assert!(
        status.status.success(),
        "Expected Topology to answer, but: {}",
        String::from_utf8_lossy(&status.stderr)
    );

    let children = wait_for_tree(dev.guard.id());
    dev.guard.terminate();
    let exit = dev.guard.exit_status(Duration::from_secs(60));
    assert!(exit.success(), "Expected exit 0 after SIGTERM, but {exit}");
    assert_all_gone(&children, Duration::from_secs(5));
}

#[test]
fn dev_children_stop_on_their_own_when_dev_is_killed() {
    let mut dev = Dev::start();
    let children = wait_for_tree(dev.guard.id());
    // SIGKILL: no cleanup runs in apsis dev; the lifelines reach EOF and every child stops itself.
    dev.guard.kill();
    assert_all_gone(&children, Duration::from_secs(30));
}

#[test]
fn submit_against_dev_completes_on_a_generated_pair() {
    let mut dev = Dev::start();
    let pair = dev.data_root().join("pair");
    let generated = Captured::spawn(
        Command::new(binary("pms-generate", "apsis-pms-generator"))
            .arg("--out")
            .arg(&pair)
            .args(["--size", "400", "--seed", "7"]),
    )
    .finish(Duration::from_secs(60));
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let out = dev.data_root().join("out");
    let submitted = Captured::spawn(
        Command::new(apsis())
            .args(["submit", "--address", &dev.gateway])
            .arg("--pan")
            .arg(pair.join("IMG_P.TIF"))
            .arg("--ms")
            .arg(pair.join("IMG_MS.TIF"))
            .arg("--out")
            .arg(&out),
    )
    .finish(CHAIN_WITHIN);
    let stdout = String::from_utf8_lossy(&submitted.stdout);
    let stderr = String::from_utf8_lossy(&submitted.stderr);
    assert!(
        submitted.status.success(),
        "Expected apsis submit to succeed, but:\n{stdout}\n{stderr}"
    );
    let product = out.join("normalized_ortho.tif");
    assert_eq!(stdout.trim(), product.display().to_string());
    assert!(product.is_file());
    assert!(
        stderr.contains("incident"),
        "Expected the note on incidents, but: {stderr}"
    );

    // A pair OTB cannot read: the chain stops on the failed step (an incident after the re-run's retries), which the
    // Zeebe API cannot show; the wait ends at --timeout with the instance key and where to look.
    let broken = dev.data_root().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    for name in ["IMG_P.TIF", "IMG_MS.TIF", "IMG_P.geom"] {
        std::fs::write(broken.join(name), b"not an image").unwrap();
    }
    let submitted = Captured::spawn(
        Command::new(apsis())
            .args(["submit", "--address", &dev.gateway, "--timeout", "3s"])
            .arg("--pan")
            .arg(broken.join("IMG_P.TIF"))
            .arg("--ms")
            .arg(broken.join("IMG_MS.TIF"))
            .arg("--out")
            .arg(broken.join("out")),
    )
    .finish(Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&submitted.stderr);
    assert_eq!(submitted.status.code(), Some(1), "{stderr}");
    let key = stderr
        .split("instance ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .unwrap_or_default()
        .to_owned();
    assert!(
        !key.is_empty(),
        "Expected the instance key up front, but: {stderr}"
    );
    assert!(
        stderr.contains(&format!("Expected instance {key} to end within 3s"))
            && stderr.contains("Operate")
            && stderr.contains(&format!("process_instance_key={key}")),
        "{stderr}"
    );
    dev.guard.terminate();
    assert!(dev.guard.exit_status(Duration::from_secs(60)).success());
}

#[test]
fn submit_with_a_missing_input_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let pan = dir.path().join("IMG_P.TIF");
    std::fs::write(&pan, b"not an image, but present").unwrap();
    let missing = dir.path().join("nowhere").join("IMG_MS.TIF");
    // Nothing listens at the address: the checks must come before any connection.
    let submit = |ms: &Path| {
        let ran = Captured::spawn(
            Command::new(apsis())
                .args([
                    "submit",
                    "--address",
                    &format!("http://127.0.0.1:{}", free_port()),
                ])
                .arg("--pan")
                .arg(&pan)
                .arg("--ms")
                .arg(ms)
                .arg("--out")
                .arg(dir.path().join("out")),
        )
        .finish(Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&ran.stderr).into_owned();
        (ran.status.code(), stderr)
    };
    let (code, stderr) = submit(&missing);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "Expected the multispectral image (--ms) at {}, but there is no such file",
            missing.display()
        )),
        "{stderr}"
    );

    // The sensor model next to the P image is checked too (the chain's default).
    let ms = dir.path().join("IMG_MS.TIF");
    std::fs::write(&ms, b"present").unwrap();
    let (code, stderr) = submit(&ms);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&dir.path().join("IMG_P.geom").display().to_string()),
        "{stderr}"
    );
}

#[test]
fn demo_runs_the_chain_on_a_400_pair_and_prints_the_summary() {
    let keep = tempfile::tempdir().unwrap();
    let ran = Captured::spawn(
        Command::new(apsis())
            .args(["demo", "--size", "400", "--keep"])
            .arg(keep.path())
            .env("APSIS_LOG_LEVEL", "info"),
    )
    .finish(CHAIN_WITHIN);
    let stdout = String::from_utf8_lossy(&ran.stdout);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(
        ran.status.success(),
        "Expected apsis demo to succeed, but:\n{stdout}\n{stderr}"
    );
    for expected in [
        "bundle",
        "ortho",
        "normalize",
        "Summary",
        "total",
        "orchestration",
        "normalized_ortho.tif",
    ] {
        assert!(
            stdout.contains(expected),
            "Expected '{expected}' in:\n{stdout}"
        );
    }
    let out = keep.path().join("data").join("out");
    for file in ["bundle.tif", "ortho.tif", "normalized_ortho.tif"] {
        assert!(
            out.join(file).is_file(),
            "Expected {file} in {}",
            out.display()
        );
    }
    assert!(
        !out.join("normalized_ortho.tif.aux.xml").exists(),
        "the checks must not write next to the product"
    );
}

/// `apsis dev` alone in its folder: the missing binary is named, with the command that builds it, before anything starts.
#[test]
fn a_missing_binary_is_named_with_how_to_build_it() {
    let dir = tempfile::tempdir().unwrap();
    let own = PathBuf::from(env!("CARGO_BIN_EXE_apsis"));
    let lonely = dir.path().join("apsis");
    if std::fs::hard_link(&own, &lonely).is_err() {
        std::fs::copy(&own, &lonely).unwrap();
    }
    let ran = Captured::spawn(
        Command::new(&lonely)
            .arg("dev")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--gateway-address", &format!("127.0.0.1:{}", free_port())]),
    )
    .finish(Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert_eq!(ran.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("Expected the binary apsis-faas-local next to apsis in")
            && stderr.contains("cargo build --release --bins"),
        "{stderr}"
    );
    assert!(
        !Path::new(&dir.path().join("data").join("engine")).exists(),
        "nothing may start before the check"
    );
}

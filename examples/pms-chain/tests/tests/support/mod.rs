//! The whole chain as real processes on loopback, under one temporary data root:
//!
//! - `apsis engine` (testkit's [`EngineProcess`]);
//! - `apsis-faas-local` running the real functions from a stack.yml written here: `otbcli` (`otbcli-function`, the
//!   data root as its only `APSIS_DATA_ROOTS`), `normalize-product` (`normalize-product serve`) and `callback-ack`
//!   (the shared key, the engine's address, a 100 ms retry backoff so that Zeebe's retries take no 30 s each);
//! - `apsis-worker-faas`, calling the runtime for both the `openfaas` and `local` backends, its callbacks going to
//!   `{runtime}/function/callback-ack` as on OpenFaaS.
//!
//! Pairs are written by the real `pms-generate` into the data root. When a test panics, the [`Stack`]'s drop prints
//! the tail of each process's log (the runtime's carries the functions' own lines).

#![allow(dead_code)] // each test binary uses its own part

pub mod product;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use apsis_testkit::{
    binary, worker_test_sections, Captured, EngineOpts, EngineProcess, FaasLocal, Ran,
    WorkerProcess,
};
use serde_json::{json, Value};

/// 32 bytes or more: the shortest key the worker and callback-ack accept.
pub const KEY: &str = "pms-chain-tests-callback-key-0123456789";
/// The side of the generated P image (MS: a quarter of it): OTB takes well under a second per step.
pub const SIZE: u32 = 400;
/// How many lines of each log a failing test prints.
const TAIL: usize = 40;

/// The processes of one chain and its data root; everything stops and is removed when dropped.
pub struct Stack {
    pub engine: EngineProcess,
    pub runtime: FaasLocal,
    pub worker: WorkerProcess,
    /// The temporary directory holding the data root and the configuration (outside the root).
    pub dir: tempfile::TempDir,
    /// The data root (canonical): the functions' only `APSIS_DATA_ROOTS`.
    pub root: PathBuf,
}

/// A generated P/MS pair and the output directory of its run.
#[derive(Debug, Clone)]
pub struct Pair {
    pub dir: PathBuf,
    pub pan: PathBuf,
    pub ms: PathBuf,
    pub geom: PathBuf,
    pub dem: Option<PathBuf>,
    pub out: PathBuf,
    /// The side of the P image in pixels (the MS image has a quarter of it).
    pub size: u32,
    seed: u64,
}

impl Stack {
    /// Starts the engine, the runtime with its three functions, and the worker.
    pub async fn start() -> Stack {
        Stack::start_with_exec_timeout("5m").await
    }

    /// [`Stack::start`] with the functions' `exec_timeout` (a stack.yml duration such as `30m`): larger pairs take
    /// longer than the tests' 5 minutes.
    pub async fn start_with_exec_timeout(exec_timeout: &str) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir(&root).unwrap();
        let root = root.canonicalize().unwrap();
        let engine = EngineProcess::start(EngineOpts::new(binary("apsis", "apsis-server")));
        let stack = dir.path().join("stack.yml");
        std::fs::write(
            &stack,
            stack_yml(&engine.gateway_url(), &root, exec_timeout),
        )
        .unwrap();
        let runtime = FaasLocal::start(&stack, &[]);
        let config = dir.path().join("worker.toml");
        std::fs::write(
            &config,
            format!(
                r#"activation_timeout_ms = 30000
openfaas_url = "{runtime}"
local_url = "{runtime}"
callback_url = "{runtime}/function/callback-ack"
listen_address = "127.0.0.1:0"
shutdown_grace_ms = 1000
{sections}"#,
                runtime = runtime.url(),
                sections = worker_test_sections(&engine.gateway_url()),
            ),
        )
        .unwrap();
        let worker = WorkerProcess::start(
            binary("apsis-worker-faas", "apsis-worker-faas"),
            &config,
            &[("APSIS_CALLBACK_KEY", KEY)],
        );
        Stack {
            engine,
            runtime,
            worker,
            dir,
            root,
        }
    }

    /// Deploys `examples/pms-chain/<name>`.
    pub async fn deploy_example(&self, name: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name);
        self.engine.deploy_file(&path).await;
    }

    /// Deploys `tests/fixtures/<name>` of this package.
    pub async fn deploy_fixture(&self, name: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        self.engine.deploy_file(&path).await;
    }

    /// Generates a pair in `<root>/<name>` (with a DEM if asked) and creates its output directory `<root>/<name>/out`.
    pub fn pair(&self, name: &str, seed: u64, dem: bool) -> Pair {
        Pair::generate(&self.root.join(name), seed, dem)
    }

    /// [`Stack::pair`] with a P image `size` pixels a side.
    pub fn pair_sized(&self, name: &str, size: u32, seed: u64, dem: bool) -> Pair {
        Pair::generate_sized(&self.root.join(name), size, seed, dem)
    }

    /// Runs `process` to its end (at most `within`), panicking with the gateway's answer if it does not end.
    pub async fn run(&self, process: &str, variables: Value, within: Duration) -> Value {
        match self.engine.run(process, variables, within).await {
            Ok((_, variables)) => variables,
            Err(e) => panic!(
                "Expected an instance of {process} to complete within {within:?}, but: {e}; open incidents: {:#?}",
                self.engine.incidents()
            ),
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let engine: Vec<String> = {
            let lines = self.engine.log_lines();
            let from = lines.len().saturating_sub(TAIL);
            lines[from..].iter().map(Value::to_string).collect()
        };
        eprintln!(
            "---- engine log (last {TAIL} lines)\n{}\n---- apsis-faas-local log, with the functions' lines (last {TAIL})\n{}\n---- worker log (last {TAIL})\n{}\n----",
            engine.join("\n"),
            self.runtime.logs().tail(TAIL),
            self.worker.logs().tail(TAIL),
        );
    }
}

impl Pair {
    /// Runs `pms-generate --out dir --size SIZE --seed seed [--dem]` and creates `dir/out`.
    pub fn generate(dir: &Path, seed: u64, dem: bool) -> Pair {
        Pair::generate_sized(dir, SIZE, seed, dem)
    }

    /// [`Pair::generate`] with a P image `size` pixels a side.
    pub fn generate_sized(dir: &Path, size: u32, seed: u64, dem: bool) -> Pair {
        let mut command = Command::new(binary("pms-generate", "apsis-pms-generator"));
        command.arg("--out").arg(dir).args([
            "--size",
            &size.to_string(),
            "--seed",
            &seed.to_string(),
        ]);
        if dem {
            command.arg("--dem");
        }
        // pms-generate writes about 3 Mpixel/s on this machine: 30 s for the tests' pairs, minutes for 8000^2.
        let within = Duration::from_secs(30 + u64::from(size) * u64::from(size) / 200_000);
        let ran = Ran::from(Captured::spawn(&mut command).finish(within));
        assert_eq!(ran.code, 0, "pms-generate: {ran:#?}");
        let out = dir.join("out");
        std::fs::create_dir_all(&out).unwrap();
        Pair {
            dir: dir.to_path_buf(),
            pan: dir.join("IMG_P.TIF"),
            ms: dir.join("IMG_MS.TIF"),
            geom: dir.join("IMG_P.geom"),
            dem: dem.then(|| dir.join("dem")),
            out,
            size,
            seed,
        }
    }

    /// Writes the same pair again (same seed): the operator's repair of a damaged input.
    pub fn regenerate(&self) {
        Pair::generate_sized(&self.dir, self.size, self.seed, self.dem.is_some());
    }

    /// The same pair with its output directory `out` (created): another run of the chain on the same inputs.
    pub fn with_out(&self, out: &Path) -> Pair {
        std::fs::create_dir_all(out).unwrap();
        Pair {
            out: out.to_path_buf(),
            ..self.clone()
        }
    }

    /// The creation variables of pms-chain / pms-chain-hold: `pan`, `ms`, `out`, and `dem` when there is one;
    /// `geom` is left to its default (the P image's `.geom`) unless `with_geom`.
    pub fn variables(&self, with_geom: bool) -> Value {
        let mut v = json!({
            "pan": self.pan.display().to_string(),
            "ms": self.ms.display().to_string(),
            "out": self.out.display().to_string(),
        });
        if with_geom {
            v["geom"] = json!(self.geom.display().to_string());
        }
        if let Some(dem) = &self.dem {
            v["dem"] = json!(dem.display().to_string());
        }
        v
    }

    /// `{{out}}/normalized_ortho.tif`: what the `product` variable must name.
    pub fn product(&self) -> PathBuf {
        self.out.join("normalized_ortho.tif")
    }
}

/// The functions, each run from its debug binary: otbcli and normalize-product one run at a time (their
/// `stack.yml` setting), callback-ack with a short FailJob backoff.
fn stack_yml(engine: &str, root: &Path, exec_timeout: &str) -> String {
    format!(
        r#"version: 1.0
provider: {{name: openfaas, gateway: http://127.0.0.1:8080}}
functions:
  otbcli:
    image: apsis/otbcli:test
    x-apsis-local:
      fprocess: ["{otbcli}"]
      max_inflight: 1
      exec_timeout: {exec_timeout}
      environment:
        APSIS_DATA_ROOTS: "{root}"
  normalize-product:
    image: apsis/normalize-product:test
    x-apsis-local:
      fprocess: ["{normalize}", "serve"]
      max_inflight: 1
      exec_timeout: {exec_timeout}
      environment:
        APSIS_DATA_ROOTS: "{root}"
  callback-ack:
    image: apsis/callback-ack:test
    x-apsis-local:
      fprocess: ["{ack}"]
      environment:
        APSIS_CALLBACK_KEY: "{KEY}"
        ZEEBE_ADDRESS: "{engine}"
        APSIS_JOB_RETRY_BACKOFF_MS: "100"
"#,
        otbcli = binary("otbcli-function", "apsis-otbcli").display(),
        normalize = binary("normalize-product", "apsis-normalize-product").display(),
        ack = binary("apsis-callback-ack", "apsis-callback-ack").display(),
        root = root.display(),
    )
}

/// Every regular file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

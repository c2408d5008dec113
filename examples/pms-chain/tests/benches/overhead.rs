//! The orchestration overhead of the OTB chain: each step run directly (the argv and environment the functions
//! use, without a shell) against the same pair through Apsis (`pms-chain`, receive-task mode: engine, worker,
//! local OpenFaaS runtime, functions, callback-ack, all real processes on loopback; `tests/support/mod.rs`).
//!
//! ```sh
//! cargo bench -p apsis-pms-chain-tests --bench overhead [-- --size 2000 --size 8000 --reps N --dem]
//! ```
//!
//! Defaults: sizes 2000 and 8000, 3 repetitions below 8000^2 and 1 from there, no DEM. Repetitions alternate which
//! of the two runs goes first, to spread the machine's noise; every repetition is printed, then the medians.
//! The products of every run are checked (`tests/support/product.rs`), so a broken chain cannot give figures.
//! A benchmark, not a test: it prints figures and asserts no timing.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use apsis_proto::gateway_protocol as pb;
use apsis_testkit::{binary, Captured, Ran};
use serde_json::{json, Value};
use support::{product, Pair, Stack};

/// The steps, in the chain's order (their ids and result variables in `pms-chain.bpmn`).
const STEPS: [&str; 3] = ["bundle", "ortho", "normalize"];
/// otbcli-function's defaults (`functions/otbcli/src/config.rs`): `GDAL_CACHEMAX`, and `OTB_MAX_RAM_HINT` plus the
/// `-ram` / `-opt.ram` it adds when the command line sets none.
const GDAL_CACHEMAX_MB: &str = "64";
const OTB_RAM_MB: &str = "128";
/// The bound on one step or one chain: far above what 8000^2 takes on a loaded 2-core machine.
const WITHIN: Duration = Duration::from_secs(3600);
/// The targets of the issue: overhead per chain under 1 s and under 3 %.
const TARGET_S: f64 = 1.0;
const TARGET_PCT: f64 = 3.0;

struct Options {
    sizes: Vec<u32>,
    reps: Option<usize>,
    dem: bool,
}

impl Options {
    /// `--size N` (repeatable), `--reps N`, `--dem`; cargo's own `--bench` is ignored. The environment variables
    /// `APSIS_BENCH_SIZES` (comma-separated), `APSIS_BENCH_REPS` and `APSIS_BENCH_DEM=1` do the same.
    fn parse() -> Options {
        let mut options = Options {
            sizes: Vec::new(),
            reps: None,
            dem: false,
        };
        if let Ok(sizes) = std::env::var("APSIS_BENCH_SIZES") {
            options.sizes = sizes
                .split(',')
                .map(|s| number(s.trim(), "APSIS_BENCH_SIZES"))
                .collect();
        }
        if let Ok(reps) = std::env::var("APSIS_BENCH_REPS") {
            options.reps = Some(number(&reps, "APSIS_BENCH_REPS"));
        }
        options.dem = std::env::var("APSIS_BENCH_DEM").is_ok_and(|v| v == "1");
        let mut args = std::env::args().skip(1);
        let mut sizes_given = Vec::new();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--size" => sizes_given.push(number(&args.next().unwrap_or_default(), "--size")),
                "--reps" => options.reps = Some(number(&args.next().unwrap_or_default(), "--reps")),
                "--dem" => options.dem = true,
                "--bench" => {}
                other => panic!("Expected --size N, --reps N or --dem, but found {other:?}"),
            }
        }
        if !sizes_given.is_empty() {
            options.sizes = sizes_given;
        }
        if options.sizes.is_empty() {
            options.sizes = vec![2000, 8000];
        }
        options
    }

    fn reps(&self, size: u32) -> usize {
        self.reps.unwrap_or(if size < 8000 { 3 } else { 1 })
    }
}

fn number<T: std::str::FromStr>(text: &str, what: &str) -> T {
    text.parse()
        .unwrap_or_else(|_| panic!("Expected a positive number for {what}, but found {text:?}"))
}

/// One repetition's figures, in seconds.
#[derive(Debug, Clone, Default)]
struct Figures {
    direct: [f64; 3],
    /// `<step>.durationSeconds`: the call as the function's runtime measured it.
    function: [f64; 3],
    /// `<step>.output.durationSeconds`: the program's own run inside the function (the function's answer), when
    /// it gives one. The difference to `function` is the function's work around the program (otbcli-function:
    /// reading `-help` once per application and process, checking the outputs with gdalinfo).
    program: [Option<f64>; 3],
    /// The Apsis chain from CreateProcessInstanceWithResult to its answer.
    wall: f64,
}

impl Figures {
    fn direct_sum(&self) -> f64 {
        self.direct.iter().sum()
    }
    fn function_sum(&self) -> f64 {
        self.function.iter().sum()
    }
    fn overhead(&self) -> f64 {
        self.wall - self.direct_sum()
    }
    fn orchestration(&self) -> f64 {
        self.wall - self.function_sum()
    }
}

fn uptime() -> (String, f64) {
    let ran =
        Ran::from(Captured::spawn(&mut Command::new("uptime")).finish(Duration::from_secs(10)));
    let line = ran.stdout.trim().to_owned();
    let load1 = line
        .rsplit("load average:")
        .next()
        .and_then(|l| l.split(',').next())
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(f64::NAN);
    (line, load1)
}

fn print_load(when: &str) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (line, load1) = uptime();
    println!("load at {when}: {line}");
    if load1 > cores as f64 {
        println!(
            "  (the machine is shared: a 1-minute load of {load1} on {cores} cores means other work competed with \
             these runs; the figures are noisy)"
        );
    }
}

/// The three steps' argv and environment as the functions run them, on `pair`'s files, writing into `out`.
fn direct_steps(pair: &Pair, out: &Path) -> Vec<(&'static str, Command)> {
    let dem: Vec<String> = pair
        .dem
        .iter()
        .flat_map(|d| ["-elev.dem".to_owned(), d.display().to_string()])
        .collect();
    let otb = |app: &str, args: Vec<String>, ram: &str| {
        // otbcli-function: the program from its OTB bin directory, the caller's arguments, then its RAM parameter;
        // GDAL_CACHEMAX and OTB_MAX_RAM_HINT set; run in the first data root.
        let mut command = Command::new(Path::new("/usr/bin").join(app));
        command
            .args(args)
            .args(&dem)
            .args([ram, OTB_RAM_MB])
            .env("GDAL_CACHEMAX", GDAL_CACHEMAX_MB)
            .env("OTB_MAX_RAM_HINT", OTB_RAM_MB)
            .current_dir(pair.dir.parent().expect("the pair is in the data root"));
        command
    };
    let s = |p: &Path| p.display().to_string();
    let bundle = otb(
        "otbcli_BundleToPerfectSensor",
        vec![
            "-inp".into(),
            s(&pair.pan),
            "-inxs".into(),
            s(&pair.ms),
            "-out".into(),
            s(&out.join("bundle.tif")),
            "uint16".into(),
        ],
        "-ram",
    );
    let ortho = otb(
        "otbcli_OrthoRectification",
        vec![
            "-io.in".into(),
            format!("{}?&geom={}", s(&out.join("bundle.tif")), s(&pair.geom)),
            "-io.out".into(),
            s(&out.join("ortho.tif")),
            "uint16".into(),
        ],
        "-opt.ram",
    );
    // normalize-product serve runs the same code as the CLI, in the runtime's environment (no GDAL_CACHEMAX: the
    // program's own default).
    let mut normalize = Command::new(binary("normalize-product", "apsis-normalize-product"));
    normalize.args([
        "--in_ms",
        &s(&pair.ms),
        "--in_ortho",
        &s(&out.join("ortho.tif")),
        "--out",
        &s(&out.join("normalized_ortho.tif")),
    ]);
    vec![
        ("bundle", bundle),
        ("ortho", ortho),
        ("normalize", normalize),
    ]
}

/// Runs the three steps directly into a fresh `out`, checks the products, and returns each step's wall time.
fn run_direct(pair: &Pair, out: &Path) -> [f64; 3] {
    std::fs::create_dir_all(out).unwrap();
    let mut times = [0.0; 3];
    for (i, (step, mut command)) in direct_steps(pair, out).into_iter().enumerate() {
        let started = Instant::now();
        let ran = Ran::from(Captured::spawn(&mut command).finish(WITHIN));
        times[i] = started.elapsed().as_secs_f64();
        assert_eq!(ran.code, 0, "{step} run directly: {command:?}\n{ran:#?}");
    }
    let direct = pair.with_out(out);
    product::check(&direct, &json!(direct.product().display().to_string()));
    times
}

/// Runs the pair through `pms-chain` into a fresh `out`, checks the products, and returns the chain's wall time
/// and each step's `durationSeconds`.
async fn run_apsis(stack: &Stack, pair: &Pair, out: &Path) -> (f64, [f64; 3], [Option<f64>; 3]) {
    let through = pair.with_out(out);
    let mut client = stack.engine.client().await;
    let request = pb::CreateProcessInstanceWithResultRequest {
        request: Some(pb::CreateProcessInstanceRequest {
            bpmn_process_id: "pms-chain".into(),
            version: -1,
            variables: through.variables(true).to_string(),
            ..Default::default()
        }),
        request_timeout: WITHIN.as_millis() as i64,
        fetch_variables: vec![],
    };
    let started = Instant::now();
    let answer = client.create_process_instance_with_result(request).await;
    let wall = started.elapsed().as_secs_f64();
    let answer = answer.unwrap_or_else(|e| {
        panic!(
            "Expected pms-chain to complete, but: {e}; open incidents: {:#?}",
            stack.engine.incidents()
        )
    });
    let vars: Value = serde_json::from_str(&answer.into_inner().variables).unwrap();
    product::check(&through, &vars["product"]);
    let mut function = [0.0; 3];
    let mut program = [None; 3];
    for (i, step) in STEPS.iter().enumerate() {
        assert_eq!(vars[step]["ok"], true, "{step}: {vars}");
        function[i] = vars[step]["durationSeconds"].as_f64().unwrap_or_else(|| {
            panic!("Expected {step}.durationSeconds, but the variables are {vars}")
        });
        program[i] = vars[step]["output"]["durationSeconds"].as_f64();
    }
    (wall, function, program)
}

fn pct(part: f64, of: f64) -> f64 {
    100.0 * part / of
}

fn verdict(seconds: f64, percent: f64) -> String {
    let one = |ok: bool| if ok { "met" } else { "NOT met" };
    format!(
        "< {TARGET_S} s: {}; < {TARGET_PCT} %: {}",
        one(seconds < TARGET_S),
        one(percent < TARGET_PCT)
    )
}

fn print_figures(title: &str, f: &Figures) {
    println!("{title}");
    println!(
        "  {:<10} {:>10} {:>28} {:>22}",
        "step", "direct s", "through Apsis (function) s", "of which the program s"
    );
    for (i, step) in STEPS.iter().enumerate() {
        let program = f.program[i].map_or("-".to_owned(), |p| format!("{p:.2}"));
        println!(
            "  {step:<10} {:>10.2} {:>28.2} {program:>22}",
            f.direct[i], f.function[i]
        );
    }
    let (direct, wall) = (f.direct_sum(), f.wall);
    println!(
        "  chain: sum of direct {direct:.2} s; wall through Apsis {wall:.2} s (sum of function durations {:.2} s)",
        f.function_sum()
    );
    println!(
        "  overhead = wall - sum(direct) = {:.2} s ({:.1} % of sum(direct)): target {}",
        f.overhead(),
        pct(f.overhead(), direct),
        verdict(f.overhead(), pct(f.overhead(), direct))
    );
    println!(
        "  orchestration = wall - sum(function durations) = {:.2} s ({:.1} % of the wall): target {}",
        f.orchestration(),
        pct(f.orchestration(), wall),
        verdict(f.orchestration(), pct(f.orchestration(), wall))
    );
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Each figure's median over the repetitions (so the medians' sums need not add up exactly).
fn medians(all: &[Figures]) -> Figures {
    let of = |f: &dyn Fn(&Figures) -> f64| median(all.iter().map(f).collect());
    let mut m = Figures {
        wall: of(&|f| f.wall),
        ..Figures::default()
    };
    for i in 0..3 {
        m.direct[i] = of(&|f| f.direct[i]);
        m.function[i] = of(&|f| f.function[i]);
        m.program[i] = all
            .iter()
            .map(|f| f.program[i])
            .collect::<Option<Vec<f64>>>()
            .map(median);
    }
    m
}

fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = Options::parse();
    print_load("start");
    let stack = Stack::start_with_exec_timeout("60m").await;
    stack.deploy_example("pms-chain.bpmn").await;
    println!(
        "stack: apsis engine, apsis-faas-local (otbcli-function, normalize-product serve, apsis-callback-ack), \
         apsis-worker-faas; binaries {}",
        binary("apsis", "apsis-server").parent().unwrap().display()
    );
    for &size in &options.sizes {
        let reps = options.reps(size);
        let dem = if options.dem { "with DEM" } else { "no DEM" };
        let pair = stack.pair_sized(&format!("pair-{size}"), size, 42, options.dem);
        println!(
            "\n== {size}^2 P / {}^2 x 4 MS, {dem}, {reps} repetition(s), direct and Apsis alternating ==",
            size / 4
        );
        let mut all = Vec::new();
        for rep in 0..reps {
            let direct_out: PathBuf = pair.dir.join(format!("direct-{rep}"));
            let apsis_out: PathBuf = pair.dir.join(format!("apsis-{rep}"));
            let mut f = Figures::default();
            let direct_first = rep % 2 == 0;
            if direct_first {
                f.direct = run_direct(&pair, &direct_out);
            }
            (f.wall, f.function, f.program) = run_apsis(&stack, &pair, &apsis_out).await;
            if !direct_first {
                f.direct = run_direct(&pair, &direct_out);
            }
            remove(&direct_out);
            remove(&apsis_out);
            let order = if direct_first {
                "direct first"
            } else {
                "Apsis first"
            };
            print_figures(
                &format!("repetition {}/{reps} ({order}; products checked)", rep + 1),
                &f,
            );
            all.push(f);
        }
        if reps > 1 {
            print_figures(
                &format!("median of {reps} ({size}^2), each figure's own median"),
                &medians(&all),
            );
            let overhead = median(all.iter().map(Figures::overhead).collect());
            let overhead_pct = median(
                all.iter()
                    .map(|f| pct(f.overhead(), f.direct_sum()))
                    .collect(),
            );
            let orchestration = median(all.iter().map(Figures::orchestration).collect());
            let orchestration_pct =
                median(all.iter().map(|f| pct(f.orchestration(), f.wall)).collect());
            println!(
                "  median of the repetitions' overheads: {overhead:.2} s ({overhead_pct:.1} %): target {}",
                verdict(overhead, overhead_pct)
            );
            println!(
                "  median of the repetitions' orchestration shares: {orchestration:.2} s ({orchestration_pct:.1} %): \
                 target {}",
                verdict(orchestration, orchestration_pct)
            );
        }
        remove(&pair.dir);
    }
    println!();
    print_load("end");
}

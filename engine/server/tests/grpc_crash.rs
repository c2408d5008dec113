//! SIGKILL under gRPC load, through the load benchmark itself: `apsis-grpc-bench --kill-every` starts the real
//! `apsis engine` binary, drives W1 over gRPC with streaming and polling workers, kills the engine with SIGKILL at
//! jittered moments and restarts it on the same data directory and ports; the clients reconnect. At the end the
//! benchmark proves from its ledger of acknowledgements and the engine's durable instance counts that no
//! acknowledged creation or job completion was lost and none was done twice (see the bench's `chaos.rs`), and exits
//! non-zero otherwise. The figures of a longer run are in README.

use std::process::Command;

#[test]
fn sigkill_during_the_load_benchmark_loses_no_acknowledged_instance_or_completion() {
    let out = Command::new(env!("CARGO_BIN_EXE_apsis-grpc-bench"))
        .args([
            "--workload",
            "w1",
            "--instances",
            "6000",
            "--in-flight",
            "64",
        ])
        .args(["--workers", "2", "--kill-every", "400", "--kills", "4"])
        .args(["--engine-bin", env!("CARGO_BIN_EXE_apsis")])
        .output()
        .expect("run apsis-grpc-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "the benchmark found a loss or failed: {stdout}{stderr}"
    );
    assert!(
        stdout.contains("w1 under SIGKILL: 4 kills"),
        "every kill happened during the load: {stdout}"
    );
    assert!(stdout.contains("lost creations 0, lost completions 0, double completions 0"));
    assert!(stdout.contains("OK, nothing acknowledged was lost or done twice"));
}

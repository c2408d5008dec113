//! The workspace's dependency rules, all in one table, checked over `cargo metadata` (as Zeebe's ArchitectureTest
//! checks its modules), and the source scans that keep pure modules free of clocks, randomness and I/O.
//!
//! It lives in the test-support crate because it belongs to no layer: it reads every crate's rules, and a crate's
//! own tests would only see its own. Each crate's `lib.rs` states the rule in prose; this is where it is enforced.

use std::collections::BTreeSet;

use apsis_testkit::{cargo_metadata_graph, scan_sources, Graph};

/// What one package may and may not depend on, through normal (shipped) dependencies.
struct Rule {
    package: &'static str,
    why: &'static str,
    /// If set, its direct normal dependencies are only these.
    only: Option<&'static [&'static str]>,
    /// Packages it must not reach, directly or transitively.
    never: &'static [&'static str],
    /// Packages through which `never` is not followed (see the core's rule).
    except_through: &'static [&'static str],
    /// Packages it must reach: proof that the graph is read, so the rule can fail.
    reaches: &'static [&'static str],
}

const ENGINE: &[&str] = &["apsis-core", "apsis-store", "apsis-server"];
/// Everything of Zeebe in Apsis: what an OTB/GDAL function (which runs unchanged under OpenFaaS) must not link.
const ZEEBE: &[&str] = &[
    "apsis-core",
    "apsis-store",
    "apsis-server",
    "apsis-bpmn",
    "apsis-proto",
    "apsis-client",
    "apsis-worker-faas",
];
/// FEEL (dsntk): see the core's rule.
const DSNTK: &[&str] = &[
    "dsntk-feel-evaluator",
    "dsntk-feel-temporal",
    "dsntk-feel",
    "dsntk-common",
];

const RULES: &[Rule] = &[
    Rule {
        package: "apsis-core",
        why: "the core is a pure state machine: no async runtime, RPC, store or server",
        only: Some(&[
            "apsis-bpmn",
            "serde",
            "serde_json",
            "thiserror",
            "postcard",
            "rustc-hash",
        ]),
        never: &["tokio", "tonic", "hyper", "apsis-store", "apsis-server"],
        // FEEL's evaluator (dsntk) links reqwest for Java/PMML externals, which Apsis rejects at parse time; that
        // is the only way an async runtime or HTTP may enter the core's build, and nothing of it is ever called.
        except_through: DSNTK,
        reaches: &["apsis-bpmn"],
    },
    Rule {
        package: "apsis-bpmn",
        why: "the BPMN compiler knows nothing of the engine",
        only: None,
        never: &[
            "apsis-core",
            "apsis-store",
            "apsis-server",
            "tokio",
            "tonic",
        ],
        except_through: DSNTK,
        reaches: &["quick-xml"],
    },
    Rule {
        package: "apsis-store",
        why: "the store knows nothing of the engine, async runtimes or serialization formats",
        // redb and fjall only behind `bench-compare` (see `optional_only` below).
        only: Some(&["thiserror", "crc32fast", "fs4", "redb", "fjall"]),
        never: &[
            "apsis-core",
            "apsis-bpmn",
            "apsis-server",
            "tokio",
            "tonic",
            "serde",
        ],
        except_through: &[],
        reaches: &["crc32fast"],
    },
    Rule {
        package: "apsis-client",
        why: "a worker depending on the client links no engine",
        only: None,
        never: &["apsis-core", "apsis-store", "apsis-server", "apsis-bpmn"],
        except_through: &[],
        reaches: &["apsis-proto"],
    },
    Rule {
        package: "apsis-worker-faas",
        why: "the worker is a Zeebe client like any other, so it works unchanged against Camunda 8",
        only: None,
        never: ENGINE,
        except_through: &[],
        reaches: &["apsis-client"],
    },
    Rule {
        package: "apsis-callback-ack",
        why: "callback-ack is a Zeebe client like the worker",
        only: None,
        never: ENGINE,
        except_through: &[],
        reaches: &["apsis-worker-faas", "apsis-client", "apsis-function-kit"],
    },
    Rule {
        package: "apsis-faas-local",
        why: "the local runtime knows OpenFaaS, not Zeebe: no Apsis crate at all",
        only: None,
        never: &[
            "apsis-core",
            "apsis-store",
            "apsis-server",
            "apsis-bpmn",
            "apsis-proto",
            "apsis-client",
            "apsis-worker-faas",
            "apsis-callback-ack",
        ],
        except_through: &[],
        reaches: &["axum"],
    },
    Rule {
        package: "apsis-function-kit",
        why: "what the functions share knows of-watchdog and HTTP, not Zeebe: every function may use it",
        only: None,
        never: ZEEBE,
        except_through: &[],
        reaches: &["axum"],
    },
    Rule {
        package: "apsis-function-kit",
        why: "what the functions share knows no function, nor OTB, GDAL or gRPC",
        only: None,
        never: &[
            "apsis-callback-ack",
            "apsis-otbcli",
            "apsis-normalize-product",
            "apsis-faas-local",
            "gdal",
            "tonic",
        ],
        except_through: &[],
        reaches: &["tracing-subscriber"],
    },
    Rule {
        package: "apsis-otbcli",
        why: "a function knows its HTTP contract and OTB, not Zeebe: it runs unchanged under OpenFaaS",
        only: None,
        never: ZEEBE,
        except_through: &[],
        reaches: &["axum", "apsis-function-kit"],
    },
    Rule {
        package: "apsis-normalize-product",
        why: "a function knows its HTTP contract and GDAL, not Zeebe: it runs unchanged under OpenFaaS",
        only: None,
        never: ZEEBE,
        except_through: &[],
        reaches: &["gdal", "apsis-function-kit"],
    },
    Rule {
        package: "apsis-pms-generator",
        why: "the synthetic pair generator is a GDAL tool, nothing of the engine",
        only: None,
        never: ENGINE,
        except_through: &[],
        reaches: &["gdal"],
    },
    Rule {
        package: "apsis-pms-chain-tests",
        why: "the chain's acceptance tests are test code only: every dependency is a dev-dependency",
        only: Some(&[]),
        never: &[],
        except_through: &[],
        reaches: &[],
    },
    Rule {
        package: "apsis-server",
        why: "the runtime is built on the core and the store",
        only: None,
        never: &[],
        except_through: &[],
        reaches: &["apsis-core", "apsis-store"],
    },
];

/// Optional-only normal dependencies: (package, dependency).
const OPTIONAL_ONLY: &[(&str, &str)] = &[("apsis-store", "redb"), ("apsis-store", "fjall")];

/// Every way `graph` breaks `rules`, as sentences.
fn violations(graph: &Graph, rules: &[Rule]) -> Vec<String> {
    let mut found = Vec::new();
    for rule in rules {
        let (package, why) = (rule.package, rule.why);
        if let Some(only) = rule.only {
            // As resolved, and as declared (an optional dependency not enabled by default is declared only).
            let declared = graph.package(package).declared.iter();
            let normal = declared
                .filter(|(_, kind, _)| kind == "normal")
                .map(|(name, _, _)| name);
            let deps: BTreeSet<&String> = graph.direct(package).iter().chain(normal).collect();
            for dep in deps {
                if !only.contains(&dep.as_str()) {
                    found.push(format!(
                        "Expected {package} to depend only on {only:?} ({why}), but it depends on {dep}"
                    ));
                }
            }
        }
        for forbidden in rule.never {
            if let Some(path) = graph.dependency_path(package, forbidden, rule.except_through) {
                found.push(format!(
                    "Expected {package} not to depend on {forbidden} ({why}), but it does: {}",
                    path.join(" -> ")
                ));
            }
        }
        for needed in rule.reaches {
            if graph.dependency_path(package, needed, &[]).is_none() {
                found.push(format!(
                    "Expected {package} to reach {needed} (the graph is read), but it does not"
                ));
            }
        }
    }
    for (package, dep) in OPTIONAL_ONLY {
        for (name, kind, optional) in &graph.package(package).declared {
            if name == dep && kind == "normal" && !optional {
                found.push(format!(
                    "Expected {package}'s dependency on {dep} to stay optional"
                ));
            }
        }
    }
    found
}

#[test]
fn every_crate_keeps_its_dependency_rules() {
    let graph = cargo_metadata_graph();
    let members: BTreeSet<&str> = graph.members.iter().map(String::as_str).collect();
    for rule in RULES {
        assert!(
            members.contains(rule.package),
            "{} is a workspace member",
            rule.package
        );
    }
    let found = violations(&graph, RULES);
    assert!(found.is_empty(), "{found:#?}");
}

/// The check itself can fail: a rule the workspace breaks on purpose is reported, with its path.
#[test]
fn a_broken_rule_is_reported() {
    let graph = cargo_metadata_graph();
    let wrong = [Rule {
        package: "apsis-server",
        why: "deliberately wrong",
        only: Some(&["apsis-core"]),
        never: &["apsis-bpmn"],
        except_through: &[],
        reaches: &["apsis-worker-faas"],
    }];
    let found = violations(&graph, &wrong);
    assert!(
        found
            .iter()
            .any(|f| f.contains("not to depend on apsis-bpmn") && f.ends_with("-> apsis-bpmn")),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|f| f.contains("depends on apsis-store")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains("to reach apsis-worker-faas")),
        "{found:#?}"
    );
}

/// apsis-testkit is test support: a `[dev-dependencies]` entry anywhere, a normal or build dependency nowhere.
#[test]
fn apsis_testkit_is_never_a_normal_dependency() {
    let graph = cargo_metadata_graph();
    let mut dev_users = Vec::new();
    for member in &graph.members {
        for (name, kind, _) in &graph.package(member).declared {
            if name == "apsis-testkit" {
                assert_eq!(
                    kind, "dev",
                    "Expected {member} to use apsis-testkit only for tests"
                );
                dev_users.push(member.as_str());
            }
        }
        assert!(
            graph
                .dependency_path(member, "apsis-testkit", &[])
                .is_none()
                || member == "apsis-testkit",
            "Expected nothing to ship apsis-testkit, but {member} reaches it"
        );
    }
    assert!(dev_users.contains(&"apsis-server"), "{dev_users:?}");
}

/// The local runtime's Apsis dependencies of every kind: none but the test support.
#[test]
fn the_local_runtime_uses_no_apsis_crate_even_in_tests() {
    let graph = cargo_metadata_graph();
    let declared = &graph.package("apsis-faas-local").declared;
    assert!(declared.iter().any(|(n, _, _)| n == "axum"), "{declared:?}");
    let apsis: Vec<_> = declared
        .iter()
        .filter(|(name, _, _)| name.starts_with("apsis") && name != "apsis-testkit")
        .collect();
    assert!(
        apsis.is_empty(),
        "Expected no Apsis crate among the dependencies, but found {apsis:?}"
    );
}

/// Source folders and files that read no clock (time is the record's timestamp, passed in), and what they must not
/// contain. chrono is used by the timer arithmetic as a calendar library; reading its clock is what is forbidden.
const PURE: &[(&str, &[&str], &[&str])] = &[
    (
        "apsis-core and apsis-bpmn read no clock",
        &["engine/core/src", "bpmn/src"],
        &[
            "SystemTime::now",
            "Instant::now",
            "Utc::now",
            "Local::now",
            "std::time::SystemTime",
        ],
    ),
    (
        // The daemon's shell (config, worker, backend, the request's caller, monitor, main) does the I/O and reads
        // the clock; these modules only decide.
        "the worker's pure modules read no clock and make no randomness or I/O",
        &[
            "worker-faas/src/task.rs",
            "worker-faas/src/template",
            "worker-faas/src/token.rs",
            "worker-faas/src/callback.rs",
            "worker-faas/src/outcome.rs",
            "worker-faas/src/failure.rs",
            "worker-faas/src/quantity.rs",
            "worker-faas/src/request.rs",
        ],
        &[
            "SystemTime",
            "Instant::now",
            "Utc::now",
            "Local::now",
            "thread_rng",
            "rand::",
            "Uuid::new_v4",
            "tokio::",
            "reqwest::",
        ],
    ),
];

#[test]
fn the_pure_modules_read_no_clock() {
    for (what, paths, needles) in PURE {
        let (scanned, offenders) = scan_sources(paths, needles);
        assert!(
            scanned >= paths.len(),
            "{what}: every path was read ({scanned} files)"
        );
        assert!(
            offenders.is_empty(),
            "Expected that {what}, but found: {offenders:?}"
        );
    }
    // The scan can fail: this file names every needle.
    let (_, found) = scan_sources(&["testkit/tests/architecture.rs"], &["Utc::now"]);
    assert_eq!(found.len(), 1, "{found:?}");
}

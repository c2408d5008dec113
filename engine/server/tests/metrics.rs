//! The runtime records its metrics through the `metrics` facade: with the Prometheus exporter installed (as the
//! `apsis` binary does), a scrape shows commands by kind and outcome, events, group commits, log bytes, snapshots.
//! One test per binary: the recorder is process-global.

use apsis_core::command::{ProcessSelector, Resource};
use apsis_core::{Command, Json, Key};
use apsis_server::{metrics, Engine, EngineOptions};
use metrics_exporter_prometheus::PrometheusBuilder;

const ONE_TASK: &str = r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s" />
    <bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition type="work" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" />
  </bpmn:process>
</bpmn:definitions>"#;

fn value(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{series} ")))
        .unwrap_or_else(|| panic!("{series} in:\n{scrape}"))
        .parse()
        .unwrap()
}

#[test]
fn the_runtime_records_commands_commits_log_bytes_and_snapshots() {
    let prometheus = PrometheusBuilder::new().install_recorder().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = Engine::start(EngineOptions::new(dir.path())).unwrap();
    let h = engine.handle();
    h.call(Command::Deploy {
        resources: vec![Resource {
            name: "p.bpmn".into(),
            content: ONE_TASK.into(),
        }],
    })
    .unwrap()
    .unwrap();
    for _ in 0..3 {
        h.call(Command::CreateProcessInstance {
            process: ProcessSelector::Id {
                bpmn_process_id: "p".into(),
                version: -1,
            },
            variables: Json(serde_json::json!({})),
            await_result: false,
        })
        .unwrap()
        .unwrap();
    }
    let rejected = h.call(Command::CompleteJob {
        key: Key(123),
        variables: Json(serde_json::json!({})),
    });
    assert!(rejected.unwrap().is_err());
    engine.shutdown().unwrap();
    let s = prometheus.render();
    let kind = |k: &str, o: &str| {
        value(
            &s,
            &format!("{}{{kind=\"{k}\",outcome=\"{o}\"}}", metrics::COMMANDS),
        )
    };
    assert_eq!(kind("deploy", "accepted"), 1.0);
    assert_eq!(kind("create_process_instance", "accepted"), 3.0);
    assert_eq!(kind("complete_job", "rejected"), 1.0);
    assert_eq!(value(&s, metrics::ENTRIES_WRITTEN), 4.0);
    assert!(value(&s, metrics::EVENTS_WRITTEN) > 4.0);
    assert!(value(&s, metrics::LOG_BYTES_WRITTEN) > 0.0);
    assert_eq!(
        value(&s, metrics::GROUP_COMMITS),
        5.0,
        "one call at a time: one commit each"
    );
    assert_eq!(
        value(&s, &format!("{}_count", metrics::GROUP_COMMIT_SECONDS)),
        5.0
    );
    assert_eq!(value(&s, metrics::SNAPSHOTS_WRITTEN), 1.0, "on shutdown");
    assert!(value(&s, metrics::SNAPSHOT_BYTES) > 0.0);
    assert_eq!(value(&s, metrics::QUEUE_DEPTH), 0.0);
}

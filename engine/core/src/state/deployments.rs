//! Deployed process definitions and their compiled graphs.

use std::collections::BTreeMap;
use std::sync::Arc;

use apsis_bpmn::ProcessGraph;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::key::Key;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployedProcess {
    pub key: Key,
    pub deployment_key: Key,
    pub bpmn_process_id: String,
    pub version: i32,
    pub resource_name: String,
    pub checksum: u64,
    /// The BPMN XML as deployed; shared by the processes of one resource.
    pub resource: Arc<str>,
    /// Derived: compiled from `resource` when deployed or loaded.
    #[serde(skip)]
    pub graph: Option<Arc<ProcessGraph>>,
}

impl PartialEq for DeployedProcess {
    fn eq(&self, o: &Self) -> bool {
        // The graph is derived from the resource, so equal resources mean equal graphs.
        self.key == o.key
            && self.deployment_key == o.deployment_key
            && self.bpmn_process_id == o.bpmn_process_id
            && self.version == o.version
            && self.resource_name == o.resource_name
            && self.checksum == o.checksum
            && self.resource == o.resource
            && self.graph.is_some() == o.graph.is_some()
    }
}

impl DeployedProcess {
    pub fn graph(&self) -> &Arc<ProcessGraph> {
        self.graph
            .as_ref()
            .expect("graphs are compiled when a process is deployed or a snapshot is loaded")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Deployments {
    pub processes: FxHashMap<Key, DeployedProcess>,
    /// Versions of each BPMN process id, ascending: (version, definition key).
    pub by_id: BTreeMap<String, Vec<(i32, Key)>>,
    /// The highest version ever deployed per BPMN process id: deleting a version never frees its number.
    pub max_version: BTreeMap<String, i32>,
}

impl Deployments {
    pub fn get(&self, key: Key) -> Option<&DeployedProcess> {
        self.processes.get(&key)
    }

    /// The version a new deployment of `bpmn_process_id` gets.
    pub fn next_version(&self, bpmn_process_id: &str) -> i32 {
        self.max_version.get(bpmn_process_id).copied().unwrap_or(0) + 1
    }

    pub fn latest(&self, bpmn_process_id: &str) -> Option<&DeployedProcess> {
        self.by_id
            .get(bpmn_process_id)
            .and_then(|v| v.last())
            .and_then(|(_, k)| self.processes.get(k))
    }

    pub fn version(&self, bpmn_process_id: &str, version: i32) -> Option<&DeployedProcess> {
        self.by_id
            .get(bpmn_process_id)
            .and_then(|v| v.iter().find(|(ver, _)| *ver == version))
            .and_then(|(_, k)| self.processes.get(k))
    }

    pub(crate) fn rebuild(&mut self) -> Result<(), apsis_bpmn::Error> {
        let mut compiled: FxHashMap<(Key, String), Arc<apsis_bpmn::Compiled>> =
            FxHashMap::default();
        let mut keys: Vec<Key> = self.processes.keys().copied().collect();
        keys.sort();
        for key in keys {
            let p = &self.processes[&key];
            let id = (p.deployment_key, p.resource_name.clone());
            let c = match compiled.get(&id) {
                Some(c) => c.clone(),
                None => {
                    let c = Arc::new(apsis_bpmn::compile(&p.resource_name, &p.resource)?);
                    compiled.insert(id, c.clone());
                    c
                }
            };
            let graph = c
                .processes
                .iter()
                .find(|g| g.bpmn_process_id == p.bpmn_process_id)
                .cloned()
                .map(Arc::new);
            if let Some(p) = self.processes.get_mut(&key) {
                p.graph = graph;
            }
        }
        Ok(())
    }
}

//! The Pleiades P/MS chain of `examples/pms-chain`, embedded in the binary so that `apsis dev`, `apsis demo` and
//! `apsis submit` deploy exactly the files the repository tests: the BPMN (the contract is in that folder's README),
//! the creation variables, the step ids and where the product lands.

use std::path::{Path, PathBuf};

use apsis_client::Gateway;
use apsis_proto as pb;
use serde_json::{json, Value};

use crate::client::{Action, Error, Session, REQUEST_TIMEOUT};

/// One embedded BPMN file.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    /// The resource name the gateway reports problems against.
    pub name: &'static str,
    /// The id of its `<bpmn:process>`.
    pub process_id: &'static str,
    pub xml: &'static str,
}

/// Receive-task mode: each step's function answers through callback-ack's message; a failure is re-run once in
/// hold mode, which ends in an incident showing OTB's message.
pub const CHAIN: Resource = Resource {
    name: "pms-chain.bpmn",
    process_id: "pms-chain",
    xml: include_str!("../../../../../examples/pms-chain/pms-chain.bpmn"),
};

/// Hold mode: each step is one service task whose job the worker holds until the function's callback.
pub const CHAIN_HOLD: Resource = Resource {
    name: "pms-chain-hold.bpmn",
    process_id: "pms-chain-hold",
    xml: include_str!("../../../../../examples/pms-chain/pms-chain-hold.bpmn"),
};

/// Several pairs at once: the chain in a parallel multi-instance subprocess over `pairs`.
pub const BATCH: Resource = Resource {
    name: "pms-batch.bpmn",
    process_id: "pms-batch",
    xml: include_str!("../../../../../examples/pms-chain/pms-batch.bpmn"),
};

/// Every process of the folder, deployed by `apsis dev` and `apsis demo`.
pub const EXAMPLES: &[Resource] = &[CHAIN, CHAIN_HOLD, BATCH];

/// The chain's steps, in order: the service task ids (and result variables).
pub const STEPS: &[&str] = &["bundle", "ortho", "normalize"];

/// The product's file name in the output directory.
pub const PRODUCT: &str = "normalized_ortho.tif";

/// The outputs of the steps, in order, in the output directory.
pub const OUTPUTS: &[&str] = &["bundle.tif", "ortho.tif", PRODUCT];

/// The step an element belongs to: the step's service task `<step>`, its receive task `wait-<step>`, its hold-mode
/// re-run `<step>-rerun` (and anything else named `<step>-...`).
pub fn step_of(element_id: &str) -> Option<&'static str> {
    let id = element_id.strip_prefix("wait-").unwrap_or(element_id);
    STEPS.iter().copied().find(|step| {
        id == *step
            || id
                .strip_prefix(step)
                .is_some_and(|rest| rest.starts_with('-'))
    })
}

/// The creation variables of one chain instance (all paths absolute, as the functions see them).
#[derive(Debug, Clone)]
pub struct Inputs {
    pub pan: PathBuf,
    pub ms: PathBuf,
    pub out: PathBuf,
    pub geom: PathBuf,
    pub dem: Option<PathBuf>,
}

impl Inputs {
    /// The `.geom` sidecar the chain uses by default: the P image's path with its extension replaced, which is
    /// what `pms-generate` writes (IMG_P.TIF -> IMG_P.geom).
    pub fn default_geom(pan: &Path) -> PathBuf {
        pan.with_extension("geom")
    }

    pub fn variables(&self) -> Value {
        let mut vars = json!({
            "pan": self.pan,
            "ms": self.ms,
            "out": self.out,
            "geom": self.geom,
        });
        if let Some(dem) = &self.dem {
            vars["dem"] = json!(dem);
        }
        vars
    }

    /// Where the chain writes its product.
    pub fn product(&self) -> PathBuf {
        self.out.join(PRODUCT)
    }
}

/// Deploys `resources` in one request (all or none). Zeebe, like Apsis, keeps the version of a resource deployed
/// again unchanged, so deploying on every run costs one request and creates no new version.
pub async fn deploy(
    session: &Session,
    gateway: &mut Gateway,
    resources: &[Resource],
) -> Result<pb::DeployResourceResponse, Error> {
    let names: Vec<&str> = resources.iter().map(|r| r.name).collect();
    let action = Action::new(format!("deploy the embedded {}", names.join(", ")));
    let request = pb::DeployResourceRequest {
        resources: resources
            .iter()
            .map(|r| pb::Resource {
                name: r.name.to_owned(),
                content: r.xml.as_bytes().to_vec(),
            })
            .collect(),
        tenant_id: String::new(),
    };
    session
        .call(
            &action,
            Some(REQUEST_TIMEOUT),
            gateway.deploy_resource(request),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_belong_to_their_step() {
        assert_eq!(step_of("bundle"), Some("bundle"));
        assert_eq!(step_of("wait-ortho"), Some("ortho"));
        assert_eq!(step_of("normalize-rerun"), Some("normalize"));
        assert_eq!(step_of("bundled"), None);
        assert_eq!(step_of("start"), None);
        assert_eq!(step_of("ortho-ok"), Some("ortho"));
    }

    #[test]
    fn the_embedded_files_hold_their_processes() {
        for r in EXAMPLES {
            assert!(
                r.xml.contains(&format!("id=\"{}\"", r.process_id)),
                "Expected {} to define process '{}'",
                r.name,
                r.process_id
            );
        }
    }

    #[test]
    fn the_default_geom_replaces_the_extension() {
        assert_eq!(
            Inputs::default_geom(Path::new("/d/pair/IMG_P.TIF")),
            PathBuf::from("/d/pair/IMG_P.geom")
        );
    }
}

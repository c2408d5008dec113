//! `apsis status`: the gateway's Topology: cluster size, partitions, each broker with its partitions' roles and
//! health, and the gateway version (what Camunda Modeler checks to test a connection).

use apsis_proto as pb;
use pb::partition::{PartitionBrokerHealth, PartitionBrokerRole};
use serde_json::{json, Value};

use crate::client::{Action, Error, Session, REQUEST_TIMEOUT};

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    client: crate::connection::ClientArgs,
}

/// `apsis status`: the exit code (see `client.rs`).
pub fn main(args: StatusArgs) -> std::process::ExitCode {
    crate::client::run(&args.client.clone(), async |session| {
        run(args, session).await
    })
}

async fn run(_args: StatusArgs, session: &Session) -> Result<(), Error> {
    let action = Action::new("read the cluster topology");
    let mut gateway = session.connect().await?;
    let t = session
        .call(
            &action,
            Some(REQUEST_TIMEOUT),
            gateway.topology(pb::TopologyRequest {}),
        )
        .await?;
    session.print(to_json(&t), || text(&t, &session.address));
    Ok(())
}

fn role(p: &pb::Partition) -> &'static str {
    PartitionBrokerRole::try_from(p.role).map_or("UNKNOWN", |r| r.as_str_name())
}

fn health(p: &pb::Partition) -> &'static str {
    PartitionBrokerHealth::try_from(p.health).map_or("UNKNOWN", |h| h.as_str_name())
}

/// Zeebe's JSON form of the topology (enums by name, as zbctl prints them).
fn to_json(t: &pb::TopologyResponse) -> Value {
    let brokers: Vec<Value> = t
        .brokers
        .iter()
        .map(|b| {
            let partitions: Vec<Value> = b
                .partitions
                .iter()
                .map(|p| json!({"partitionId": p.partition_id, "role": role(p), "health": health(p)}))
                .collect();
            json!({
                "nodeId": b.node_id,
                "host": b.host,
                "port": b.port,
                "partitions": partitions,
                "version": b.version,
            })
        })
        .collect();
    json!({
        "brokers": brokers,
        "clusterSize": t.cluster_size,
        "partitionsCount": t.partitions_count,
        "replicationFactor": t.replication_factor,
        "gatewayVersion": t.gateway_version,
    })
}

fn text(t: &pb::TopologyResponse, address: &str) -> String {
    let mut out = format!(
        "Gateway {address}, version {}\nCluster size: {}, partitions: {}, replication factor: {}\n",
        t.gateway_version, t.cluster_size, t.partitions_count, t.replication_factor
    );
    let mut brokers: Vec<&pb::BrokerInfo> = t.brokers.iter().collect();
    brokers.sort_by_key(|b| b.node_id);
    for b in brokers {
        out.push_str(&format!(
            "Broker {} at {}:{} (version {})\n",
            b.node_id, b.host, b.port, b.version
        ));
        let mut partitions: Vec<&pb::Partition> = b.partitions.iter().collect();
        partitions.sort_by_key(|p| p.partition_id);
        for p in partitions {
            out.push_str(&format!(
                "  partition {}: {}, {}\n",
                p.partition_id,
                role(p).to_lowercase(),
                health(p).to_lowercase()
            ));
        }
    }
    out
}

//! Confluent REST Proxy v3: clusters, topics and produce, served under both `/v3` (the
//! standalone REST Proxy) and `/kafka/v3` (Confluent Server and Cloud).
//!
//! ```text
//!  GET  …/clusters                              one cluster, `[gateway] cluster_id`
//!  GET  …/clusters/{cluster_id}
//!  GET  …/clusters/{cluster_id}/topics[/{t}]    the bus's topics
//!  POST …/clusters/{cluster_id}/topics/{t}/records   one record, or a stream of them (produce)
//! ```
//!
//! Errors are `{"error_code": N, "message": "..."}` as in v2. Links are absolute, built from the
//! request's `Host`.

mod produce;
mod record;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Extension, Router};
use pinpipe_bus::{BusError, TopicInfo};
use serde_json::{Value, json};

use crate::envelope::RestError;
use crate::state::AppState;

/// Where v3 is served.
pub const PREFIXES: [&str; 2] = ["/v3", "/kafka/v3"];
/// The produce route, relative to a prefix: it reads its body as it arrives (see
/// [`produce`]), so the whole-body reader skips it.
pub const PRODUCE_ROUTE: &str = "/clusters/{cluster_id}/topics/{topic_name}/records";

/// The v3 routes, to be nested under `prefix` (one of [`PREFIXES`]); their links point under it.
pub fn routes(prefix: &'static str) -> Router<AppState> {
    Router::new()
        .route("/clusters", get(list_clusters))
        .route("/clusters/{cluster_id}", get(get_cluster))
        .route("/clusters/{cluster_id}/topics", get(list_topics))
        .route("/clusters/{cluster_id}/topics/{topic_name}", get(get_topic))
        .route(PRODUCE_ROUTE, post(produce::produce))
        .layer(Extension(Prefix(prefix)))
}

/// Whether a matched route is the streaming produce route under some prefix.
pub fn is_produce_route(route: &str) -> bool {
    PREFIXES
        .iter()
        .any(|p| route.strip_prefix(p) == Some(PRODUCE_ROUTE))
}

/// The absolute base of links: `http://<host><prefix>`.
struct Links(String);

impl Links {
    fn new(headers: &HeaderMap, path_prefix: &str) -> Self {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        Self(format!("http://{host}{path_prefix}"))
    }

    fn cluster(&self, id: &str) -> String {
        format!("{}/clusters/{id}", self.0)
    }
}

/// The prefix the routes are served under (a nested router sees the URI without it).
#[derive(Clone, Copy)]
struct Prefix(&'static str);

fn cluster_json(links: &Links, id: &str) -> Value {
    let base = links.cluster(id);
    let related = |suffix: &str| json!({ "related": format!("{base}{suffix}") });
    json!({
        "kind": "KafkaCluster",
        "metadata": {"self": base, "resource_name": format!("crn:///kafka={id}")},
        "cluster_id": id,
        "controller": related("/brokers/1"),
        "acls": related("/acls"),
        "brokers": related("/brokers"),
        "broker_configs": related("/broker-configs"),
        "consumer_groups": related("/consumer-groups"),
        "topics": related("/topics"),
        "partition_reassignments": related("/topics/-/partitions/-/reassignment"),
    })
}

fn topic_json(links: &Links, id: &str, topic: &TopicInfo) -> Value {
    let base = format!("{}/topics/{}", links.cluster(id), topic.name);
    json!({
        "kind": "KafkaTopic",
        "metadata": {
            "self": base,
            "resource_name": format!("crn:///kafka={id}/topic={}", topic.name),
        },
        "cluster_id": id,
        "topic_name": topic.name,
        "is_internal": false,
        "replication_factor": 1,
        "partitions_count": topic.partitions.len(),
        "partitions": {"related": format!("{base}/partitions")},
        "configs": {"related": format!("{base}/configs")},
        "partition_reassignments": {"related": format!("{base}/partitions/-/reassignment")},
        "authorized_operations": [],
    })
}

/// 404 unless `id` is this gateway's cluster.
fn check_cluster(state: &AppState, id: &str) -> Result<(), RestError> {
    if id == state.config.cluster_id {
        Ok(())
    } else {
        Err(RestError::new(
            StatusCode::NOT_FOUND,
            404,
            format!("Cluster {id} cannot be found."),
        ))
    }
}

/// The topic, or v3's 404 for a topic the cluster does not have.
async fn topic(state: &AppState, name: &str) -> Result<TopicInfo, RestError> {
    match state.topics.describe_topic(name).await {
        Err(BusError::TopicNotFound(_) | BusError::InvalidName { .. }) => Err(RestError::new(
            StatusCode::NOT_FOUND,
            40403,
            "This server does not host this topic-partition.",
        )),
        other => Ok(other?),
    }
}

/// `GET …/clusters`.
async fn list_clusters(
    State(state): State<AppState>,
    Extension(Prefix(prefix)): Extension<Prefix>,
    headers: HeaderMap,
) -> Json<Value> {
    let links = Links::new(&headers, prefix);
    Json(json!({
        "kind": "KafkaClusterList",
        "metadata": {"self": format!("{}/clusters", links.0), "next": null},
        "data": [cluster_json(&links, &state.config.cluster_id)],
    }))
}

/// `GET …/clusters/{cluster_id}`.
async fn get_cluster(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Extension(Prefix(prefix)): Extension<Prefix>,
    headers: HeaderMap,
) -> Result<Json<Value>, RestError> {
    check_cluster(&state, &id)?;
    let links = Links::new(&headers, prefix);
    Ok(Json(cluster_json(&links, &id)))
}

/// `GET …/clusters/{cluster_id}/topics`: every topic, by name.
async fn list_topics(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Extension(Prefix(prefix)): Extension<Prefix>,
    headers: HeaderMap,
) -> Result<Json<Value>, RestError> {
    check_cluster(&state, &id)?;
    let links = Links::new(&headers, prefix);
    let mut topics = state.topics.list_topics().await?;
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let data: Vec<Value> = topics.iter().map(|t| topic_json(&links, &id, t)).collect();
    Ok(Json(json!({
        "kind": "KafkaTopicList",
        "metadata": {"self": format!("{}/topics", links.cluster(&id)), "next": null},
        "data": data,
    })))
}

/// `GET …/clusters/{cluster_id}/topics/{topic_name}`.
async fn get_topic(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    Extension(Prefix(prefix)): Extension<Prefix>,
    headers: HeaderMap,
) -> Result<Json<Value>, RestError> {
    check_cluster(&state, &id)?;
    let links = Links::new(&headers, prefix);
    let info = topic(&state, &name).await?;
    Ok(Json(topic_json(&links, &id, &info)))
}

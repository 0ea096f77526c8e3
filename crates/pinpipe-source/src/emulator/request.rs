//! The requests a post becomes (SPEC §2/§3), built as plain data so they can be checked byte for byte.
//!
//! Batch path, exactly what the AWS-era script sent:
//! `POST {gateway}/topics/{prefix}.pin` with `Content-Type: application/vnd.kafka.json.v2+json` and body
//! `{"records":[{"value":<row>}]}`.
//!
//! Stream path: `PUT {gateway}/streams/streaming-{prefix}-pin/record` with `Content-Type:
//! application/json` and body `{"StreamName":"streaming-{prefix}-pin","Data":<row>,"PartitionKey":"<key>"}`.
//! The partition key is the post's key, so a post's three rows land on the same shard number of their
//! streams and keys spread over shards.
//!
//! Stream path through Kinesis's own API ([`StreamApi::Kinesis`], as an AWS SDK sends it):
//! `POST {gateway}/` with `X-Amz-Target: Kinesis_20131202.PutRecord`, `Content-Type:
//! application/x-amz-json-1.1` and body `{"StreamName":…,"Data":"<base64 of the row's JSON>",
//! "PartitionKey":…}`: the stream stores the same bytes as through the proxy.
//!
//! Rows go out in the source tables' column order with datetimes as `YYYY-MM-DD HH:MM:SS`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use pinpipe_model::Table;
use serde::Serialize;

use super::config::{Paths, StreamApi};
use crate::db::Post;
use crate::error::{Result, SourceError};

/// The batch path's content type.
pub const BATCH_CONTENT_TYPE: &str = "application/vnd.kafka.json.v2+json";
/// The stream path's content type.
pub const STREAM_CONTENT_TYPE: &str = "application/json";
/// The content type of Kinesis's own API.
pub const KINESIS_CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The `X-Amz-Target` of a Kinesis `PutRecord`.
pub const PUT_RECORD_TARGET: &str = "Kinesis_20131202.PutRecord";

/// Which gateway path a request goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathKind {
    /// The Kafka REST Proxy produce call.
    Batch,
    /// The Kinesis `PutRecord` proxy.
    Stream,
}

/// The HTTP method of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `POST` (batch path).
    Post,
    /// `PUT` (stream path).
    Put,
}

/// One record's request, ready to send (and to send again on a retry: the body is shared).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordRequest {
    /// Which path.
    pub path: PathKind,
    /// Which table's row.
    pub table: Table,
    /// `POST` or `PUT`.
    pub method: Method,
    /// The full URL.
    pub url: String,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// The `X-Amz-Target` header of Kinesis's own API.
    pub target: Option<&'static str>,
    /// The JSON body.
    pub body: Bytes,
}

/// The topic of `table`'s rows: `<prefix>.pin`.
pub fn topic_name(prefix: &str, table: Table) -> String {
    format!("{prefix}.{}", table.name())
}

/// The stream of `table`'s rows: `streaming-<prefix>-pin`.
pub fn stream_name(prefix: &str, table: Table) -> String {
    format!("streaming-{prefix}-{}", table.name())
}

/// The URLs and names requests go to, worked out once per run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Targets {
    paths: Paths,
    stream_api: StreamApi,
    /// `(table, url)` of the batch path.
    topics: Vec<(Table, String)>,
    /// `(table, stream name, url)` of the stream path.
    streams: Vec<(Table, String, String)>,
}

impl Targets {
    /// The targets of `paths` under `gateway` (a trailing `/` is ignored) and `prefix`, the
    /// stream path through `stream_api`.
    pub fn new(gateway: &str, prefix: &str, paths: Paths, stream_api: StreamApi) -> Targets {
        let base = gateway.trim_end_matches('/');
        let topics = Table::ALL
            .into_iter()
            .map(|t| (t, format!("{base}/topics/{}", topic_name(prefix, t))))
            .collect();
        let streams = Table::ALL
            .into_iter()
            .map(|t| {
                let name = stream_name(prefix, t);
                let url = match stream_api {
                    StreamApi::Proxy => format!("{base}/streams/{name}/record"),
                    StreamApi::Kinesis => format!("{base}/"),
                };
                (t, name, url)
            })
            .collect();
        Targets {
            paths,
            stream_api,
            topics,
            streams,
        }
    }

    /// The requests of one post: pin, geo, user on the batch path, then on the stream path.
    pub fn requests_for(&self, post: &Post) -> Result<Vec<RecordRequest>> {
        let mut requests = Vec::with_capacity(3 * self.paths.count());
        if self.paths.batch {
            for (table, url) in &self.topics {
                requests.push(RecordRequest {
                    path: PathKind::Batch,
                    table: *table,
                    method: Method::Post,
                    url: url.clone(),
                    content_type: BATCH_CONTENT_TYPE,
                    target: None,
                    body: row_body(post, *table, &Encoding::Batch)?,
                });
            }
        }
        if self.paths.stream {
            let partition_key = post.key().to_string();
            let kinesis = self.stream_api == StreamApi::Kinesis;
            for (table, name, url) in &self.streams {
                let encoding = Encoding::Stream {
                    name,
                    partition_key: &partition_key,
                    base64: kinesis,
                };
                requests.push(RecordRequest {
                    path: PathKind::Stream,
                    table: *table,
                    method: if kinesis { Method::Post } else { Method::Put },
                    url: url.clone(),
                    content_type: if kinesis {
                        KINESIS_CONTENT_TYPE
                    } else {
                        STREAM_CONTENT_TYPE
                    },
                    target: kinesis.then_some(PUT_RECORD_TARGET),
                    body: row_body(post, *table, &encoding)?,
                });
            }
        }
        Ok(requests)
    }
}

/// How a row is wrapped for its path.
enum Encoding<'a> {
    /// `{"records":[{"value":<row>}]}`.
    Batch,
    /// `{"StreamName":…,"Data":<row>,"PartitionKey":…}`, `Data` as base64 of the row's JSON for
    /// Kinesis's own API.
    Stream {
        name: &'a str,
        partition_key: &'a str,
        base64: bool,
    },
}

fn encode<T: Serialize>(row: &T, encoding: &Encoding<'_>) -> serde_json::Result<Vec<u8>> {
    match encoding {
        Encoding::Batch => batch_body(row),
        Encoding::Stream {
            name,
            partition_key,
            base64: false,
        } => stream_body(name, row, partition_key),
        Encoding::Stream {
            name,
            partition_key,
            base64: true,
        } => stream_body(
            name,
            &STANDARD.encode(serde_json::to_vec(row)?),
            partition_key,
        ),
    }
}

/// `post`'s row of `table`, wrapped for its path.
fn row_body(post: &Post, table: Table, encoding: &Encoding<'_>) -> Result<Bytes> {
    let encoded = match table {
        Table::Pin => encode(&post.pin, encoding),
        Table::Geo => encode(&post.geo, encoding),
        Table::User => encode(&post.user, encoding),
    };
    encoded.map(Bytes::from).map_err(|e| {
        SourceError::Task(format!(
            "cannot serialize the {table} row of key {}: {e}",
            post.key()
        ))
    })
}

/// The batch body of one row: `{"records":[{"value":<row>}]}`.
pub fn batch_body<T: Serialize + ?Sized>(row: &T) -> serde_json::Result<Vec<u8>> {
    #[derive(Serialize)]
    struct Record<'a, T: ?Sized> {
        value: &'a T,
    }
    #[derive(Serialize)]
    struct Body<'a, T: ?Sized> {
        records: [Record<'a, T>; 1],
    }
    serde_json::to_vec(&Body {
        records: [Record { value: row }],
    })
}

/// The stream body of one row: `{"StreamName":…,"Data":<row>,"PartitionKey":…}`.
pub fn stream_body<T: Serialize + ?Sized>(
    stream: &str,
    row: &T,
    partition_key: &str,
) -> serde_json::Result<Vec<u8>> {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Body<'a, T: ?Sized> {
        stream_name: &'a str,
        data: &'a T,
        partition_key: &'a str,
    }
    serde_json::to_vec(&Body {
        stream_name: stream,
        data: row,
        partition_key,
    })
}

#[cfg(test)]
mod tests {
    use pinpipe_model::{GeoRecord, PinPost, UserRecord};

    use super::*;

    fn post() -> Post {
        Post {
            pin: PinPost {
                index: 7528,
                unique_id: "fbe53c66-3442-4773-b19e-d3ec6f54dddf".into(),
                title: "No Title Data Available".into(),
                description: "Cozy…\u{a0}".into(),
                poster_name: "User Info Error".into(),
                follower_count: "User Info Error".into(),
                tag_list: "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e".into(),
                is_image_or_video: "multi-video(story page format)".into(),
                image_src: "Image src error.".into(),
                downloaded: 0,
                save_location: "Local save in /data/mens-fashion".into(),
                category: "mens-fashion".into(),
            },
            geo: GeoRecord {
                ind: 7528,
                timestamp: "2020-08-28 03:52:47".into(),
                latitude: -89.9787,
                longitude: -173.293,
                country: "Albania".into(),
            },
            user: UserRecord {
                ind: 7528,
                first_name: "Abigail".into(),
                last_name: "Ali".into(),
                age: 20,
                date_joined: "2015-10-24 11:23:51".into(),
            },
        }
    }

    fn text(body: &Bytes) -> &str {
        std::str::from_utf8(body).unwrap_or("<not UTF-8>")
    }

    #[test]
    fn both_paths_in_order() -> Result<()> {
        let targets = Targets::new(
            "http://127.0.0.1:8080/dev/",
            "pinpipe",
            Paths::BOTH,
            StreamApi::Proxy,
        );
        let requests = targets.requests_for(&post())?;
        let summary: Vec<(PathKind, Method, &str, &str)> = requests
            .iter()
            .map(|r| (r.path, r.method, r.url.as_str(), r.content_type))
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    PathKind::Batch,
                    Method::Post,
                    "http://127.0.0.1:8080/dev/topics/pinpipe.pin",
                    BATCH_CONTENT_TYPE
                ),
                (
                    PathKind::Batch,
                    Method::Post,
                    "http://127.0.0.1:8080/dev/topics/pinpipe.geo",
                    BATCH_CONTENT_TYPE
                ),
                (
                    PathKind::Batch,
                    Method::Post,
                    "http://127.0.0.1:8080/dev/topics/pinpipe.user",
                    BATCH_CONTENT_TYPE
                ),
                (
                    PathKind::Stream,
                    Method::Put,
                    "http://127.0.0.1:8080/dev/streams/streaming-pinpipe-pin/record",
                    STREAM_CONTENT_TYPE
                ),
                (
                    PathKind::Stream,
                    Method::Put,
                    "http://127.0.0.1:8080/dev/streams/streaming-pinpipe-geo/record",
                    STREAM_CONTENT_TYPE
                ),
                (
                    PathKind::Stream,
                    Method::Put,
                    "http://127.0.0.1:8080/dev/streams/streaming-pinpipe-user/record",
                    STREAM_CONTENT_TYPE
                ),
            ]
        );
        Ok(())
    }

    #[test]
    fn exact_bodies() -> Result<()> {
        let targets = Targets::new("http://gw", "x1", Paths::BOTH, StreamApi::Proxy);
        let requests = targets.requests_for(&post())?;
        let bodies: Vec<&str> = requests.iter().map(|r| text(&r.body)).collect();
        assert_eq!(
            bodies[1],
            r#"{"records":[{"value":{"ind":7528,"timestamp":"2020-08-28 03:52:47","latitude":-89.9787,"longitude":-173.293,"country":"Albania"}}]}"#
        );
        assert_eq!(
            bodies[5],
            r#"{"StreamName":"streaming-x1-user","Data":{"ind":7528,"first_name":"Abigail","last_name":"Ali","age":20,"date_joined":"2015-10-24 11:23:51"},"PartitionKey":"7528"}"#
        );
        assert_eq!(
            bodies[0],
            "{\"records\":[{\"value\":{\"index\":7528,\"unique_id\":\"fbe53c66-3442-4773-b19e-d3ec6f54dddf\",\
             \"title\":\"No Title Data Available\",\"description\":\"Cozy…\u{a0}\",\"poster_name\":\"User Info Error\",\
             \"follower_count\":\"User Info Error\",\"tag_list\":\"N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e\",\
             \"is_image_or_video\":\"multi-video(story page format)\",\"image_src\":\"Image src error.\",\
             \"downloaded\":0,\"save_location\":\"Local save in /data/mens-fashion\",\"category\":\"mens-fashion\"}}]}"
        );
        Ok(())
    }

    #[test]
    fn kinesis_api_sends_put_record_with_base64_data() -> Result<()> {
        let targets = Targets::new("http://gw/", "x1", Paths::STREAM, StreamApi::Kinesis);
        let requests = targets.requests_for(&post())?;
        let user = &requests[2];
        assert_eq!(
            (
                user.method,
                user.url.as_str(),
                user.content_type,
                user.target
            ),
            (
                Method::Post,
                "http://gw/",
                KINESIS_CONTENT_TYPE,
                Some(PUT_RECORD_TARGET)
            )
        );
        let body: serde_json::Value = serde_json::from_slice(&user.body).expect("JSON");
        assert_eq!(body["StreamName"], "streaming-x1-user");
        assert_eq!(body["PartitionKey"], "7528");
        let data = STANDARD
            .decode(body["Data"].as_str().expect("base64 Data"))
            .expect("base64");
        assert_eq!(
            data,
            br#"{"ind":7528,"first_name":"Abigail","last_name":"Ali","age":20,"date_joined":"2015-10-24 11:23:51"}"#
        );
        Ok(())
    }

    #[test]
    fn one_path_only() -> Result<()> {
        let stream_only =
            Targets::new("http://gw", "p", Paths::STREAM, StreamApi::Proxy).requests_for(&post())?;
        assert_eq!(stream_only.len(), 3);
        assert!(stream_only.iter().all(|r| r.path == PathKind::Stream));
        let batch_only =
            Targets::new("http://gw", "p", Paths::BATCH, StreamApi::Proxy).requests_for(&post())?;
        assert_eq!(batch_only.len(), 3);
        assert!(batch_only.iter().all(|r| r.method == Method::Post));
        Ok(())
    }
}

//! API keys, health and metrics.

use pinpipe_bus::Topics;
use pinpipe_gateway::GatewayConfig;

use crate::harness::{Gateway, json_of};

#[tokio::test]
async fn api_keys_are_required_when_configured() {
    let gw = Gateway::with(GatewayConfig {
        api_keys: vec!["s3cret".into()],
        ..Default::default()
    })
    .await;
    let url = format!("{}/topics/pinpipe.pin", gw.url);
    let body = r#"{"records":[{"value":1}]}"#;
    for key in [None, Some("wrong"), Some("s3cre"), Some("s3cret2")] {
        let mut request = gw
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        let (status, answer) = json_of(request.send().await.expect("request")).await;
        assert_eq!(
            (status, answer["error_code"].as_u64()),
            (403, Some(40301)),
            "{key:?}"
        );
    }
    assert_eq!(gw.stored("pinpipe.pin").await, 0);
    let (status, _) = json_of(
        gw.client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-api-key", "s3cret")
            .body(body)
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, 200);
    let health = gw
        .client
        .get(format!("{}/health", gw.url))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200, "health needs no key");
}

/// The value of the series `series` (name and labels, exactly as exposed) in `text`.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

async fn metrics(gw: &Gateway) -> String {
    gw.client
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

#[tokio::test]
async fn metrics_count_requests_records_and_errors() {
    let gw = Gateway::start().await;
    // Tests share the process's metrics: a topic of its own makes this test's counts exact.
    gw.bus.create_topic("metrics-test", 1).await.expect("topic");
    let errors = r#"pinpipe_gateway_errors_total{code="40401"}"#;
    let before = metric(&metrics(&gw).await, errors).unwrap_or(0.0);
    gw.produce("metrics-test", r#"{"records":[{"value":1},{"value":2}]}"#)
        .await;
    gw.produce("nope", r#"{"records":[{"value":1}]}"#).await;
    // A record refused inside an answered call (200, error_code 50002 for that record) is
    // counted too: the producer's loss is the operator's to see.
    let big = "y".repeat(1024 * 1024 + 1);
    gw.produce(
        "metrics-test",
        format!(r#"{{"records":[{{"value":"{big}"}},{{"value":3}}]}}"#),
    )
    .await;
    let text = metrics(&gw).await;
    assert_eq!(
        metric(
            &text,
            r#"pinpipe_gateway_records_refused_total{route="/topics/{topic}",target="metrics-test"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            r#"pinpipe_gateway_records_total{route="/topics/{topic}",target="metrics-test"}"#
        ),
        Some(3.0),
        "{text}"
    );
    assert!(metric(&text, errors).unwrap_or(0.0) > before, "{text}");
    assert!(
        metric(
            &text,
            r#"pinpipe_gateway_requests_total{route="/topics/{topic}",status="200"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        text.contains("pinpipe_gateway_request_duration_seconds_bucket"),
        "{text}"
    );
}

/// `/metrics` speaks OpenMetrics to a scraper that asks for it (Prometheus does), and
/// Prometheus's older text format to any other: counters' `TYPE` named as their `_total`
/// samples, no `# EOF`.
#[tokio::test]
async fn metrics_answer_in_the_format_the_scraper_accepts() {
    let gw = Gateway::start().await;
    // A request answered, for the requests counter to have a series.
    gw.produce("pinpipe.pin", r#"{"records":[{"value":1}]}"#)
        .await;
    let get = |accept: Option<&'static str>| {
        let mut request = gw.client.get(format!("{}/metrics", gw.url));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        async move {
            let answer = request.send().await.expect("metrics");
            let kind = answer
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (kind, answer.text().await.expect("text"))
        }
    };
    let prometheus_accept =
        "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3";
    let (kind, text) = get(Some(prometheus_accept)).await;
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        text.contains("# TYPE pinpipe_gateway_requests counter"),
        "{text}"
    );
    for accept in [None, Some("text/plain;version=0.0.4")] {
        let (kind, text) = get(accept).await;
        assert_eq!(
            kind, "text/plain; version=0.0.4; charset=utf-8",
            "{accept:?}"
        );
        assert!(!text.contains("# EOF"), "{text}");
        assert!(
            text.contains("# TYPE pinpipe_gateway_requests_total counter"),
            "{text}"
        );
    }
}

#!/usr/bin/env python3
"""Drives a running pinpipe gateway with real, unchanged clients, as a user would.

    clients_check.py boto3      URL   the native Kinesis API through boto3
    clients_check.py boto3-keys URL   boto3 on a gateway with API keys: the access key id is the key
    clients_check.py awscli     URL   aws kinesis put-record, list-streams, get-records (AWS CLI v1)
    clients_check.py consumers  URL   REST Proxy v2 consumers with requests, as Confluent documents them
    clients_check.py produce-v3 URL   REST Proxy v3 clusters, topics and produce (one record, a stream)

Each check asserts what the real service would answer and exits non-zero at the first
difference, saying what it expected. The Rust tests in crates/pinpipe-gateway/tests/it/clients.rs
start the gateway and run these; run by hand against `pinpipe serve`, they need a fresh gateway
(the checks create their own streams and consumer groups, and use the default topics).
"""

import base64
import json
import os
import subprocess
import sys
import time

import requests


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def kinesis_client(url):
    import boto3

    return boto3.client(
        "kinesis",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIDPINPIPE",
        aws_secret_access_key="not-checked",
    )


def expect_error(code, call, *args, **kwargs):
    import botocore.exceptions

    try:
        call(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        check(got == code, f"{call.__name__}: expected {code}, got {got}: {e}")
        return e
    raise AssertionError(f"{call.__name__}: expected {code}, got success")


def read_shard(client, stream, shard_id, iterator_type="TRIM_HORIZON", **kwargs):
    """Every record of a shard from the iterator on, by GetRecords pages of 100."""
    iterator = client.get_shard_iterator(
        StreamName=stream, ShardId=shard_id, ShardIteratorType=iterator_type, **kwargs
    )["ShardIterator"]
    records = []
    for _ in range(1000):
        page = client.get_records(ShardIterator=iterator, Limit=100)
        records.extend(page["Records"])
        iterator = page["NextShardIterator"]
        if not page["Records"] and page["MillisBehindLatest"] == 0:
            return records
    raise AssertionError(f"{stream}/{shard_id}: GetRecords never caught up")


def check_boto3(url):
    client = kinesis_client(url)
    stream = "clients-check"
    client.create_stream(StreamName=stream, ShardCount=3)
    client.get_waiter("stream_exists").wait(
        StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    description = client.describe_stream(StreamName=stream)["StreamDescription"]
    check(description["StreamStatus"] == "ACTIVE", description)
    check(len(description["Shards"]) == 3, description)
    check(description["Shards"][2]["HashKeyRange"]["EndingHashKey"] == str(2**128 - 1), description)
    arn = description["StreamARN"]
    check(arn == f"arn:aws:kinesis:us-east-1:000000000000:stream/{stream}", arn)
    summary = client.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
    check(summary["OpenShardCount"] == 3 and summary["StreamName"] == stream, summary)
    check("StreamId" not in summary, summary)
    check(stream in client.list_streams()["StreamNames"], "ListStreams lacks the new stream")
    names = []
    for page in client.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": 1}):
        names.extend(page["StreamNames"])
    check(names == sorted(set(names)) and stream in names, f"paginated ListStreams: {names}")

    first = client.put_record(StreamName=stream, Data=b'{"n":-1}', PartitionKey="first")
    check(first["SequenceNumber"].isdigit(), first)
    by_arn = client.put_record(StreamARN=arn, Data=b'{"n":-2}', PartitionKey="by-arn")
    check(by_arn["ShardId"].startswith("shardId-"), by_arn)
    entries = [{"Data": json.dumps({"n": i}).encode(), "PartitionKey": f"key-{i}"} for i in range(500)]
    put = client.put_records(StreamName=stream, Records=entries)
    check(put["FailedRecordCount"] == 0 and len(put["Records"]) == 500, put["FailedRecordCount"])
    explicit = client.put_records(
        StreamName=stream,
        Records=[{"Data": b'{"n":-3}', "PartitionKey": "any", "ExplicitHashKey": str(2**128 - 1)}],
    )
    check(explicit["Records"][0]["ShardId"] == "shardId-000000000002", explicit)
    # A record over 1 MiB with its partition key refuses the whole call, as a bad member does
    # (the read-back below finds no n = -4): a failed entry would be sent again, and fail again.
    error = expect_error("ValidationException", client.put_records, StreamName=stream, Records=[
        {"Data": b'{"n":-4}', "PartitionKey": "a"},
        {"Data": b"x" * (1024 * 1024), "PartitionKey": "a"},
    ])
    check("records.2.member.data" in str(error), error)

    shards = client.list_shards(StreamName=stream)["Shards"]
    check([s["ShardId"] for s in shards] == [f"shardId-00000000000{i}" for i in range(3)], shards)
    page = client.list_shards(StreamName=stream, MaxResults=2)
    rest = client.list_shards(NextToken=page["NextToken"])
    check(len(page["Shards"]) == 2 and len(rest["Shards"]) == 1 and "NextToken" not in rest, rest)
    expect_error(
        "InvalidArgumentException",
        client.list_shards,
        StreamName=stream,
        NextToken=page["NextToken"],
    )
    after_first = client.list_shards(
        StreamName=stream, ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000000"}
    )["Shards"]
    check([s["ShardId"][-1] for s in after_first] == ["1", "2"], after_first)
    expect_error("InvalidArgumentException", client.list_shards, StreamName=stream,
                 ShardFilter={"Type": "AFTER_SHARD_ID"})

    seen = {}
    for shard in shards:
        records = read_shard(client, stream, shard["ShardId"])
        numbers = [s["SequenceNumber"] for s in records]
        check(numbers == sorted(numbers, key=int), f"{shard['ShardId']}: out of order")
        for record in records:
            seen[json.loads(record["Data"])["n"]] = record
    check(sorted(seen) == list(range(-3, 500)), f"read back {len(seen)} of 503 records")
    check(seen[7]["PartitionKey"] == "key-7", seen[7])

    # AT/AFTER_SEQUENCE_NUMBER and LATEST on the shard of key-7.
    shard_id = put["Records"][7]["ShardId"]
    sequence = put["Records"][7]["SequenceNumber"]
    at = read_shard(client, stream, shard_id, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=sequence)
    check(at[0]["SequenceNumber"] == sequence, "AT_SEQUENCE_NUMBER did not start at the record")
    after = read_shard(
        client, stream, shard_id, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=sequence
    )
    check(len(after) == len(at) - 1, "AFTER_SEQUENCE_NUMBER did not start after the record")
    # Another shard's sequence number is refused, whichever side of this shard's it sorts.
    issued = {shard_id: sequence, "shardId-000000000002": explicit["Records"][0]["SequenceNumber"]}
    for own, number in issued.items():
        for other in shards:
            if other["ShardId"] != own:
                expect_error("InvalidArgumentException", client.get_shard_iterator,
                             StreamName=stream, ShardId=other["ShardId"],
                             ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=number)
    latest = client.get_shard_iterator(
        StreamName=stream, ShardId=shard_id, ShardIteratorType="LATEST"
    )["ShardIterator"]
    check(client.get_records(ShardIterator=latest)["Records"] == [], "LATEST returned old records")
    newest = client.put_records(
        StreamName=stream, Records=[{"Data": b"late", "PartitionKey": "key-7"}]
    )["Records"][0]
    late = client.get_records(ShardIterator=latest)["Records"]
    check([r["Data"] for r in late] == [b"late"], f"LATEST missed the new record: {late}")
    check(late[0]["SequenceNumber"] == newest["SequenceNumber"], late)
    since = read_shard(
        client, stream, shard_id, "AT_TIMESTAMP", Timestamp=late[0]["ApproximateArrivalTimestamp"]
    )
    check(since[-1]["Data"] == b"late", "AT_TIMESTAMP missed the record")

    expect_error("ResourceNotFoundException", client.describe_stream, StreamName="no-such-stream")
    expect_error("ResourceNotFoundException", client.put_record, StreamName="no-such-stream",
                 Data=b"x", PartitionKey="k")
    expect_error("ResourceInUseException", client.create_stream, StreamName=stream, ShardCount=1)
    expect_error("InvalidArgumentException", client.get_records, ShardIterator="not-an-iterator")
    expect_error("ValidationException", client.put_record, StreamName=stream, Data=b"x",
                 PartitionKey="k" * 257)
    expect_error("ValidationException", client.get_records, ShardIterator=latest, Limit=10001)
    expect_error("ResourceNotFoundException", client.get_shard_iterator, StreamName=stream,
                 ShardId="shardId-000000000009", ShardIteratorType="TRIM_HORIZON")
    error = expect_error("ValidationException", client.put_record, StreamName=stream,
                         Data=b"x" * (1024 * 1024 + 1), PartitionKey="k")
    check("1 validation error detected" in str(error), error)

    client.delete_stream(StreamName=stream)
    client.get_waiter("stream_not_exists").wait(
        StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    expect_error("ResourceNotFoundException", client.get_records, ShardIterator=latest)


def check_boto3_keys(url):
    """The gateway runs with api_keys = ["producer-key"], admin_api_keys = ["admin-key"]."""
    import boto3

    def client(key):
        return boto3.client("kinesis", endpoint_url=url, region_name="us-east-1",
                            aws_access_key_id=key, aws_secret_access_key="not-checked")

    producer, admin, stranger = client("producer-key"), client("admin-key"), client("wrong-key")
    stream = "streaming-pinpipe-pin"
    put = producer.put_record(StreamName=stream, Data=b"keyed", PartitionKey="k")
    check(put["SequenceNumber"].isdigit(), put)
    expect_error("AccessDeniedException", stranger.put_record, StreamName=stream, Data=b"x",
                 PartitionKey="k")
    expect_error("AccessDeniedException", producer.create_stream, StreamName="made-by-keys",
                 ShardCount=1)
    admin.create_stream(StreamName="made-by-keys", ShardCount=1)
    admin.delete_stream(StreamName="made-by-keys")


def aws(url, *args):
    """The AWS CLI, as a user runs it, with dummy credentials and region from the environment."""
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID="AKIDPINPIPE",
        AWS_SECRET_ACCESS_KEY="not-checked",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_PAGER="",
    )
    command = [sys.executable, "-m", "awscli", "--endpoint-url", url, "--output", "json", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    check(done.returncode == 0, f"aws {' '.join(args)} failed: {done.stderr}")
    return json.loads(done.stdout) if done.stdout.strip() else {}


def check_awscli(url):
    stream = "streaming-pinpipe-pin"
    listed = aws(url, "kinesis", "list-streams")
    check(stream in listed["StreamNames"], listed)
    put = aws(url, "kinesis", "put-record", "--stream-name", stream, "--data", "hello-from-the-cli",
              "--partition-key", "pk-1")
    check(put["ShardId"] == "shardId-000000000000", put)
    iterator = aws(url, "kinesis", "get-shard-iterator", "--stream-name", stream, "--shard-id",
                   put["ShardId"], "--shard-iterator-type", "AT_SEQUENCE_NUMBER",
                   "--starting-sequence-number", put["SequenceNumber"])["ShardIterator"]
    records = aws(url, "kinesis", "get-records", "--shard-iterator", iterator)["Records"]
    check(len(records) == 1, records)
    check(base64.b64decode(records[0]["Data"]) == b"hello-from-the-cli", records[0])
    check(records[0]["PartitionKey"] == "pk-1", records[0])


V2 = "application/vnd.kafka.v2+json"


def check_consumers(url):
    topic = "pinpipe.pin"
    rows = [{"index": i, "title": f"pin {i}"} for i in range(5)]
    produced = requests.post(
        f"{url}/topics/{topic}",
        headers={"Content-Type": "application/vnd.kafka.json.v2+json"},
        data=json.dumps({"records": [{"value": r} for r in rows]}),
    )
    check(produced.status_code == 200, produced.text)

    # A group the sink holds (the test holds it) is refused, not taken.
    held = requests.post(f"{url}/consumers/held-by-sink", headers={"Content-Type": V2},
                         data=json.dumps({"name": "intruder"})).json()
    refused = requests.post(f"{held['base_uri']}/subscription", headers={"Content-Type": V2},
                            data=json.dumps({"topics": [topic]}))
    check(refused.status_code == 409 and refused.json()["error_code"] == 40903, refused.text)
    check("held by another member" in refused.json()["message"], refused.text)
    # The documented flow (api.rst): create, subscribe, read, commit, read offsets, delete.
    base = f"{url}/consumers/clients-check"
    created = requests.post(base, headers={"Content-Type": V2}, data=json.dumps(
        {"name": "my_consumer", "format": "json", "auto.offset.reset": "earliest",
         "auto.commit.enable": "false"}))
    check(created.status_code == 200, created.text)
    instance = created.json()
    check(instance["instance_id"] == "my_consumer", instance)
    uri = instance["base_uri"]
    check(uri.endswith("/consumers/clients-check/instances/my_consumer"), uri)
    again = requests.post(base, headers={"Content-Type": V2}, data=json.dumps({"name": "my_consumer"}))
    check(again.status_code == 409 and again.json()["error_code"] == 40902, again.text)

    subscribed = requests.post(f"{uri}/subscription", headers={"Content-Type": V2},
                               data=json.dumps({"topics": [topic]}))
    check(subscribed.status_code == 204, subscribed.text)
    listed = requests.get(f"{uri}/subscription", headers={"Accept": V2})
    check(listed.json() == {"topics": [topic]}, listed.text)

    json_accept = {"Accept": "application/vnd.kafka.json.v2+json"}
    got = []
    for _ in range(20):
        answer = requests.get(f"{uri}/records?timeout=1000&max_bytes=300000", headers=json_accept)
        check(answer.status_code == 200, answer.text)
        got.extend(answer.json())
        if len(got) >= len(rows):
            break
    check([r["value"] for r in got] == rows, f"records read back: {got}")
    check(set(got[0]) == {"topic", "key", "value", "partition", "offset"}, got[0])
    wrong = requests.get(f"{uri}/records",
                         headers={"Accept": "application/vnd.kafka.binary.v2+json"})
    check(wrong.status_code == 406 and wrong.json()["error_code"] == 40601, wrong.text)

    last = got[-1]
    committed = requests.post(f"{uri}/offsets", headers={"Content-Type": V2}, data=json.dumps(
        {"offsets": [{"topic": topic, "partition": last["partition"], "offset": last["offset"]}]}))
    check(committed.status_code == 200, committed.text)
    offsets = requests.get(f"{uri}/offsets", headers={"Content-Type": V2, "Accept": V2},
                           data=json.dumps({"partitions": [{"topic": topic, "partition": 0}]}))
    check(offsets.status_code == 200, offsets.text)
    check(offsets.json()["offsets"] == [{"topic": topic, "partition": 0,
                                         "offset": last["offset"] + 1, "metadata": ""}],
          offsets.text)

    rewound = requests.post(f"{uri}/positions/beginning", headers={"Content-Type": V2},
                            data=json.dumps({"partitions": [{"topic": topic, "partition": 0}]}))
    check(rewound.status_code == 204, rewound.text)
    again = requests.get(f"{uri}/records?timeout=1000", headers=json_accept).json()
    check(again and again[0]["offset"] == 0, f"positions/beginning did not rewind: {again}")
    moved = requests.post(f"{uri}/positions", headers={"Content-Type": V2}, data=json.dumps(
        {"offsets": [{"topic": topic, "partition": 0, "offset": 3}]}))
    check(moved.status_code == 204, moved.text)
    third = requests.get(f"{uri}/records?timeout=1000", headers=json_accept).json()
    check(third and third[0]["offset"] == 3, f"positions did not seek: {third}")
    ended = requests.post(f"{uri}/positions/end", headers={"Content-Type": V2},
                          data=json.dumps({"partitions": [{"topic": topic, "partition": 0}]}))
    check(ended.status_code == 204, ended.text)
    check(requests.get(f"{uri}/records?timeout=200", headers=json_accept).json() == [],
          "positions/end did not skip to the end")

    check(requests.delete(f"{uri}/subscription").status_code == 204, "unsubscribe")
    check(requests.delete(uri).status_code == 204, "delete the instance")
    gone = requests.get(f"{uri}/records", headers=json_accept)
    check(gone.status_code == 404 and gone.json()["error_code"] == 40403, gone.text)

    # A second instance of the same group resumes where the group committed.
    binary = requests.post(base, headers={"Content-Type": V2},
                           data=json.dumps({"name": "second", "format": "binary"})).json()
    requests.post(f"{binary['base_uri']}/subscription", headers={"Content-Type": V2},
                  data=json.dumps({"topics": [topic]}))
    resumed = requests.get(f"{binary['base_uri']}/records?timeout=1000",
                           headers={"Accept": "application/vnd.kafka.binary.v2+json"})
    check(resumed.status_code == 200 and resumed.json() == [], f"resumed: {resumed.text}")
    requests.delete(binary["base_uri"])

    avro = requests.post(base, headers={"Content-Type": V2}, data=json.dumps({"format": "avro"}))
    check(avro.status_code == 422 and avro.json()["error_code"] == 42204, avro.text)


def check_produce_v3(url):
    for prefix in ("/v3", "/kafka/v3"):
        clusters = requests.get(f"{url}{prefix}/clusters").json()
        check(clusters["kind"] == "KafkaClusterList", clusters)
        cluster = clusters["data"][0]["cluster_id"]
        check(clusters["data"][0]["metadata"]["self"] == f"{url}{prefix}/clusters/{cluster}", clusters)
        one = requests.get(f"{url}{prefix}/clusters/{cluster}").json()
        check(one["kind"] == "KafkaCluster", one)
        topics = requests.get(f"{url}{prefix}/clusters/{cluster}/topics").json()
        names = [t["topic_name"] for t in topics["data"]]
        check("pinpipe.pin" in names and names == sorted(names), names)
        topic = requests.get(f"{url}{prefix}/clusters/{cluster}/topics/pinpipe.geo").json()
        check(topic["partitions_count"] == 1 and topic["kind"] == "KafkaTopic", topic)
    missing = requests.get(f"{url}/v3/clusters/{cluster}/topics/no.such.topic")
    check(missing.status_code == 404 and missing.json()["error_code"] == 40403, missing.text)
    other = requests.get(f"{url}/v3/clusters/not-this-one")
    check(other.status_code == 404, other.text)

    records = f"{url}/v3/clusters/{cluster}/topics/pinpipe.geo/records"
    # Confluent's example: one JSON record.
    single = requests.post(records, headers={"Content-Type": "application/json"}, json={
        "value": {"type": "JSON", "data": {"ind": 1, "country": "Albania"}}})
    check(single.status_code == 200, single.text)
    report = json.loads(single.text)
    check(report["error_code"] == 200 and report["topic_name"] == "pinpipe.geo", report)
    # Stored as Jackson writes it: no white space, the keys in their order.
    check(report["value"] == {"type": "JSON", "size": len(b'{"ind":1,"country":"Albania"}')}, report)
    check(single.headers.get("Transfer-Encoding") == "chunked", single.headers)
    binary = requests.post(f"{url}/kafka/v3/clusters/{cluster}/topics/pinpipe.geo/records",
                           json={"key": {"type": "BINARY", "data": "Zm9vYmFy"},
                                 "value": {"type": "STRING", "data": "plain text"}}).json()
    check(binary["key"] == {"type": "BINARY", "size": 6}, binary)
    check(binary["offset"] == report["offset"] + 1, (binary, report))
    avro = requests.post(records, json={"value": {"type": "AVRO", "data": {"a": 1}}}).json()
    check(avro["error_code"] == 422 and "42206" in avro["message"], avro)

    # Streaming mode: one chunked request, one report per record, in order.
    count = 50

    def chunks():
        for i in range(count):
            yield json.dumps({"value": {"type": "JSON", "data": {"ind": 100 + i}}}).encode()
            if i == 10:
                yield json.dumps({"value": {"type": "PROTOBUF", "data": {}}}).encode()

    streamed = requests.post(records, headers={"Content-Type": "application/json"}, data=chunks())
    check(streamed.status_code == 200, streamed.text)
    lines = [json.loads(line) for line in streamed.text.split("\r\n") if line.strip()]
    check(len(lines) == count + 1, f"{len(lines)} reports for {count + 1} records")
    check([r["error_code"] for r in lines].count(200) == count and lines[11]["error_code"] == 422,
          [r["error_code"] for r in lines])
    offsets = [r["offset"] for r in lines if r["error_code"] == 200]
    check(offsets == list(range(offsets[0], offsets[0] + count)), offsets)
    wrong = requests.post(records, headers={"Content-Type": "text/plain"}, data="{}")
    check(wrong.status_code == 415 and wrong.json()["error_code"] == 415, wrong.text)
    broken = requests.post(records, headers={"Content-Type": "application/json"},
                           data=b'{"value": {"type": "JSON", "data": 1}} {oops')
    lines = [json.loads(line) for line in broken.text.split("\r\n") if line.strip()]
    check([r["error_code"] for r in lines] == [200, 400], lines)


CHECKS = {
    "boto3": check_boto3,
    "boto3-keys": check_boto3_keys,
    "awscli": check_awscli,
    "consumers": check_consumers,
    "produce-v3": check_produce_v3,
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in CHECKS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(CHECKS)}}} GATEWAY_URL")
    started = time.monotonic()
    CHECKS[sys.argv[1]](sys.argv[2].rstrip("/"))
    print(f"{sys.argv[1]}: ok in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()

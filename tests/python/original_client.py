"""Posts exactly as the AWS-era user_posting_emulation script did, with `requests`, and checks the
answers field by field. Usage: original_client.py GATEWAY_URL [PREFIX]. Exits non-zero on failure."""

import datetime
import json
import sys

import requests

base = sys.argv[1].rstrip("/")
prefix = sys.argv[2] if len(sys.argv) > 2 else "pinpipe"

pin_result = {
    "index": 7528,
    "unique_id": "fbe53c66-3442-4773-b19e-d3ec6f54dddf",
    "title": "No Title Data Available",
    "description": "No description available Story format",
    "poster_name": "User Info Error",
    "follower_count": "User Info Error",
    "tag_list": "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
    "is_image_or_video": "multi-video(story page format)",
    "image_src": "Image src error.",
    "downloaded": 0,
    "save_location": "Local save in /data/mens-fashion",
    "category": "mens-fashion",
}
geo_result = {
    "ind": 7528,
    "timestamp": datetime.datetime(2020, 8, 28, 3, 52, 47),
    "latitude": -89.9787,
    "longitude": -173.293,
    "country": "Albania",
}
user_result = {
    "ind": 7528,
    "first_name": "Abigail",
    "last_name": "Ali",
    "age": 20,
    "date_joined": datetime.datetime(2015, 10, 24, 11, 23, 51),
}


def check(condition, message):
    if not condition:
        print(f"FAIL: {message}", file=sys.stderr)
        sys.exit(1)


# Batch path: the Kafka REST proxy call, exactly as the original script built it.
for topic, record in (("pin", pin_result), ("geo", geo_result), ("user", user_result)):
    invoke_url = f"{base}/topics/{prefix}.{topic}"
    payload = json.dumps({"records": [{"value": record}]}, default=str)
    headers = {"Content-Type": "application/vnd.kafka.json.v2+json"}
    response = requests.request("POST", invoke_url, headers=headers, data=payload)
    check(response.status_code == 200, f"{topic}: status {response.status_code} {response.text}")
    check(response.headers["Content-Type"].startswith("application/json"), "JSON answer")
    body = response.json()
    check(set(body) == {"key_schema_id", "value_schema_id", "offsets"}, f"fields {sorted(body)}")
    check(body["key_schema_id"] is None and body["value_schema_id"] is None, "no schema ids")
    check(len(body["offsets"]) == 1, "one offset per record")
    offset = body["offsets"][0]
    check(set(offset) == {"partition", "offset", "error_code", "error"}, f"offset fields {sorted(offset)}")
    check(offset["partition"] == 0 and isinstance(offset["offset"], int), f"offset {offset}")
    check(offset["error_code"] is None and offset["error"] is None, f"no error {offset}")

# Stream path: the Kinesis proxy PUT, exactly as the original streaming script built it.
for topic, record in (("pin", pin_result), ("geo", geo_result), ("user", user_result)):
    stream = f"streaming-{prefix}-{topic}"
    invoke_url = f"{base}/streams/{stream}/record"
    payload = json.dumps(
        {"StreamName": stream, "Data": record, "PartitionKey": "partition-1"}, default=str
    )
    headers = {"Content-Type": "application/json"}
    response = requests.request("PUT", invoke_url, headers=headers, data=payload)
    check(response.status_code == 200, f"{stream}: status {response.status_code} {response.text}")
    body = response.json()
    check(set(body) == {"SequenceNumber", "ShardId"}, f"fields {sorted(body)}")
    check(body["ShardId"] == "shardId-000000000000", f"shard {body['ShardId']}")
    check(body["SequenceNumber"].isdigit(), f"sequence number {body['SequenceNumber']}")

# A wrong topic answers REST Proxy's 40401.
response = requests.request(
    "POST",
    f"{base}/topics/{prefix}.nope",
    headers={"Content-Type": "application/vnd.kafka.json.v2+json"},
    data=json.dumps({"records": [{"value": pin_result}]}),
)
check(response.status_code == 404 and response.json()["error_code"] == 40401, response.text)
print("original client: ok")

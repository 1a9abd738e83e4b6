"""A real S3-compatible server for the tests: moto's standalone server on 127.0.0.1 at a free port, in a thread
of the test process (child processes reach it over HTTP like any client), and the ``AWS_*`` settings that point
boto3, s3fs and dataprep's CLI at it."""
from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager

S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def s3_server() -> Iterator[dict[str, str]]:
    """Run the server; yields the environment a client needs (``AWS_ENDPOINT_URL`` and test credentials)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield {**S3_ENV, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    finally:
        server.stop()


def boto3_client(env: dict[str, str]):
    import boto3

    return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def upload_tree(client, bucket: str, prefix: str, folder) -> None:
    """Every file under ``folder`` to ``s3://bucket/prefix/<relative path>``."""
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            client.upload_file(str(p), bucket, f"{prefix}/{p.relative_to(folder).as_posix()}")


def download_tree(client, bucket: str, prefix: str) -> dict[str, bytes]:
    """Every object under ``s3://bucket/prefix/`` as relative name -> bytes, read with plain boto3."""
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            out[obj["Key"][len(prefix) + 1:]] = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return out


@contextmanager
def gcs_server(bucket: str) -> Iterator[dict[str, str]]:
    """A local GCS emulator (gcp-storage-emulator, in memory, with ``bucket``) at a free port; yields the
    ``STORAGE_EMULATOR_HOST`` setting gcsfs and Google's clients follow."""
    from gcp_storage_emulator.server import create_server

    for name in ("gcsfs", "gcp_storage_emulator", "google"):  # credentials probes and request logs
        logging.getLogger(name).setLevel(logging.CRITICAL)
    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=bucket)
    server.start()
    try:
        yield {"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}"}
    finally:
        server.stop()

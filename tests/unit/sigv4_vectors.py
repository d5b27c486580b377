#!/usr/bin/env python3
"""Prints the SigV4 vectors recorded in sigv4_test.cpp, computed by botocore's
own signer (botocore.auth.SigV4Auth) at a frozen time:
    python3 tests/unit/sigv4_vectors.py
"""
import datetime
from unittest import mock

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

FROZEN = datetime.datetime(2026, 12, 3, 19, 30, 5)

CASES = [
    dict(name="sts_assume_role_with_token",
         creds=("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "FwoGZXIvYXdzEBYaDH+token/=="),
         method="POST", url="https://sts.us-east-1.amazonaws.com/", params=None,
         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
         body="Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo"
              "&RoleSessionName=ferry&DurationSeconds=3600",
         region="us-east-1", service="sts"),
    dict(name="get_query_path_port_no_token",
         creds=("AKIAIOSFODNN7EXAMPLE", "secret+/key", None),
         method="GET", url="https://127.0.0.1:8443/a%20b/c~d%2Fe", params={"b": "2 3", "a": "x/y:z", "A": "é"},
         headers={"X-Custom": "  two   spaces\there  ", "Content-Type": "text/plain"},
         body="", region="eu-west-3", service="execute-api"),
]

for c in CASES:
    req = AWSRequest(method=c["method"], url=c["url"], params=c["params"], headers=c["headers"], data=c["body"])
    signer = SigV4Auth(Credentials(*c["creds"]), c["service"], c["region"])
    # Newer botocore reads the clock through get_current_datetime, older through datetime.utcnow.
    if hasattr(botocore.auth, "get_current_datetime"):
        with mock.patch("botocore.auth.get_current_datetime", return_value=FROZEN):
            signer.add_auth(req)
    else:
        with mock.patch("botocore.auth.datetime") as dt:
            dt.datetime.utcnow.return_value = FROZEN
            signer.add_auth(req)
    authorization = req.headers["Authorization"]
    del req.headers["Authorization"]  # the canonical request as it was signed
    print(c["name"])
    print("  canonical:", repr(signer.canonical_request(req)))
    req.headers["Authorization"] = authorization
    for h in ("X-Amz-Date", "X-Amz-Security-Token", "Authorization"):
        if h in req.headers:
            print("  %s: %s" % (h, req.headers[h]))

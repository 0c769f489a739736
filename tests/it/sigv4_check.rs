//! The independent SigV4 check of `support/sigv4_check.rs` reproduces AWS's own example, so the
//! provider tests that use it check the adapters' signing against something known to be right.

use crate::support::sigv4_check::{expected_signature, Authorization};
use std::collections::BTreeMap;

/// AWS's documented example (IAM `ListUsers`, General Reference "Signature Version 4 signing process").
#[test]
fn aws_documented_example() {
    let headers: BTreeMap<String, String> = [
        ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
        ("host", "iam.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let authorization = Authorization {
        access_key_id: "AKIDEXAMPLE".into(),
        date: "20150830".into(),
        region: "us-east-1".into(),
        service: "iam".into(),
        signed_headers: vec!["content-type".into(), "host".into(), "x-amz-date".into()],
        signature: String::new(),
    };
    let signature = expected_signature(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        &authorization,
        "GET",
        "/",
        Some("Action=ListUsers&Version=2010-05-08"),
        &headers,
        b"",
    );
    assert_eq!(signature, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

//! An independent check of AWS Signature Version 4 on a received request, written from AWS's
//! specification (canonical request, string to sign, derived signing key) with `hmac` and `sha2`, so
//! the adapter's signing (done by `aws-sigv4`) is verified by code that does not share it.

#![allow(dead_code)]

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    /// Access key ID.
    pub access_key_id: String,
    /// `YYYYMMDD`.
    pub date: String,
    /// Region.
    pub region: String,
    /// Service signing name.
    pub service: String,
    /// Signed header names, lower case, in order.
    pub signed_headers: Vec<String>,
    /// Hex signature.
    pub signature: String,
}

/// Parses the header; `None` when it is not a SigV4 header.
pub fn parse_authorization(header: &str) -> Option<Authorization> {
    let rest = header.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut fields = BTreeMap::new();
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        fields.insert(name, value);
    }
    let mut scope = fields.get("Credential")?.split('/');
    let authorization = Authorization {
        access_key_id: scope.next()?.to_owned(),
        date: scope.next()?.to_owned(),
        region: scope.next()?.to_owned(),
        service: scope.next()?.to_owned(),
        signed_headers: fields.get("SignedHeaders")?.split(';').map(str::to_owned).collect(),
        signature: fields.get("Signature")?.to_string(),
    };
    (scope.next()? == "aws4_request").then_some(authorization)
}

/// The signature a request should carry: `path` as sent (percent-encoded; encoded once more as AWS
/// requires for every service but S3), `query` as sent, `headers` lower-cased.
pub fn expected_signature(
    secret_access_key: &str,
    authorization: &Authorization,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> String {
    let canonical_uri: String = path.split('/').map(uri_encode).collect::<Vec<_>>().join("/");
    let mut query_pairs: Vec<(String, String)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    query_pairs.sort();
    let canonical_query: Vec<String> = query_pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let canonical_headers: String = authorization
        .signed_headers
        .iter()
        .map(|name| format!("{name}:{}\n", headers.get(name).map(|v| v.trim()).unwrap_or("")))
        .collect();
    let canonical_request = format!(
        "{method}\n{canonical_uri}\n{}\n{canonical_headers}\n{}\n{}",
        canonical_query.join("&"),
        authorization.signed_headers.join(";"),
        hex::encode(Sha256::digest(body)),
    );
    let amz_date = headers.get("x-amz-date").map(String::as_str).unwrap_or("");
    let scope = format!("{}/{}/{}/aws4_request", authorization.date, authorization.region, authorization.service);
    let string_to_sign =
        format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())));
    let key = [authorization.date.as_str(), &authorization.region, &authorization.service, "aws4_request"]
        .iter()
        .fold(format!("AWS4{secret_access_key}").into_bytes(), |key, part| hmac(&key, part.as_bytes()));
    hex::encode(hmac(&key, string_to_sign.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding of everything but the unreserved characters (AWS's `UriEncode`).
fn uri_encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

//! AWS: credentials and region as Mem0 names them (`aws_access_key_id`, `aws_secret_access_key`,
//! `aws_session_token`, `aws_region`, else the `AWS_*` environment variables), and the request's
//! authentication: a SigV4 signature (through `aws-sigv4`) or, with a Bedrock API key (`api_key` or
//! `AWS_BEARER_TOKEN_BEDROCK`), a bearer token.
//!
//! `aws_profile` (a profile of `~/.aws/credentials`) is not supported: there is no such file in a plugin.

use crate::adapters::config::{self, config_error, non_blank, or_env};
use crate::adapters::http::{bearer, HttpClient};
use crate::adapters::registry::Environment;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::SystemTime;

/// The AWS keys Mem0 knows.
pub const KEYS: &[&str] =
    &["aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_region", "aws_profile"];

/// The region when none is set (Mem0's).
pub const DEFAULT_REGION: &str = "us-west-2";

/// Where a Bedrock API key comes from when `api_key` is not set.
pub const BEARER_TOKEN_ENV: &str = "AWS_BEARER_TOKEN_BEDROCK";

/// Characters left as they are in a path segment: RFC 3986's unreserved ones (as AWS's SDKs encode).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

#[derive(Default, Deserialize)]
#[serde(default)]
struct AwsKeys {
    aws_access_key_id: Option<String>,
    aws_secret_access_key: Option<SecretString>,
    aws_session_token: Option<SecretString>,
    aws_region: Option<String>,
    aws_profile: Option<String>,
}

enum Auth {
    SigV4 { identity: Identity, secrets: Vec<SecretString> },
    Bearer(SecretString),
}

/// Authenticated access to one AWS service in one region.
pub struct AwsAccess {
    /// The region requests go to.
    pub region: String,
    service: &'static str,
    auth: Auth,
}

impl std::fmt::Debug for AwsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.auth {
            Auth::SigV4 { .. } => "sigv4",
            Auth::Bearer(_) => "bearer",
        };
        f.debug_struct("AwsAccess")
            .field("region", &self.region)
            .field("service", &self.service)
            .field("auth", &scheme)
            .finish()
    }
}

impl AwsAccess {
    /// Reads the region and the credentials for `service` (the SigV4 signing name, e.g. `bedrock`).
    /// A key pair in the block wins, then the block's `api_key`, then `AWS_BEARER_TOKEN_BEDROCK`, then
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`.
    pub fn from_block(
        block: &ProviderBlock,
        service: &'static str,
        api_key: Option<&SecretString>,
        env: &Environment,
    ) -> Result<Self, BuildError> {
        let keys: AwsKeys = config::deserialize(block)?;
        if non_blank(keys.aws_profile.clone()).is_some() {
            return Err(config_error(
                block,
                "aws_profile is not supported (there is no ~/.aws/credentials file here); set aws_access_key_id and \
                 aws_secret_access_key, or api_key with a Bedrock API key",
            ));
        }
        let region = or_env(keys.aws_region, &["AWS_REGION", "AWS_DEFAULT_REGION"], env)
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        if !region.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(config_error(
                block,
                format!("aws_region must be a region name such as us-west-2, got {region:?}"),
            ));
        }
        let secret =
            |s: Option<&SecretString>| s.map(|s| s.expose_secret().trim().to_owned()).filter(|s| !s.is_empty());
        let configured_pair = non_blank(keys.aws_access_key_id.clone()).is_some()
            || secret(keys.aws_secret_access_key.as_ref()).is_some();
        let auth = match (configured_pair, secret(api_key)) {
            (false, Some(token)) => Auth::Bearer(SecretString::from(token)),
            (false, None) if env.var(BEARER_TOKEN_ENV).is_some() => {
                Auth::Bearer(SecretString::from(env.var(BEARER_TOKEN_ENV).unwrap_or_default()))
            }
            _ => {
                let id = or_env(keys.aws_access_key_id, &["AWS_ACCESS_KEY_ID"], env);
                let key = secret(keys.aws_secret_access_key.as_ref()).or_else(|| env.var("AWS_SECRET_ACCESS_KEY"));
                let token = secret(keys.aws_session_token.as_ref()).or_else(|| env.var("AWS_SESSION_TOKEN"));
                let (Some(id), Some(key)) = (id, key) else {
                    return Err(config_error(
                        block,
                        format!(
                            "aws_access_key_id and aws_secret_access_key are required for provider {:?} (or the \
                             AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables, or api_key with a \
                             Bedrock API key)",
                            block.provider
                        ),
                    ));
                };
                let secrets =
                    [Some(key.clone()), token.clone()].into_iter().flatten().map(SecretString::from).collect();
                let credentials = Credentials::new(id, key, token, None, "mem0-dify configuration");
                Auth::SigV4 { identity: credentials.into(), secrets }
            }
        };
        Ok(Self { region, service, auth })
    }

    /// The authentication headers for one request: the signature of exactly these method, URL and body
    /// bytes (with `x-amz-date` and, for temporary credentials, `x-amz-security-token`), or the bearer
    /// token. The URL must already be percent-encoded.
    pub fn auth_headers(&self, method: &str, url: &str, body: &[u8]) -> Result<HeaderMap, String> {
        let mut headers = HeaderMap::new();
        match &self.auth {
            Auth::Bearer(token) => {
                headers.insert(AUTHORIZATION, bearer(token.expose_secret()).map_err(|e| e.to_string())?);
            }
            Auth::SigV4 { identity, .. } => {
                let params = v4::SigningParams::builder()
                    .identity(identity)
                    .region(&self.region)
                    .name(self.service)
                    .time(SystemTime::now())
                    .settings(SigningSettings::default())
                    .build()
                    .map_err(|e| format!("signing the request failed: {e}"))?
                    .into();
                let request = SignableRequest::new(method, url, std::iter::empty(), SignableBody::Bytes(body))
                    .map_err(|e| format!("signing the request failed: {e}"))?;
                let (instructions, _signature) =
                    sign(request, &params).map_err(|e| format!("signing the request failed: {e}"))?.into_parts();
                for header in instructions.into_parts().0 {
                    let mut value = HeaderValue::from_str(header.value())
                        .map_err(|_| format!("the signature header {} cannot be sent", header.name()))?;
                    value.set_sensitive(header.sensitive() || header.name() == "authorization");
                    headers.insert(HeaderName::from_static(header.name()), value);
                }
            }
        }
        Ok(headers)
    }

    /// `http` with the secret key, session token or bearer token registered for redaction.
    pub fn register_secrets(&self, http: HttpClient) -> HttpClient {
        match &self.auth {
            Auth::Bearer(token) => http.with_secret(token.expose_secret()),
            Auth::SigV4 { secrets, .. } => secrets.iter().fold(http, |http, s| http.with_secret(s.expose_secret())),
        }
    }
}

/// A path segment percent-encoded as AWS's SDKs do (`:` and `/` in model IDs and ARNs included).
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn access(config: Value, vars: &[(&str, &str)]) -> Result<AwsAccess, BuildError> {
        let block = ProviderBlock::parse("local_llm_json", &json!({"provider": "aws_bedrock", "config": config}))
            .unwrap()
            .unwrap();
        let env = crate::adapters::registry::Environment::from_pairs(vars.iter().copied());
        let api_key = block.config.get("api_key").and_then(Value::as_str).map(|k| SecretString::from(k.to_owned()));
        AwsAccess::from_block(&block, "bedrock", api_key.as_ref(), &env)
    }

    #[test]
    fn credentials_come_from_the_block_or_the_environment() {
        let a =
            access(json!({"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "s3cr3t-key"}), &[]).unwrap();
        assert_eq!(a.region, "us-west-2");
        let headers =
            a.auth_headers("POST", "https://bedrock-runtime.us-west-2.amazonaws.com/model/x/converse", b"{}").unwrap();
        let auth = headers["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
                && auth.contains("/us-west-2/bedrock/aws4_request"),
            "{auth}"
        );
        assert!(headers["authorization"].is_sensitive() && headers.contains_key("x-amz-date"));
        assert!(!format!("{a:?}").contains("s3cr3t"));

        let vars = [
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret"),
            ("AWS_SESSION_TOKEN", "tok-123456"),
            ("AWS_REGION", "eu-west-1"),
        ];
        let a = access(json!({}), &vars).unwrap();
        let headers = a.auth_headers("POST", "https://h/model/x/converse", b"{}").unwrap();
        assert_eq!(headers["x-amz-security-token"], "tok-123456");
        assert_eq!(a.region, "eu-west-1");

        let a = access(json!({"api_key": "bedrock-api-key-1"}), &vars).unwrap();
        assert_eq!(a.auth_headers("POST", "https://h/", b"").unwrap()["authorization"], "Bearer bedrock-api-key-1");
        let a = access(json!({}), &[(BEARER_TOKEN_ENV, "bedrock-env-key")]).unwrap();
        assert_eq!(a.auth_headers("POST", "https://h/", b"").unwrap()["authorization"], "Bearer bedrock-env-key");
    }

    #[test]
    fn missing_or_unsupported_settings_are_named() {
        let err = access(json!({}), &[]).unwrap_err().to_string();
        assert!(err.contains("aws_access_key_id and aws_secret_access_key are required"), "{err}");
        let err = access(json!({"aws_profile": "dev"}), &[]).unwrap_err().to_string();
        assert!(err.contains("aws_profile is not supported"), "{err}");
        let err = access(json!({"aws_region": "us west", "api_key": "k-123456"}), &[]).unwrap_err().to_string();
        assert!(err.contains("aws_region must be a region name"), "{err}");
        assert_eq!(
            encode_segment("anthropic.claude-3-5-sonnet-20240620-v1:0"),
            "anthropic.claude-3-5-sonnet-20240620-v1%3A0"
        );
        assert_eq!(
            encode_segment("arn:aws:bedrock:us-east-1:1:inference-profile/x"),
            "arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fx"
        );
    }
}

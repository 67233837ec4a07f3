//! The few S3 calls backups need (put, get, delete, list a prefix) on any S3-compatible
//! object store, with path-style URLs (`ENDPOINT/BUCKET/KEY`) signed with AWS Signature
//! Version 4 on the workspace's reqwest, hmac and sha2 (decision 0036: no SDK, no duplicate
//! crates). Credentials come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, when set,
//! `AWS_SESSION_TOKEN`; they are sent only as a signature and never printed.

use std::time::{Duration, SystemTime};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::names::utc;

/// How long one request may take: a large snapshot's upload over a slow link.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The credentials requests are signed with.
#[derive(Clone)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("access_key", &self.access_key).finish_non_exhaustive()
    }
}

impl Credentials {
    /// From the standard AWS variables, as `env` reads them; an error names what is missing.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |name: &str| env(name).filter(|value| !value.is_empty());
        match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key), Some(secret_key)) => {
                Ok(Credentials { access_key, secret_key, session_token: get("AWS_SESSION_TOKEN") })
            }
            _ => Err("backups to S3 need AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment".into()),
        }
    }
}

/// A bucket and the prefix the backups live under.
#[derive(Clone, Debug)]
pub struct Bucket {
    /// `http(s)://HOST[:PORT]`, without a trailing `/`.
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    /// Empty, or ending in `/`.
    pub prefix: String,
    pub credentials: Credentials,
}

impl Bucket {
    /// `s3://BUCKET[/PREFIX]` at `endpoint` (by default AWS's of `region`).
    pub fn parse(url: &str, endpoint: Option<&str>, region: &str, credentials: Credentials) -> Result<Self, String> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| format!("`{url}` is not an s3:// URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.');
        if bucket.len() < 3 || bucket.len() > 63 || !bucket.chars().all(valid) {
            return Err(format!(
                "`{url}`: expected s3://BUCKET/PREFIX with a bucket name of 3–63 lowercase letters, digits, `-` or `.`"
            ));
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        let endpoint = match endpoint.map(str::trim).filter(|e| !e.is_empty()) {
            Some(endpoint) => endpoint.trim_end_matches('/').to_owned(),
            None => format!("https://s3.{region}.amazonaws.com"),
        };
        let authority = endpoint.strip_prefix("https://").or_else(|| endpoint.strip_prefix("http://"));
        if authority.is_none_or(|a| a.is_empty() || a.contains(['/', '?', '#', '@'])) {
            return Err(format!("backup.s3_endpoint: expected `http(s)://HOST[:PORT]`, found `{endpoint}`"));
        }
        Ok(Bucket { endpoint, region: region.to_owned(), bucket: bucket.to_owned(), prefix, credentials })
    }

    /// `s3://BUCKET/PREFIX` for messages.
    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// Uploads `body` as the object `name` under the prefix.
    pub async fn put(&self, name: &str, body: Vec<u8>) -> Result<(), String> {
        let key = format!("{}{name}", self.prefix);
        self.send(reqwest::Method::PUT, &key, &[], body).await.map(|_| ())
    }

    /// The object `name` under the prefix.
    pub async fn get(&self, name: &str) -> Result<Vec<u8>, String> {
        let key = format!("{}{name}", self.prefix);
        self.send(reqwest::Method::GET, &key, &[], Vec::new()).await
    }

    /// Deletes the object `name` under the prefix (S3 answers success for a missing one too).
    pub async fn delete(&self, name: &str) -> Result<(), String> {
        let key = format!("{}{name}", self.prefix);
        self.send(reqwest::Method::DELETE, &key, &[], Vec::new()).await.map(|_| ())
    }

    /// The names (keys without the prefix) of the objects directly under the prefix.
    pub async fn list(&self) -> Result<Vec<String>, String> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2".to_owned()), ("prefix", self.prefix.clone())];
            if let Some(token) = &token {
                query.push(("continuation-token", token.clone()));
            }
            let body = self.send(reqwest::Method::GET, "", &query, Vec::new()).await?;
            let text = String::from_utf8_lossy(&body);
            for key in elements(&text, "Key") {
                if let Some(name) = key.strip_prefix(&self.prefix).filter(|name| !name.contains('/')) {
                    names.push(name.to_owned());
                }
            }
            let truncated = elements(&text, "IsTruncated").first().is_some_and(|t| t == "true");
            token = elements(&text, "NextContinuationToken").into_iter().next();
            if !truncated || token.is_none() {
                return Ok(names);
            }
        }
    }

    /// One signed request on `key` of the bucket (empty: the bucket itself); the answer's body
    /// on success, else an error with S3's code and message.
    async fn send(
        &self,
        method: reqwest::Method,
        key: &str,
        query: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        let path = if key.is_empty() {
            format!("/{}", uri_encode(&self.bucket, false))
        } else {
            format!("/{}/{}", uri_encode(&self.bucket, false), uri_encode(key, true))
        };
        let authority = self.endpoint.split_once("://").map_or("", |(_, a)| a);
        let mut request = Request {
            method: method.as_str(),
            host: authority,
            path: &path,
            query: query.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            headers: Vec::new(),
            payload_hash: hex(&Sha256::digest(&body)),
        };
        if let Some(token) = &self.credentials.session_token {
            request.headers.push(("x-amz-security-token".into(), token.clone()));
        }
        let signed = request.sign(&self.credentials, &self.region, SystemTime::now());
        let query_string = canonical_query(&request.query);
        let url = if query_string.is_empty() {
            format!("{}{path}", self.endpoint)
        } else {
            format!("{}{path}?{query_string}", self.endpoint)
        };
        let client = ferrogram_telegram::http_client().map_err(|e| e.to_string())?;
        let mut builder = client.request(method.clone(), &url).timeout(REQUEST_TIMEOUT).body(body);
        for (name, value) in signed {
            builder = builder.header(name, value);
        }
        let what = format!(
            "S3 {method} {}",
            if key.is_empty() { self.describe() } else { format!("s3://{}/{key}", self.bucket) }
        );
        let response = builder.send().await.map_err(|e| format!("{what}: {}", error_chain(&e)))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| format!("{what}: reading the answer: {e}"))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let text = String::from_utf8_lossy(&bytes);
        let code = elements(&text, "Code").into_iter().next().unwrap_or_default();
        let message = elements(&text, "Message").into_iter().next().unwrap_or_default();
        Err(format!("{what}: {status} {code} {message}").trim_end().to_owned())
    }
}

/// An error and its causes (reqwest's own message hides a refused connection).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A request to sign: the parts Signature Version 4 covers.
struct Request<'a> {
    method: &'a str,
    /// The `Host` header as sent: `HOST[:PORT]`.
    host: &'a str,
    /// The URI-encoded path.
    path: &'a str,
    query: Vec<(String, String)>,
    /// Extra headers to sign and send, lowercase names.
    headers: Vec<(String, String)>,
    /// Hex SHA-256 of the body.
    payload_hash: String,
}

impl Request<'_> {
    /// The headers to send: `x-amz-date`, `x-amz-content-sha256`, the extra ones and
    /// `authorization` (AWS Signature Version 4, service `s3`).
    fn sign(&self, credentials: &Credentials, region: &str, now: SystemTime) -> Vec<(String, String)> {
        let stamp = utc(now);
        let amz_date = stamp.compact_seconds();
        let date = &amz_date[..8];
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), self.host.to_owned()),
            ("x-amz-content-sha256".into(), self.payload_hash.clone()),
            ("x-amz-date".into(), amz_date.clone()),
        ];
        headers.extend(self.headers.iter().cloned());
        headers.sort();
        let signed_headers = headers.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(";");
        let canonical_headers: String =
            headers.iter().map(|(name, value)| format!("{name}:{}\n", value.trim())).collect();
        let canonical = format!(
            "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
            self.method,
            self.path,
            canonical_query(&self.query),
            self.payload_hash
        );
        let scope = format!("{date}/{region}/s3/aws4_request");
        let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex(&Sha256::digest(canonical.as_bytes())));
        let mut key = hmac(format!("AWS4{}", credentials.secret_key).as_bytes(), date.as_bytes());
        for part in [region, "s3", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let signature = hex(&hmac(&key, to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key
        );
        let mut sent: Vec<(String, String)> = headers.into_iter().filter(|(name, _)| name != "host").collect();
        sent.push(("authorization".into(), authorization));
        sent
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3986 encoding as Signature Version 4 wants it: unreserved characters kept, `/` kept in
/// a path (`keep_slash`), everything else `%XX`.
fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The query sorted by name, names and values encoded: the same text signed and sent.
fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> =
        query.iter().map(|(k, v)| (uri_encode(k, false), uri_encode(v, false))).collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// The texts of the elements `<tag>…</tag>` of an S3 XML answer, entities decoded.
fn elements(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        found.push(
            after[..end]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &after[end + close.len()..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example credentials and time of AWS's Signature Version 4 documentation for S3
    /// ("Examples: Signature calculations in AWS Signature Version 4", header-based auth).
    fn example() -> (Credentials, SystemTime) {
        let credentials = Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        // 2013-05-24T00:00:00Z
        (credentials, SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600))
    }

    fn authorization(headers: &[(String, String)]) -> &str {
        headers.iter().find(|(name, _)| name == "authorization").map(|(_, value)| value.as_str()).unwrap_or_default()
    }

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn signs_aws_get_object_example() {
        let (credentials, now) = example();
        let request = Request {
            method: "GET",
            host: "examplebucket.s3.amazonaws.com",
            path: "/test.txt",
            query: Vec::new(),
            headers: vec![("range".into(), "bytes=0-9".into())],
            payload_hash: EMPTY.into(),
        };
        let headers = request.sign(&credentials, "us-east-1", now);
        assert_eq!(
            authorization(&headers),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert!(headers.contains(&("x-amz-date".into(), "20130524T000000Z".into())));
    }

    #[test]
    fn signs_aws_list_objects_example() {
        let (credentials, now) = example();
        let request = Request {
            method: "GET",
            host: "examplebucket.s3.amazonaws.com",
            path: "/",
            query: vec![("max-keys".into(), "2".into()), ("prefix".into(), "J".into())],
            headers: Vec::new(),
            payload_hash: EMPTY.into(),
        };
        let headers = request.sign(&credentials, "us-east-1", now);
        assert!(
            authorization(&headers)
                .ends_with("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
            "{}",
            authorization(&headers)
        );
    }

    #[test]
    fn bucket_urls_are_checked() {
        let credentials = example().0;
        let bucket = Bucket::parse(
            "s3://backups/ferrogram/prod/",
            Some("http://127.0.0.1:9000/"),
            "eu-west-1",
            credentials.clone(),
        )
        .expect("valid");
        assert_eq!((bucket.bucket.as_str(), bucket.prefix.as_str()), ("backups", "ferrogram/prod/"));
        assert_eq!(bucket.endpoint, "http://127.0.0.1:9000");
        let aws = Bucket::parse("s3://backups", None, "eu-west-1", credentials.clone()).expect("valid");
        assert_eq!((aws.endpoint.as_str(), aws.prefix.as_str()), ("https://s3.eu-west-1.amazonaws.com", ""));
        for bad in ["s3://", "s3://UPPER/x", "s3://a/x", "file:///tmp"] {
            assert!(Bucket::parse(bad, None, "us-east-1", credentials.clone()).is_err(), "{bad}");
        }
        assert!(Bucket::parse("s3://backups", Some("127.0.0.1:9000"), "us-east-1", credentials.clone()).is_err());
        assert!(format!("{credentials:?}").contains("AKIA") && !format!("{credentials:?}").contains("wJalr"));
    }

    #[test]
    fn credentials_come_from_the_aws_variables() {
        let env = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some("id".to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some("secret".to_owned()),
            _ => None,
        };
        let credentials = Credentials::from_env(env).expect("set");
        assert_eq!((credentials.access_key.as_str(), credentials.session_token), ("id", None));
        let missing = Credentials::from_env(|name| (name == "AWS_ACCESS_KEY_ID").then(|| "id".to_owned()));
        assert!(missing.unwrap_err().contains("AWS_SECRET_ACCESS_KEY"));
    }

    #[test]
    fn list_answers_are_read() {
        let xml = "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>p/a&amp;b</Key></Contents>\
                   <Contents><Key>p/c</Key></Contents><NextContinuationToken>t1</NextContinuationToken></ListBucketResult>";
        assert_eq!(elements(xml, "Key"), ["p/a&b", "p/c"]);
        assert_eq!(elements(xml, "NextContinuationToken"), ["t1"]);
        assert_eq!(uri_encode("a b/c+d", true), "a%20b/c%2Bd");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
    }
}

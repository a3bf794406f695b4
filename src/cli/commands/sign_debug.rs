//! `sign-debug` (hidden, outside the CLI contract of docs/CONTRACT.md): prints `--count` requests
//! as edas-rollback signs them with signature V3, one JSON object per line, for
//! `scripts/sdk_interop.py` to recompute with the official SDK's own V3 util. Every choice is
//! random from `--seed`: the call, the id (with spaces, `+`, `&`, `%`, `/`, `*`, `~` and non-ASCII
//! text), the region, the host, the date, the nonce, the keys and whether an STS token is sent. The
//! keys are generated here, never read from anywhere: no real secret can be printed.

use crate::cli::args::SignDebugArgs;
use crate::cli::commands::state::print_stdout;
use crate::edas::credentials::Credentials;
use crate::edas::endpoint::Endpoint;
use crate::edas::request::{HEADER_ACTION, HEADER_REGION_ID, HEADER_VERSION};
use crate::edas::secret::Secret;
use crate::edas::signer::{Acs3Signer, RequestSigner};
use crate::edas::{ABORT_PATH, API_VERSION, INFO_PATH, LIST_PATH, ROLLBACK_PATH};
use anyhow::Context;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// (method, path, action, the query parameter naming what the call is about).
const CALLS: [(&str, &str, &str, &str); 4] = [
    (
        "PUT",
        ABORT_PATH,
        "AbortAndRollbackChangeOrder",
        "ChangeOrderId",
    ),
    ("POST", INFO_PATH, "GetChangeOrderInfo", "ChangeOrderId"),
    ("PUT", ROLLBACK_PATH, "RollbackChangeOrder", "ChangeOrderId"),
    ("POST", LIST_PATH, "ListRecentChangeOrder", "AppId"),
];

/// Pieces ids are made of: plain, then every kind of character that needs encoding.
const ID_PIECES: [&str; 16] = [
    "6b55106c",
    "c7f2",
    "40f7",
    "a1d4",
    "0928700aaaaa",
    " ",
    "+",
    "&",
    "=",
    "%",
    "/",
    "*",
    "~",
    "变更单",
    "ü",
    "-",
];

const REGIONS: [&str; 5] = [
    "cn-hangzhou",
    "cn-shanghai",
    "ap-southeast-1",
    "eu-central-1",
    "cn-north-2-gov-1",
];

/// One signed request, with everything a verifier needs to recompute it.
#[derive(Serialize)]
struct SignedRequest {
    method: String,
    path: String,
    /// The query exactly as it goes on the wire.
    raw_query: String,
    /// Every header the request carries, lowercase names.
    headers: BTreeMap<String, String>,
    access_key_id: String,
    access_key_secret: String,
    security_token: Option<String>,
    canonical_request: String,
}

pub(crate) fn run(args: &SignDebugArgs) -> anyhow::Result<u8> {
    let mut rng = fastrand::Rng::with_seed(args.seed);
    let mut out = String::new();
    for _ in 0..args.count {
        let line = serde_json::to_string(&signed_request(&mut rng)?)
            .context("cannot encode a signed request")?;
        out.push_str(&line);
        out.push('\n');
    }
    print_stdout(&out)?;
    Ok(crate::cli::exit::OK)
}

fn signed_request(rng: &mut fastrand::Rng) -> anyhow::Result<SignedRequest> {
    let (method, path, action, parameter) = CALLS[rng.usize(..CALLS.len())];
    let id: String = (0..rng.usize(1..6))
        .map(|_| ID_PIECES[rng.usize(..ID_PIECES.len())])
        .collect();
    let region = REGIONS[rng.usize(..REGIONS.len())];
    let endpoint = if rng.bool() {
        format!("https://edas.{region}.aliyuncs.com")
    } else {
        format!("http://127.0.0.1:{}", rng.u16(1024..))
    };
    let endpoint = Endpoint::parse(&endpoint)?;
    // As `edas::request::build_request` builds every call: form-encoded query, these headers.
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair(parameter, &id)
        .append_pair("RegionId", region)
        .finish();
    let mut request = http::Request::builder()
        .method(method)
        .uri(endpoint.uri(&format!("{path}?{query}"))?)
        .header(http::header::ACCEPT, "application/json")
        .header(HEADER_VERSION, API_VERSION)
        .header(HEADER_ACTION, action)
        .header(HEADER_REGION_ID, region)
        .body(())?;
    let access_key_id = format!("LTAI5tDebug{:08}", rng.u32(..100_000_000));
    let access_key_secret: String = (0..30).map(|_| rng.alphanumeric()).collect();
    let mut credentials = Credentials::new(&access_key_id, Secret::new(access_key_secret.clone()));
    let security_token = rng.bool().then(|| {
        format!(
            "CAIS{}/+=",
            (0..24).map(|_| rng.alphanumeric()).collect::<String>()
        )
    });
    if let Some(token) = &security_token {
        credentials = credentials.with_security_token(Secret::new(token.clone()));
    }
    // Any second from 2020 to 2040.
    let date = SystemTime::UNIX_EPOCH + Duration::from_secs(rng.u64(1_577_836_800..2_208_988_800));
    let nonce = format!("{:032x}", rng.u128(..));
    let canonical_request = Acs3Signer.sign(&mut request, &credentials, date, &nonce)?;
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    Ok(SignedRequest {
        method: method.to_string(),
        path: path.to_string(),
        raw_query: query,
        headers,
        access_key_id,
        access_key_secret,
        security_token,
        canonical_request,
    })
}

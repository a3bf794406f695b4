//! Which host a request goes to (docs/wire.md, "Endpoints"): `--endpoint` / `EDAS_ENDPOINT`, else
//! the config's `provider.endpoint`, else the region table. Pure: the caller passes the flag and
//! config values in; nothing here reads the environment.

use std::fmt;

/// A parsed `http://` or `https://` base URL with no path, query or fragment, e.g.
/// `https://edas.cn-hangzhou.aliyuncs.com` or `http://127.0.0.1:8080` (the simulator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    #[error("endpoint `{endpoint}` is not a URL: {reason}")]
    NotAUrl { endpoint: String, reason: String },
    #[error("endpoint `{endpoint}` must start with `https://` or `http://`")]
    UnsupportedScheme { endpoint: String },
    #[error("endpoint `{endpoint}` must be a bare host (and port), without a path or query")]
    HasPath { endpoint: String },
    #[error("the region is empty; set `provider.region` in the config")]
    EmptyRegion,
    #[error(
        "region `{region}` has no VPC endpoint in the official endpoint list; remove `provider.endpoint_type: vpc` or set `provider.endpoint`"
    )]
    NoVpcEndpoint { region: String },
}

impl Endpoint {
    pub fn parse(text: &str) -> Result<Self, EndpointError> {
        let trimmed = text.trim();
        let uri: http::Uri =
            trimmed
                .parse()
                .map_err(|error: http::uri::InvalidUri| EndpointError::NotAUrl {
                    endpoint: trimmed.to_string(),
                    reason: error.to_string(),
                })?;
        let parts = uri.into_parts();
        let scheme = match parts.scheme {
            Some(scheme) if scheme == http::uri::Scheme::HTTP => scheme,
            Some(scheme) if scheme == http::uri::Scheme::HTTPS => scheme,
            _ => {
                return Err(EndpointError::UnsupportedScheme {
                    endpoint: trimmed.to_string(),
                });
            }
        };
        let authority = parts.authority.ok_or_else(|| EndpointError::NotAUrl {
            endpoint: trimmed.to_string(),
            reason: "it names no host".to_string(),
        })?;
        if authority.as_str().contains('@') {
            // User information may be a password: never echo it.
            return Err(EndpointError::NotAUrl {
                endpoint: format!("{scheme}://<user information>@{}", authority.host()),
                reason: "credentials never go in the endpoint".to_string(),
            });
        }
        if authority.host().is_empty() {
            return Err(EndpointError::NotAUrl {
                endpoint: trimmed.to_string(),
                reason: "it names no host".to_string(),
            });
        }
        if let Some(path_and_query) = parts.path_and_query
            && (path_and_query.path() != "/" && !path_and_query.path().is_empty()
                || path_and_query.query().is_some())
        {
            return Err(EndpointError::HasPath {
                endpoint: trimmed.to_string(),
            });
        }
        Ok(Self { scheme, authority })
    }

    pub fn scheme(&self) -> &str {
        self.scheme.as_str()
    }

    /// `host` or `host:port`, as sent in the `Host` header.
    pub fn authority(&self) -> &str {
        self.authority.as_str()
    }

    pub fn is_https(&self) -> bool {
        self.scheme == http::uri::Scheme::HTTPS
    }

    /// The full URI for a path and query on this endpoint.
    pub fn uri(&self, path_and_query: &str) -> Result<http::Uri, http::Error> {
        http::Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

/// The official SDK's endpoint table for EDAS: `EndpointData.endpoint_map` in
/// `aliyunsdkedas/endpoint.py` of the PyPI package `aliyun-python-sdk-edas` 3.26.9 (a copy is
/// kept in `tests/data/aliyun-python-sdk-edas-3.26.9-endpoint.py`, and a test checks this
/// table against it), sorted by region. The SDK's resolver (`aliyunsdkcore` 2.16.1,
/// `EndpointResolverRules`) uses it for the regions it lists and
/// `edas.<region>.aliyuncs.com` for every other ("regional").
pub const SDK_ENDPOINT_TABLE: &[(&str, &str)] = &[
    ("ap-northeast-2-pop", "edas.ap-northeast-1.aliyuncs.com"),
    ("ap-south-1", "edas.ap-northeast-1.aliyuncs.com"),
    ("ap-southeast-3", "edas.ap-northeast-1.aliyuncs.com"),
    ("ap-southeast-5", "edas.ap-northeast-1.aliyuncs.com"),
    ("cn-beijing-finance-1", "edas.aliyuncs.com"),
    ("cn-beijing-finance-pop", "edas.aliyuncs.com"),
    ("cn-beijing-gov-1", "edas.aliyuncs.com"),
    ("cn-beijing-nu16-b01", "edas.aliyuncs.com"),
    ("cn-chengdu", "edas.aliyuncs.com"),
    ("cn-edge-1", "edas.aliyuncs.com"),
    ("cn-fujian", "edas.aliyuncs.com"),
    ("cn-haidian-cm12-c01", "edas.aliyuncs.com"),
    ("cn-hangzhou-bj-b01", "edas.aliyuncs.com"),
    ("cn-hangzhou-finance", "edas.aliyuncs.com"),
    ("cn-hangzhou-internal-prod-1", "edas.aliyuncs.com"),
    ("cn-hangzhou-internal-test-1", "edas.aliyuncs.com"),
    ("cn-hangzhou-internal-test-2", "edas.aliyuncs.com"),
    ("cn-hangzhou-internal-test-3", "edas.aliyuncs.com"),
    ("cn-hangzhou-test-306", "edas.aliyuncs.com"),
    ("cn-hongkong-finance-pop", "edas.aliyuncs.com"),
    ("cn-huhehaote", "edas.aliyuncs.com"),
    ("cn-qingdao-nebula", "edas.aliyuncs.com"),
    ("cn-shanghai-et15-b01", "edas.aliyuncs.com"),
    ("cn-shanghai-et2-b01", "edas.aliyuncs.com"),
    ("cn-shanghai-finance-1", "edas.aliyuncs.com"),
    ("cn-shanghai-inner", "edas.aliyuncs.com"),
    ("cn-shanghai-internal-test-1", "edas.aliyuncs.com"),
    ("cn-shenzhen-finance-1", "edas.aliyuncs.com"),
    ("cn-shenzhen-inner", "edas.aliyuncs.com"),
    ("cn-shenzhen-st4-d01", "edas.aliyuncs.com"),
    ("cn-shenzhen-su18-b01", "edas.aliyuncs.com"),
    ("cn-wuhan", "edas.aliyuncs.com"),
    ("cn-yushanfang", "edas.aliyuncs.com"),
    ("cn-zhangbei-na61-b01", "edas.aliyuncs.com"),
    ("cn-zhangjiakou-na62-a01", "edas.aliyuncs.com"),
    ("cn-zhengzhou-nebula-1", "edas.aliyuncs.com"),
    ("eu-west-1", "edas.ap-northeast-1.aliyuncs.com"),
    ("eu-west-1-oxs", "edas.ap-northeast-1.aliyuncs.com"),
    ("me-east-1", "edas.ap-northeast-1.aliyuncs.com"),
    ("rus-west-1-pop", "edas.ap-northeast-1.aliyuncs.com"),
    ("us-west-1", "edas.ap-northeast-1.aliyuncs.com"),
];

/// The host the official SDK resolves for a region's public endpoint.
pub fn public_host_for_region(region: &str) -> String {
    let region = region.trim().to_ascii_lowercase();
    match SDK_ENDPOINT_TABLE.binary_search_by(|(listed, _)| (*listed).cmp(region.as_str())) {
        Ok(index) => SDK_ENDPOINT_TABLE[index].1.to_string(),
        Err(_) => format!("edas.{region}.aliyuncs.com"),
    }
}

/// The endpoint the official SDK resolves for a region (docs/wire.md, "Endpoints").
pub fn endpoint_for_region(region: &str) -> Endpoint {
    match Endpoint::parse(&format!("https://{}", public_host_for_region(region))) {
        Ok(endpoint) => endpoint,
        // A region with characters no host may hold cannot name a real endpoint; fall back to
        // the central one rather than panic. Config validation rejects such regions earlier.
        Err(_) => Endpoint {
            scheme: http::uri::Scheme::HTTPS,
            authority: http::uri::Authority::from_static("edas.aliyuncs.com"),
        },
    }
}

/// `provider.endpoint_type`: which network the derived endpoint is on.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum EndpointType {
    /// The public endpoint: the official SDK's table, else `edas.<region>.aliyuncs.com`.
    #[default]
    Public,
    /// The VPC endpoint, `edas-vpc.<region>.aliyuncs.com`, for hosts inside an Alibaba Cloud
    /// VPC (`docs/wire.md` cites the official endpoint list).
    Vpc,
}

/// Regions the official endpoint list shows with no VPC endpoint
/// (https://www.alibabacloud.com/help/en/edas/developer-reference/api-edas-2017-08-01-endpoint):
/// asking for one there is refused rather than sent to a host that does not exist.
pub const REGIONS_WITHOUT_VPC_ENDPOINT: &[&str] =
    &["ap-southeast-3", "ap-southeast-5", "cn-huhehaote"];

/// The VPC endpoint of a region: `edas-vpc.<region>.aliyuncs.com`, the host pattern of the
/// official endpoint list, and what the official SDK's resolver builds for the `vpc` network
/// (`<product>-vpc.<region>.aliyuncs.com`, never from the public table).
pub fn vpc_endpoint_for_region(region: &str) -> Result<Endpoint, EndpointError> {
    let region = region.trim().to_ascii_lowercase();
    if REGIONS_WITHOUT_VPC_ENDPOINT.contains(&region.as_str()) {
        return Err(EndpointError::NoVpcEndpoint { region });
    }
    Endpoint::parse(&format!("https://edas-vpc.{region}.aliyuncs.com"))
}

/// `--endpoint` / `EDAS_ENDPOINT` (already merged by clap) wins, then the config's
/// `provider.endpoint`, then the region's endpoint of `endpoint_type`.
pub fn resolve_endpoint(
    flag_or_env: Option<&str>,
    config: Option<&str>,
    region: &str,
    endpoint_type: EndpointType,
) -> Result<Endpoint, EndpointError> {
    let explicit = [flag_or_env, config]
        .into_iter()
        .flatten()
        .find(|value| !value.trim().is_empty());
    match (explicit, endpoint_type) {
        (Some(value), _) => Endpoint::parse(value),
        (None, _) if region.trim().is_empty() => Err(EndpointError::EmptyRegion),
        (None, EndpointType::Public) => Ok(endpoint_for_region(region)),
        (None, EndpointType::Vpc) => vpc_endpoint_for_region(region),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every region of the official SDK's own endpoint data (the copy in `tests/data`, from
    /// the PyPI package `aliyun-python-sdk-edas` 3.26.9, `aliyunsdkedas/endpoint.py`)
    /// resolves to the host the SDK gives it, and this table holds nothing else.
    #[test]
    fn every_region_resolves_as_the_official_sdk_endpoint_data_says() {
        let data = include_str!("../../tests/data/aliyun-python-sdk-edas-3.26.9-endpoint.py");
        let sdk: Vec<(&str, &str)> = data
            .lines()
            .filter_map(|line| {
                let line = line.trim().strip_suffix(',')?;
                let (region, host) = line.split_once(": ")?;
                Some((
                    region.strip_prefix('"')?.strip_suffix('"')?,
                    host.strip_prefix('"')?.strip_suffix('"')?,
                ))
            })
            .collect();
        assert_eq!(sdk.len(), 41, "the SDK lists 41 regions");
        assert_eq!(sdk.len(), SDK_ENDPOINT_TABLE.len());
        for (region, host) in &sdk {
            assert_eq!(
                endpoint_for_region(region).to_string(),
                format!("https://{host}"),
                "{region}"
            );
        }
        // The SDK's "regional" rule for everything else.
        assert!(data.contains("self.endpoint_regional = \"regional\""));
        for region in [
            "cn-beijing",
            "cn-shanghai",
            "eu-central-1",
            "us-east-1",
            "ap-southeast-1",
            "cn-hongkong",
        ] {
            assert!(!sdk.iter().any(|(listed, _)| *listed == region));
            assert_eq!(
                endpoint_for_region(region).to_string(),
                format!("https://edas.{region}.aliyuncs.com")
            );
        }
    }

    #[test]
    fn the_table_is_sorted_so_it_can_be_searched() {
        assert!(
            SDK_ENDPOINT_TABLE
                .windows(2)
                .all(|pair| pair[0].0 < pair[1].0)
        );
    }

    #[test]
    fn listed_regions_use_the_table_and_others_their_own_host() {
        for (region, expected) in [
            ("cn-hangzhou", "https://edas.cn-hangzhou.aliyuncs.com"),
            ("ap-northeast-1", "https://edas.ap-northeast-1.aliyuncs.com"),
            (
                "ap-northeast-2-pop",
                "https://edas.ap-northeast-1.aliyuncs.com",
            ),
            ("eu-west-1-oxs", "https://edas.ap-northeast-1.aliyuncs.com"),
            ("cn-huhehaote", "https://edas.aliyuncs.com"),
            (
                "cn-north-2-gov-1",
                "https://edas.cn-north-2-gov-1.aliyuncs.com",
            ),
            ("CN-Chengdu", "https://edas.aliyuncs.com"),
        ] {
            assert_eq!(
                endpoint_for_region(region).to_string(),
                expected,
                "{region}"
            );
        }
    }

    #[test]
    fn the_flag_wins_over_the_config_which_wins_over_the_table() {
        let both = resolve_endpoint(
            Some("http://127.0.0.1:8080"),
            Some("https://edas.example.com"),
            "cn-hangzhou",
            EndpointType::Public,
        );
        assert_eq!(both.unwrap().to_string(), "http://127.0.0.1:8080");
        let config = resolve_endpoint(
            None,
            Some("https://edas.example.com/"),
            "cn-hangzhou",
            EndpointType::Public,
        );
        assert_eq!(config.unwrap().to_string(), "https://edas.example.com");
        let table = resolve_endpoint(Some("  "), None, "cn-beijing", EndpointType::Public);
        assert_eq!(
            table.unwrap().to_string(),
            "https://edas.cn-beijing.aliyuncs.com"
        );
        assert_eq!(
            resolve_endpoint(None, None, "", EndpointType::Public),
            Err(EndpointError::EmptyRegion)
        );
    }

    #[test]
    fn the_vpc_endpoint_follows_the_official_pattern_and_refuses_regions_without_one() {
        let vpc = |region| resolve_endpoint(None, None, region, EndpointType::Vpc);
        assert_eq!(
            vpc("cn-hangzhou").unwrap().to_string(),
            "https://edas-vpc.cn-hangzhou.aliyuncs.com"
        );
        // Not the public table: the SDK's `vpc` network never reads it either.
        assert_eq!(
            vpc("cn-chengdu").unwrap().to_string(),
            "https://edas-vpc.cn-chengdu.aliyuncs.com"
        );
        assert_eq!(
            vpc("cn-huhehaote"),
            Err(EndpointError::NoVpcEndpoint {
                region: "cn-huhehaote".to_string()
            })
        );
        // An explicit endpoint wins over the type.
        assert_eq!(
            resolve_endpoint(
                Some("http://127.0.0.1:1"),
                None,
                "cn-huhehaote",
                EndpointType::Vpc
            )
            .unwrap()
            .to_string(),
            "http://127.0.0.1:1"
        );
    }

    #[test]
    fn endpoints_that_are_not_bare_http_urls_are_refused() {
        assert!(matches!(
            Endpoint::parse("ftp://edas.example.com"),
            Err(EndpointError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            Endpoint::parse("edas.example.com"),
            Err(EndpointError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            Endpoint::parse("https://edas.example.com/pop?x=1"),
            Err(EndpointError::HasPath { .. })
        ));
        assert!(matches!(
            Endpoint::parse("https://user:pw@edas.example.com"),
            Err(EndpointError::NotAUrl { .. })
        ));
        assert!(matches!(
            Endpoint::parse("http://exa mple"),
            Err(EndpointError::NotAUrl { .. })
        ));
    }

    #[test]
    fn a_loopback_endpoint_keeps_its_port() {
        let endpoint = Endpoint::parse("http://127.0.0.1:41234").unwrap();
        assert_eq!(endpoint.authority(), "127.0.0.1:41234");
        assert!(!endpoint.is_https());
        assert_eq!(
            endpoint.uri("/p?a=b").unwrap().to_string(),
            "http://127.0.0.1:41234/p?a=b"
        );
    }
}

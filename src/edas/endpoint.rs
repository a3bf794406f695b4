//! Which host a request goes to (DESIGN 5): `--endpoint` / `EDAS_ENDPOINT`, else the config's
//! `provider.endpoint`, else the region table. Pure: the caller passes the flag and config
//! values in; nothing here reads the environment.

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

/// The regions served by the central endpoint instead of their own.
const CENTRAL_REGIONS: &[&str] = &["cn-huhehaote", "cn-chengdu", "cn-wuhan"];
/// The regions served from Tokyo.
const TOKYO_SERVED_REGIONS: &[&str] = &[
    "ap-south-1",
    "ap-southeast-3",
    "ap-southeast-5",
    "us-west-1",
    "eu-west-1",
    "me-east-1",
];

/// The endpoint DESIGN 5's table gives for a region.
pub fn endpoint_for_region(region: &str) -> Endpoint {
    let region = region.trim().to_ascii_lowercase();
    let host = if CENTRAL_REGIONS.contains(&region.as_str())
        || region.contains("-finance")
        || region.contains("-gov")
    {
        "edas.aliyuncs.com".to_string()
    } else if TOKYO_SERVED_REGIONS.contains(&region.as_str()) {
        "edas.ap-northeast-1.aliyuncs.com".to_string()
    } else {
        format!("edas.{region}.aliyuncs.com")
    };
    match Endpoint::parse(&format!("https://{host}")) {
        Ok(endpoint) => endpoint,
        // A region with characters no host may hold cannot name a real endpoint; fall back to
        // the central one rather than panic. Config validation rejects such regions earlier.
        Err(_) => Endpoint {
            scheme: http::uri::Scheme::HTTPS,
            authority: http::uri::Authority::from_static("edas.aliyuncs.com"),
        },
    }
}

/// `--endpoint` / `EDAS_ENDPOINT` (already merged by clap) wins, then the config's
/// `provider.endpoint`, then the region table.
pub fn resolve_endpoint(
    flag_or_env: Option<&str>,
    config: Option<&str>,
    region: &str,
) -> Result<Endpoint, EndpointError> {
    let explicit = [flag_or_env, config]
        .into_iter()
        .flatten()
        .find(|value| !value.trim().is_empty());
    match explicit {
        Some(value) => Endpoint::parse(value),
        None if region.trim().is_empty() => Err(EndpointError::EmptyRegion),
        None => Ok(endpoint_for_region(region)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_table_matches_the_design() {
        let table = [
            ("cn-hangzhou", "https://edas.cn-hangzhou.aliyuncs.com"),
            ("cn-shanghai", "https://edas.cn-shanghai.aliyuncs.com"),
            ("ap-northeast-1", "https://edas.ap-northeast-1.aliyuncs.com"),
            ("cn-huhehaote", "https://edas.aliyuncs.com"),
            ("cn-chengdu", "https://edas.aliyuncs.com"),
            ("cn-wuhan", "https://edas.aliyuncs.com"),
            ("cn-hangzhou-finance", "https://edas.aliyuncs.com"),
            ("cn-shanghai-finance-1", "https://edas.aliyuncs.com"),
            ("cn-shenzhen-finance-1", "https://edas.aliyuncs.com"),
            ("cn-north-2-gov-1", "https://edas.aliyuncs.com"),
            ("ap-south-1", "https://edas.ap-northeast-1.aliyuncs.com"),
            ("ap-southeast-3", "https://edas.ap-northeast-1.aliyuncs.com"),
            ("ap-southeast-5", "https://edas.ap-northeast-1.aliyuncs.com"),
            ("us-west-1", "https://edas.ap-northeast-1.aliyuncs.com"),
            ("eu-west-1", "https://edas.ap-northeast-1.aliyuncs.com"),
            ("me-east-1", "https://edas.ap-northeast-1.aliyuncs.com"),
            ("ap-southeast-1", "https://edas.ap-southeast-1.aliyuncs.com"),
            ("eu-central-1", "https://edas.eu-central-1.aliyuncs.com"),
        ];
        for (region, expected) in table {
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
        );
        assert_eq!(both.unwrap().to_string(), "http://127.0.0.1:8080");
        let config = resolve_endpoint(None, Some("https://edas.example.com/"), "cn-hangzhou");
        assert_eq!(config.unwrap().to_string(), "https://edas.example.com");
        let table = resolve_endpoint(Some("  "), None, "cn-beijing");
        assert_eq!(
            table.unwrap().to_string(),
            "https://edas.cn-beijing.aliyuncs.com"
        );
        assert_eq!(
            resolve_endpoint(None, None, ""),
            Err(EndpointError::EmptyRegion)
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

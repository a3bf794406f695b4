//! Which proxy, if any, a request goes through: the `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`
//! and `NO_PROXY` variables (and their lowercase forms), read by `cli::env` and parsed here,
//! with the rules reqwest applied before this crate had its own client (hyper-util's
//! `proxy::matcher`, which reqwest's `Proxy::system` uses): the uppercase name wins over the
//! lowercase one; `ALL_PROXY` stands in for an unset `HTTP_PROXY` / `HTTPS_PROXY`; a CGI
//! process (`REQUEST_METHOD` set) ignores `HTTP_PROXY` ("httpoxy"); a proxy URL without a
//! scheme is `http://`; `NO_PROXY` is a comma list of `*`, IP addresses, CIDR blocks and domain
//! names (a name matches itself and its subdomains; a leading `.` or `*.` changes nothing).
//!
//! Pure: values in, a [`ProxySettings`] out. Proxy credentials (`http://user:pass@proxy:3128`)
//! become a ready `Proxy-Authorization: Basic …` value held as a [`Secret`]; no error, log
//! line or `Debug` output shows them.

use crate::edas::secret::Secret;
use std::fmt;
use std::net::IpAddr;

/// The proxy variables as the environment had them (`None`: unset).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyEnvironment {
    pub http_proxy: Option<String>,
    pub https_proxy: Option<String>,
    pub all_proxy: Option<String>,
    pub no_proxy: Option<String>,
    /// `REQUEST_METHOD` is set: a CGI script, where `HTTP_PROXY` may come from a request header.
    pub is_cgi: bool,
}

impl fmt::Debug for ProxyEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The values may hold proxy passwords: show only which are set.
        f.debug_struct("ProxyEnvironment")
            .field("http_proxy", &self.http_proxy.is_some())
            .field("https_proxy", &self.https_proxy.is_some())
            .field("all_proxy", &self.all_proxy.is_some())
            .field("no_proxy", &self.no_proxy)
            .field("is_cgi", &self.is_cgi)
            .finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyError {
    #[error(
        "the proxy `{shown}` in `{variable}` is not supported: only `http://` proxies are (an `https` endpoint is reached through them by a CONNECT tunnel)"
    )]
    UnsupportedScheme {
        variable: &'static str,
        shown: String,
    },
    #[error("the proxy in `{variable}` is not a URL like `http://proxy.example:3128`")]
    NotAUrl { variable: &'static str },
}

/// One proxy server: where to connect, and the `Proxy-Authorization` value when its URL
/// carried user information.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    pub authorization: Option<Secret>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl fmt::Display for Proxy {
    /// `http://host:port`, never the credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}:{}", self.host, self.port)
    }
}

/// The parsed proxy variables. `Default` is "no proxy": every request goes direct.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxySettings {
    http: Option<Proxy>,
    https: Option<Proxy>,
    no_proxy: NoProxy,
}

impl ProxySettings {
    pub fn from_environment(environment: &ProxyEnvironment) -> Result<Self, ProxyError> {
        let set = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
        let all = set(&environment.all_proxy);
        let http_variable = if environment.is_cgi {
            None
        } else {
            set(&environment.http_proxy)
        };
        let (http, http_name) = match http_variable {
            Some(value) => (Some(value), "HTTP_PROXY"),
            None => (all.clone(), "ALL_PROXY"),
        };
        let (https, https_name) = match set(&environment.https_proxy) {
            Some(value) => (Some(value), "HTTPS_PROXY"),
            None => (all, "ALL_PROXY"),
        };
        Ok(Self {
            http: http.map(|v| parse_proxy(&v, http_name)).transpose()?,
            https: https.map(|v| parse_proxy(&v, https_name)).transpose()?,
            no_proxy: NoProxy::parse(environment.no_proxy.as_deref().unwrap_or("")),
        })
    }

    /// The proxy for a request to `host` over `https` or plain `http`; `None`: go direct.
    pub fn proxy_for(&self, https: bool, host: &str) -> Option<&Proxy> {
        let proxy = if https { &self.https } else { &self.http };
        let proxy = proxy.as_ref()?;
        (!self.no_proxy.matches(host)).then_some(proxy)
    }
}

/// `http://[user[:password]@]host[:port][/]`; no scheme means `http://`.
fn parse_proxy(value: &str, variable: &'static str) -> Result<Proxy, ProxyError> {
    let value = value.trim();
    let rest = match value.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some((scheme, rest)) => {
            let host = rest
                .rsplit_once('@')
                .map_or(rest, |(_, host)| host)
                .trim_end_matches('/');
            return Err(ProxyError::UnsupportedScheme {
                variable,
                shown: format!("{scheme}://{host}"),
            });
        }
        None => value,
    };
    let rest = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (userinfo, host_port) = match rest.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, rest),
    };
    let (host, port) = split_host_port(host_port).ok_or(ProxyError::NotAUrl { variable })?;
    let authorization = userinfo.map(|userinfo| {
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let credentials = format!("{}:{}", percent_decode(user), percent_decode(password));
        use base64::Engine as _;
        Secret::new(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        ))
    });
    Ok(Proxy {
        host,
        port,
        authorization,
    })
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` (default port 80, the `http` proxy's).
fn split_host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().ok()?,
            None if after.is_empty() => 80,
            None => return None,
        };
        (host.to_string(), port)
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), port.parse().ok()?),
            None => (text.to_string(), 80),
        }
    };
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'));
    valid.then_some((host, port))
}

/// `%XX` escapes decoded (user information may escape `:` and `@`); bad escapes stay as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8(decoded).unwrap_or_else(|_| text.to_string())
}

/// The `NO_PROXY` list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct NoProxy {
    everything: bool,
    networks: Vec<(IpAddr, u8)>,
    domains: Vec<String>,
}

impl NoProxy {
    fn parse(text: &str) -> Self {
        let mut no_proxy = Self::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                no_proxy.everything = true;
            } else if let Some(network) = parse_network(entry) {
                no_proxy.networks.push(network);
            } else {
                let domain = entry.trim_start_matches("*.").trim_start_matches('.');
                no_proxy.domains.push(domain.to_ascii_lowercase());
            }
        }
        no_proxy
    }

    fn matches(&self, host: &str) -> bool {
        if self.everything {
            return true;
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(address) = bare.parse::<IpAddr>() {
            return self
                .networks
                .iter()
                .any(|&(network, prefix)| in_network(address, network, prefix));
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.domains.iter().any(|domain| {
            host == *domain
                || host
                    .strip_suffix(domain.as_str())
                    .is_some_and(|head| head.ends_with('.'))
        })
    }
}

/// `10.0.0.1`, `::1`, `10.0.0.0/8`, `fd00::/8`.
fn parse_network(entry: &str) -> Option<(IpAddr, u8)> {
    let (address, prefix) = match entry.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
        None => (entry, None),
    };
    let address: IpAddr = address
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    let full = if address.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(full);
    (prefix <= full).then_some((address, prefix))
}

fn in_network(address: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(pairs: &[(&str, &str)]) -> ProxyEnvironment {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        };
        ProxyEnvironment {
            http_proxy: get("HTTP_PROXY"),
            https_proxy: get("HTTPS_PROXY"),
            all_proxy: get("ALL_PROXY"),
            no_proxy: get("NO_PROXY"),
            is_cgi: get("REQUEST_METHOD").is_some(),
        }
    }

    #[test]
    fn all_proxy_stands_in_for_the_unset_scheme_proxies() {
        let settings = ProxySettings::from_environment(&environment(&[
            ("ALL_PROXY", "proxy.internal:3128"),
            ("HTTPS_PROXY", "http://secure.internal:8443/"),
        ]))
        .unwrap();
        let http = settings.proxy_for(false, "edas.aliyuncs.com").unwrap();
        assert_eq!((http.host.as_str(), http.port), ("proxy.internal", 3128));
        let https = settings.proxy_for(true, "edas.aliyuncs.com").unwrap();
        assert_eq!((https.host.as_str(), https.port), ("secure.internal", 8443));
        assert!(ProxySettings::default().proxy_for(true, "x").is_none());
    }

    #[test]
    fn a_cgi_process_ignores_http_proxy() {
        let settings = ProxySettings::from_environment(&environment(&[
            ("HTTP_PROXY", "http://injected:1"),
            ("REQUEST_METHOD", "GET"),
        ]))
        .unwrap();
        assert!(settings.proxy_for(false, "edas.aliyuncs.com").is_none());
    }

    #[test]
    fn no_proxy_matches_domains_their_subdomains_addresses_and_networks() {
        let settings = ProxySettings::from_environment(&environment(&[
            ("HTTPS_PROXY", "http://p:3128"),
            (
                "NO_PROXY",
                " .internal.example, aliyuncs.com ,10.0.0.0/8,::1, 127.0.0.1",
            ),
        ]))
        .unwrap();
        for bypassed in [
            "aliyuncs.com",
            "edas.cn-hangzhou.aliyuncs.com",
            "EDAS.ALIYUNCS.COM.",
            "internal.example",
            "a.internal.example",
            "10.1.2.3",
            "[::1]",
            "127.0.0.1",
        ] {
            assert!(
                settings.proxy_for(true, bypassed).is_none(),
                "{bypassed} bypasses the proxy"
            );
        }
        for proxied in ["notaliyuncs.com", "11.0.0.1", "127.0.0.2", "example"] {
            assert!(
                settings.proxy_for(true, proxied).is_some(),
                "{proxied} goes through the proxy"
            );
        }
        let everything = ProxySettings::from_environment(&environment(&[
            ("HTTPS_PROXY", "http://p:3128"),
            ("NO_PROXY", "*"),
        ]))
        .unwrap();
        assert!(everything.proxy_for(true, "edas.aliyuncs.com").is_none());
    }

    #[test]
    fn proxy_credentials_become_a_basic_header_and_are_never_shown() {
        let settings = ProxySettings::from_environment(&environment(&[(
            "HTTPS_PROXY",
            "http://ops%40corp:Proxy%3APassw0rd@proxy.corp:3128",
        )]))
        .unwrap();
        let proxy = settings.proxy_for(true, "edas.aliyuncs.com").unwrap();
        use base64::Engine as _;
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ops@corp:Proxy:Passw0rd")
        );
        assert_eq!(
            proxy.authorization.as_ref().unwrap().expose_to_signer(),
            expected
        );
        let shown = format!("{settings:?} {proxy} {proxy:?}");
        assert!(!shown.contains("Passw0rd"), "{shown}");
        assert!(!shown.contains("Proxy%3A"), "{shown}");
        assert!(!shown.contains(&expected[6..]), "{shown}");

        let error = ProxySettings::from_environment(&environment(&[(
            "HTTPS_PROXY",
            "socks5://ops:Passw0rd@proxy.corp:1080",
        )]))
        .unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(shown.contains("socks5://proxy.corp:1080"), "{shown}");
        assert!(!shown.contains("Passw0rd"), "{shown}");
        assert!(
            ProxySettings::from_environment(&environment(&[("HTTP_PROXY", "http://a b:x")]))
                .is_err()
        );
    }
}

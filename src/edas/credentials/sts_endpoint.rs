//! Which STS and metadata-service addresses to use (pure: the environment is an argument).
//!
//! STS as the official libraries pick it: `sts.aliyuncs.com`; `sts.<region>.aliyuncs.com` with
//! `ALIBABA_CLOUD_STS_REGION` (or a profile's `sts_region`); `sts-vpc.<region>.aliyuncs.com`
//! with `ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED=true` (or a profile's `enable_vpc`). Two overrides
//! of ours, for loopback tests and locked-down networks with a proxy:
//! `ALIBABA_CLOUD_STS_ENDPOINT` (a host, or a full URL such as `http://127.0.0.1:8911`) and
//! `ALIBABA_CLOUD_IMDS_ENDPOINT` (the metadata base URL, default `http://100.100.100.200`).

pub const ENV_STS_ENDPOINT: &str = "ALIBABA_CLOUD_STS_ENDPOINT";
pub const ENV_STS_REGION: &str = "ALIBABA_CLOUD_STS_REGION";
pub const ENV_VPC_ENDPOINT_ENABLED: &str = "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED";
pub const ENV_IMDS_ENDPOINT: &str = "ALIBABA_CLOUD_IMDS_ENDPOINT";
pub const DEFAULT_STS_HOST: &str = "sts.aliyuncs.com";
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://100.100.100.200";

/// A host becomes `https://host`; a URL is kept (without a trailing `/`).
fn as_url(text: &str) -> String {
    let text = text.trim().trim_end_matches('/');
    if text.contains("://") {
        text.to_string()
    } else {
        format!("https://{text}")
    }
}

fn is_true(value: Option<String>) -> bool {
    value.is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
}

/// The STS base URL. `region` and `vpc` come from a profile when it sets them; the environment
/// fills in what it does not.
pub fn sts_url(
    env: &dyn Fn(&str) -> Option<String>,
    region: Option<&str>,
    vpc: Option<bool>,
) -> String {
    let lookup = |name: &str| env(name).filter(|value| !value.trim().is_empty());
    if let Some(endpoint) = lookup(ENV_STS_ENDPOINT) {
        return as_url(&endpoint);
    }
    let vpc = vpc.unwrap_or_else(|| is_true(lookup(ENV_VPC_ENDPOINT_ENABLED)));
    let prefix = if vpc { "sts-vpc" } else { "sts" };
    let region = region
        .map(str::to_string)
        .filter(|region| !region.trim().is_empty())
        .or_else(|| lookup(ENV_STS_REGION));
    match region {
        Some(region) => format!("https://{prefix}.{}.aliyuncs.com", region.trim()),
        None => format!("https://{DEFAULT_STS_HOST}"),
    }
}

/// The metadata service base URL.
pub fn imds_url(env: &dyn Fn(&str) -> Option<String>) -> String {
    match env(ENV_IMDS_ENDPOINT).filter(|value| !value.trim().is_empty()) {
        Some(endpoint) if endpoint.contains("://") => endpoint.trim().trim_end_matches('/').into(),
        Some(host) => format!("http://{}", host.trim().trim_end_matches('/')),
        None => DEFAULT_IMDS_ENDPOINT.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn sts_is_global_then_regional_then_vpc_and_the_override_wins() {
        assert_eq!(sts_url(&env(&[]), None, None), "https://sts.aliyuncs.com");
        assert_eq!(
            sts_url(&env(&[(ENV_STS_REGION, "cn-shanghai")]), None, None),
            "https://sts.cn-shanghai.aliyuncs.com"
        );
        assert_eq!(
            sts_url(
                &env(&[
                    (ENV_STS_REGION, "cn-shanghai"),
                    (ENV_VPC_ENDPOINT_ENABLED, "true")
                ]),
                None,
                None
            ),
            "https://sts-vpc.cn-shanghai.aliyuncs.com"
        );
        // The profile's `sts_region` beats the environment's.
        assert_eq!(
            sts_url(
                &env(&[(ENV_STS_REGION, "cn-shanghai")]),
                Some("cn-beijing"),
                Some(false)
            ),
            "https://sts.cn-beijing.aliyuncs.com"
        );
        assert_eq!(
            sts_url(
                &env(&[(ENV_STS_ENDPOINT, "http://127.0.0.1:8911/")]),
                Some("cn-beijing"),
                None
            ),
            "http://127.0.0.1:8911"
        );
        assert_eq!(
            sts_url(
                &env(&[(ENV_STS_ENDPOINT, "sts.proxy.internal")]),
                None,
                None
            ),
            "https://sts.proxy.internal"
        );
    }

    #[test]
    fn the_metadata_service_defaults_to_the_link_local_address() {
        assert_eq!(imds_url(&env(&[])), "http://100.100.100.200");
        assert_eq!(
            imds_url(&env(&[(ENV_IMDS_ENDPOINT, "http://127.0.0.1:9/")])),
            "http://127.0.0.1:9"
        );
    }
}

//! Credentials and where they come from (docs/credentials.md): the official default
//! chain ([`chain`]), the aliyun CLI profiles ([`profile`]) and credentials file ([`ini`]),
//! STS and the other remote sources ([`fetch`]), the RPC signer STS needs ([`rpc`]), and the
//! [`CredentialsProvider`] that hands every request credentials valid at that moment,
//! refreshing temporary ones before they expire ([`provider`]).
//!
//! Deciding the source is pure (the environment and the files' text are arguments); the
//! shell [`load_provider`] reads them and fetches. Secrets are held in [`Secret`] and never
//! leave it except through a signer: no error here quotes a value from the environment, a
//! file, a server's answer or a process's output.

pub mod chain;
pub mod fetch;
pub mod ini;
pub mod profile;
pub mod provider;
pub mod rpc;
pub mod source;
pub mod sts_endpoint;

pub use chain::{ChainFiles, ChainOutcome, resolve_chain};
pub use provider::{CredentialsProvider, ProviderClock, SystemProviderClock};
pub use source::{Origin, Resolved, Source};

use super::secret::Secret;
use std::path::PathBuf;

/// An access key, optionally with an STS security token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: Secret,
    pub security_token: Option<Secret>,
}

impl Credentials {
    pub fn new(access_key_id: impl Into<String>, access_key_secret: Secret) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            access_key_secret,
            security_token: None,
        }
    }

    pub fn with_security_token(mut self, token: Secret) -> Self {
        self.security_token = Some(token);
        self
    }
}

pub const ENV_ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
pub const ENV_ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
pub const ENV_SECURITY_TOKEN: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";
pub const ENV_ALICLOUD_ACCESS_KEY: &str = "ALICLOUD_ACCESS_KEY";
pub const ENV_ALICLOUD_SECRET_KEY: &str = "ALICLOUD_SECRET_KEY";
pub const ENV_ALICLOUD_SECURITY_TOKEN: &str = "ALICLOUD_SECURITY_TOKEN";
pub const ENV_PROFILE: &str = "ALIBABA_CLOUD_PROFILE";
pub const ENV_ROLE_ARN: &str = "ALIBABA_CLOUD_ROLE_ARN";
pub const ENV_OIDC_PROVIDER_ARN: &str = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN";
pub const ENV_OIDC_TOKEN_FILE: &str = "ALIBABA_CLOUD_OIDC_TOKEN_FILE";
pub const ENV_ROLE_SESSION_NAME: &str = "ALIBABA_CLOUD_ROLE_SESSION_NAME";
pub const ENV_CLI_PROFILE_DISABLED: &str = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED";
pub const ENV_CREDENTIALS_FILE: &str = "ALIBABA_CLOUD_CREDENTIALS_FILE";
pub const ENV_ECS_METADATA: &str = "ALIBABA_CLOUD_ECS_METADATA";
pub const ENV_ECS_METADATA_DISABLED: &str = "ALIBABA_CLOUD_ECS_METADATA_DISABLED";
pub const ENV_IMDSV1_DISABLED: &str = "ALIBABA_CLOUD_IMDSV1_DISABLED";
pub const ENV_CREDENTIALS_URI: &str = "ALIBABA_CLOUD_CREDENTIALS_URI";
/// The credentials file of the official libraries, relative to the home directory.
pub const CREDENTIALS_FILE_RELATIVE_PATH: &str = ".alibabacloud/credentials";
/// The name the official Python library looks for instead, tried second.
pub const CREDENTIALS_INI_RELATIVE_PATH: &str = ".alibabacloud/credentials.ini";
/// The role session name when the configuration names none (the STS audit log shows it).
pub const DEFAULT_SESSION_NAME: &str = "edas-rollback";
/// Where the aliyun CLI keeps its profiles, relative to the home directory.
pub const ALIYUN_CONFIG_RELATIVE_PATH: &str = ".aliyun/config.json";

/// One place searched for credentials, for the "none found" error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaceLookedAt {
    pub place: String,
    pub found: String,
    pub fix: String,
}

/// Why no credentials could be used. No variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("no Alibaba Cloud credentials found; looked in:{}", render_places(.looked_at))]
    NotFound { looked_at: Vec<PlaceLookedAt> },
    #[error("`{present}` is set but `{missing}` is not; set both, or unset `{present}`")]
    IncompleteEnvironment {
        present: &'static str,
        missing: &'static str,
    },
    #[error("cannot read the aliyun CLI profile file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the aliyun CLI profile file `{}` is not valid ({kind}) at line {line}, column {column}",
        path.display()
    )]
    Malformed {
        path: PathBuf,
        kind: &'static str,
        line: usize,
        column: usize,
    },
    #[error(
        "profile `{profile}` ({chosen_by}) is not in `{}`; profiles there: {}",
        path.display(),
        render_names(.available)
    )]
    ProfileNotFound {
        path: PathBuf,
        profile: String,
        chosen_by: &'static str,
        available: Vec<String>,
    },
    #[error(
        "profile `{profile}` in `{}` uses mode `{mode}`, which edas-rollback does not know; use one of AK, StsToken, RamRoleArn, ChainableRamRoleArn, EcsRamRole, OIDC, CredentialsURI, External (docs/credentials.md)",
        path.display()
    )]
    UnsupportedMode {
        path: PathBuf,
        profile: String,
        mode: String,
    },
    #[error(
        "profile `{profile}` in `{}` uses mode `{mode}`, which needs a browser sign-in that a non-interactive run cannot do; sign in with the aliyun CLI and export temporary credentials as `{ENV_ACCESS_KEY_ID}`, `{ENV_ACCESS_KEY_SECRET}` and `{ENV_SECURITY_TOKEN}`, or use a profile in mode RamRoleArn, OIDC, EcsRamRole or External (docs/credentials.md)",
        path.display()
    )]
    InteractiveMode {
        path: PathBuf,
        profile: String,
        mode: String,
    },
    #[error("profile `{profile}` in `{}` has `{field}` that is not {expected}", path.display())]
    InvalidField {
        path: PathBuf,
        profile: String,
        field: &'static str,
        expected: &'static str,
    },
    #[error(
        "profile `{profile}` in `{}` is part of a `source_profile` cycle (or a chain deeper than 8)",
        path.display()
    )]
    ProfileCycle { path: PathBuf, profile: String },
    #[error("cannot read the credentials file `{}`", path.display())]
    ReadCredentialsFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A configured source could not give credentials (first fetch).
    #[error("cannot get credentials from {origin}: {reason}")]
    Fetch { origin: String, reason: String },
    /// Temporary credentials could not be renewed during a run.
    #[error(
        "cannot refresh the temporary credentials from {origin} before they expire: {reason}; the run stops rather than sign with expired credentials"
    )]
    Refresh { origin: String, reason: String },
    #[error("profile `{profile}` in `{}` has no `{field}`", path.display())]
    MissingField {
        path: PathBuf,
        profile: String,
        field: &'static str,
    },
}

fn render_places(places: &[PlaceLookedAt]) -> String {
    places
        .iter()
        .map(|place| format!("\n  - {}: {}; {}", place.place, place.found, place.fix))
        .collect()
}

fn render_names(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The process environment as the chain reads it. Captured by `cli/` (the only module that
/// reads the environment, docs/DECISIONS.md "Boundaries") and passed in, so the chain reads
/// no global state. No `Debug`: the values hold access key secrets and tokens.
#[derive(Clone, Default)]
pub struct ChainEnvironment {
    /// Variables by name (those whose name and value are UTF-8; others read as unset).
    pub vars: std::collections::HashMap<String, String>,
    /// The home directory (`HOME`, else `USERPROFILE`).
    pub home: Option<PathBuf>,
    /// The proxy variables, parsed (STS, the metadata service and a credentials URI are
    /// reached through them, as the EDAS endpoint is).
    pub proxy: crate::transport::ProxySettings,
}

/// Reads the chain's files, walks the chain over `environment` and fetches the first
/// credentials (so a broken source fails before anything is sent). `profile` is the config's
/// `provider.profile`.
pub async fn load_provider(
    profile: Option<&str>,
    environment: &ChainEnvironment,
) -> Result<CredentialsProvider, CredentialsError> {
    let env = |name: &str| environment.vars.get(name).cloned();
    let home = environment.home.clone();
    let aliyun_config = match &home {
        Some(home) => read_optional(home.join(ALIYUN_CONFIG_RELATIVE_PATH))
            .map_err(|(path, source)| CredentialsError::Read { path, source })?,
        None => None,
    };
    let credentials_file_path = match profile::non_empty(env(ENV_CREDENTIALS_FILE)) {
        Some(path) => Some(PathBuf::from(path)),
        None => home
            .as_ref()
            .map(|home| home.join(CREDENTIALS_FILE_RELATIVE_PATH)),
    };
    let mut credentials_file = match &credentials_file_path {
        Some(path) => read_optional(path.clone())
            .map_err(|(path, source)| CredentialsError::ReadCredentialsFile { path, source })?,
        None => None,
    };
    // The Python library's default name for the same file, when ours is absent.
    if credentials_file.is_none()
        && profile::non_empty(env(ENV_CREDENTIALS_FILE)).is_none()
        && let Some(home) = &home
    {
        credentials_file = read_optional(home.join(CREDENTIALS_INI_RELATIVE_PATH))
            .map_err(|(path, source)| CredentialsError::ReadCredentialsFile { path, source })?;
    }
    let credentials_file_path = match &credentials_file {
        Some((path, _)) => Some(path.clone()),
        None => credentials_file_path,
    };
    let files = ChainFiles {
        aliyun_config: aliyun_config
            .as_ref()
            .map(|(path, text)| (path.as_path(), text.as_str())),
        credentials_file_path: credentials_file_path.as_deref(),
        credentials_file: credentials_file.as_ref().map(|(_, text)| text.as_str()),
    };
    let outcome = resolve_chain(&env, &files, profile)?;
    CredentialsProvider::from_chain(
        outcome,
        std::sync::Arc::new(SystemProviderClock),
        &environment.proxy,
    )
    .await
}

/// A file's text, `None` when it does not exist.
fn read_optional(path: PathBuf) -> Result<Option<(PathBuf, String)>, (PathBuf, std::io::Error)> {
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some((path, text))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err((path, error)),
    }
}

/// `true`, in any case, means true (as the official libraries read their switches).
pub(crate) fn is_true(value: Option<String>) -> bool {
    value.is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::Path;

    /// The chain's answer for static sources, as the keys (tests of the local chain).
    fn resolve_credentials(
        env: &dyn Fn(&str) -> Option<String>,
        aliyun_config: Option<(&Path, &str)>,
        profile: Option<&str>,
    ) -> Result<Credentials, CredentialsError> {
        let files = ChainFiles {
            aliyun_config,
            ..ChainFiles::none()
        };
        match resolve_chain(env, &files, profile)? {
            ChainOutcome::Found(Resolved {
                source: Source::Static(credentials),
                ..
            }) => Ok(credentials),
            ChainOutcome::Found(other) => panic!("not static: {other:?}"),
            ChainOutcome::Remote { looked_at, .. } => Err(CredentialsError::NotFound { looked_at }),
        }
    }

    const SECRET: &str = "RecognisableSecretValue123";
    const TOKEN: &str = "RecognisableStsToken456";

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    fn assert_no_secret(shown: &str) {
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(!shown.contains(TOKEN), "{shown}");
    }

    fn file_with(profiles: &str, current: &str) -> String {
        format!(r#"{{"current": "{current}", "profiles": [{profiles}], "meta_path": ""}}"#)
    }

    fn ak_profile(name: &str, id: &str) -> String {
        format!(
            r#"{{"name": "{name}", "mode": "AK", "access_key_id": "{id}", "access_key_secret": "{SECRET}", "sts_token": "", "region_id": "cn-hangzhou", "output_format": "json"}}"#
        )
    }

    #[test]
    fn the_alibaba_cloud_variables_are_read_with_their_token() {
        let env = env_of(&[
            (ENV_ACCESS_KEY_ID, "AKID-1"),
            (ENV_ACCESS_KEY_SECRET, SECRET),
            (ENV_SECURITY_TOKEN, TOKEN),
        ]);
        let credentials = resolve_credentials(&env, None, None).unwrap();
        assert_eq!(credentials.access_key_id, "AKID-1");
        assert_eq!(credentials.access_key_secret.expose_to_signer(), SECRET);
        assert_eq!(
            credentials
                .security_token
                .as_ref()
                .map(Secret::expose_to_signer),
            Some(TOKEN)
        );
        assert_no_secret(&format!("{credentials:?}"));
    }

    #[test]
    fn the_alicloud_family_is_read_when_the_first_is_absent() {
        let env = env_of(&[
            (ENV_ALICLOUD_ACCESS_KEY, "AKID-2"),
            (ENV_ALICLOUD_SECRET_KEY, SECRET),
        ]);
        let credentials = resolve_credentials(&env, None, None).unwrap();
        assert_eq!(credentials.access_key_id, "AKID-2");
        assert!(credentials.security_token.is_none());
    }

    #[test]
    fn the_first_family_wins_over_the_second_and_the_environment_over_the_file() {
        let env = env_of(&[
            (ENV_ACCESS_KEY_ID, "AKID-1"),
            (ENV_ACCESS_KEY_SECRET, SECRET),
            (ENV_ALICLOUD_ACCESS_KEY, "AKID-2"),
            (ENV_ALICLOUD_SECRET_KEY, SECRET),
        ]);
        let file = file_with(&ak_profile("default", "AKID-FILE"), "default");
        let credentials = resolve_credentials(
            &env,
            Some((Path::new("/h/.aliyun/config.json"), &file)),
            None,
        )
        .unwrap();
        assert_eq!(credentials.access_key_id, "AKID-1");
    }

    #[test]
    fn a_half_set_family_is_an_error_naming_the_missing_variable() {
        let env = env_of(&[(ENV_ACCESS_KEY_ID, "AKID-1")]);
        let error = resolve_credentials(&env, None, None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`ALIBABA_CLOUD_ACCESS_KEY_ID` is set but `ALIBABA_CLOUD_ACCESS_KEY_SECRET` is not; set both, or unset `ALIBABA_CLOUD_ACCESS_KEY_ID`"
        );
        let env = env_of(&[(ENV_ALICLOUD_SECRET_KEY, SECRET)]);
        let error = resolve_credentials(&env, None, None).unwrap_err();
        assert_no_secret(&format!("{error} {error:?}"));
        assert!(error.to_string().contains("`ALICLOUD_ACCESS_KEY`"));
    }

    #[test]
    fn the_profile_comes_from_the_config_then_the_environment_then_current() {
        let profiles = [
            ak_profile("default", "AKID-DEFAULT"),
            ak_profile("ops", "AKID-OPS"),
            ak_profile("incident", "AKID-INCIDENT"),
        ]
        .join(",");
        let file = file_with(&profiles, "ops");
        let path = Path::new("/h/.aliyun/config.json");
        let env_profile = env_of(&[(ENV_PROFILE, "incident")]);
        let no_env = env_of(&[]);

        let from_config =
            resolve_credentials(&env_profile, Some((path, &file)), Some("default")).unwrap();
        assert_eq!(from_config.access_key_id, "AKID-DEFAULT");
        let from_env = resolve_credentials(&env_profile, Some((path, &file)), None).unwrap();
        assert_eq!(from_env.access_key_id, "AKID-INCIDENT");
        let from_current = resolve_credentials(&no_env, Some((path, &file)), None).unwrap();
        assert_eq!(from_current.access_key_id, "AKID-OPS");
    }

    #[test]
    fn a_sts_token_profile_carries_its_token() {
        let profile = format!(
            r#"{{"name": "sts", "mode": "StsToken", "access_key_id": "STS.AKID", "access_key_secret": "{SECRET}", "sts_token": "{TOKEN}"}}"#
        );
        let file = file_with(&profile, "sts");
        let credentials =
            resolve_credentials(&env_of(&[]), Some((Path::new("/c.json"), &file)), None).unwrap();
        assert_eq!(credentials.access_key_id, "STS.AKID");
        assert_eq!(
            credentials
                .security_token
                .as_ref()
                .map(Secret::expose_to_signer),
            Some(TOKEN)
        );
        let without_token = file_with(
            &format!(
                r#"{{"name": "sts", "mode": "StsToken", "access_key_id": "STS.AKID", "access_key_secret": "{SECRET}", "sts_token": ""}}"#
            ),
            "sts",
        );
        let error = resolve_credentials(
            &env_of(&[]),
            Some((Path::new("/c.json"), &without_token)),
            None,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "profile `sts` in `/c.json` has no `sts_token`"
        );
    }

    #[test]
    fn unknown_modes_are_refused_naming_the_profile_and_mode() {
        let profile = format!(
            r#"{{"name": "role", "mode": "RsaKeyPair", "access_key_id": "AKID", "access_key_secret": "{SECRET}", "ram_role_arn": "acs:ram::1:role/x"}}"#
        );
        let file = file_with(&profile, "role");
        let error = resolve_credentials(&env_of(&[]), Some((Path::new("/c.json"), &file)), None)
            .unwrap_err();
        let shown = error.to_string();
        assert!(
            shown.starts_with(
                "profile `role` in `/c.json` uses mode `RsaKeyPair`, which edas-rollback does not know"
            ),
            "{shown}"
        );
        assert_no_secret(&format!("{shown} {error:?}"));
    }

    #[test]
    fn a_missing_profile_lists_the_ones_there_are() {
        let file = file_with(&ak_profile("default", "AKID"), "default");
        let error = resolve_credentials(
            &env_of(&[]),
            Some((Path::new("/c.json"), &file)),
            Some("prod"),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "profile `prod` (from `provider.profile` in the config) is not in `/c.json`; profiles there: `default`"
        );
    }

    #[test]
    fn nothing_found_is_one_error_listing_every_place_and_its_fix() {
        let error = resolve_credentials(&env_of(&[]), None, None).unwrap_err();
        let shown = error.to_string();
        assert_eq!(
            shown,
            "no Alibaba Cloud credentials found; looked in:\n  - environment variables `ALIBABA_CLOUD_ACCESS_KEY_ID` and `ALIBABA_CLOUD_ACCESS_KEY_SECRET`: not set; export both (and `ALIBABA_CLOUD_SECURITY_TOKEN` for STS credentials)\n  - environment variables `ALICLOUD_ACCESS_KEY` and `ALICLOUD_SECRET_KEY`: not set; export both (and `ALICLOUD_SECURITY_TOKEN` for STS credentials)\n  - OIDC environment variables: not set; in CI, set all three (docs/CI.md)\n  - the aliyun CLI profile file `~/.aliyun/config.json`: no such file; run `aliyun configure` (any mode but CloudSSO/OAuth) to create a profile\n  - the credentials file `~/.alibabacloud/credentials`: no such file; create it, or point `ALIBABA_CLOUD_CREDENTIALS_FILE` at one"
        );
    }

    #[test]
    fn a_malformed_file_is_reported_by_position_without_quoting_its_text() {
        let text = format!(
            r#"{{"current": "default", "profiles": [{{"name": "default", "access_key_secret": "{SECRET}", "mode": 7}}]}}"#
        );
        let error = resolve_credentials(&env_of(&[]), Some((Path::new("/c.json"), &text)), None)
            .unwrap_err();
        assert!(
            matches!(error, CredentialsError::Malformed { line: 1, .. }),
            "{error:?}"
        );
        assert_no_secret(&format!("{error} {error:?}"));
        let truncated = format!(r#"{{"profiles": [{{"access_key_secret": "{SECRET}"#);
        let error =
            resolve_credentials(&env_of(&[]), Some((Path::new("/c.json"), &truncated)), None)
                .unwrap_err();
        assert!(
            error.to_string().contains("the text ends too early"),
            "{error}"
        );
        assert_no_secret(&format!("{error} {error:?}"));
    }

    #[test]
    fn an_empty_mode_is_read_as_an_access_key_profile() {
        let profile = format!(
            r#"{{"name": "old", "mode": "", "access_key_id": "AKID", "access_key_secret": "{SECRET}"}}"#
        );
        let file = file_with(&profile, "old");
        let credentials =
            resolve_credentials(&env_of(&[]), Some((Path::new("/c.json"), &file)), None).unwrap();
        assert_eq!(credentials.access_key_id, "AKID");
    }
}

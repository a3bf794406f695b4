//! The aliyun CLI's `~/.aliyun/config.json`, every mode a run without a browser can use, with
//! the field names `aliyun configure` writes: `AK`, `StsToken`, `RamRoleArn`,
//! `ChainableRamRoleArn` (`source_profile`, then AssumeRole), `EcsRamRole`, `OIDC`,
//! `CredentialsURI`, `External`. `CloudSSO` and `OAuth` need a browser sign-in: a clear error
//! says what to use instead. Pure: the file's text and the environment are arguments.

use super::source::{AssumeRole, DEFAULT_DURATION_SECONDS, Ecs, Oidc, Source};
use super::sts_endpoint::{imds_url, sts_url};
use super::{Credentials, CredentialsError, DEFAULT_SESSION_NAME, ENV_IMDSV1_DISABLED};
use crate::edas::secret::Secret;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// The parts of the aliyun CLI's `config.json` this tool reads. Unknown keys are ignored: the
/// CLI adds fields between versions.
#[derive(Deserialize)]
pub(super) struct AliyunConfig {
    #[serde(default)]
    pub current: Option<String>,
    #[serde(default)]
    pub profiles: Vec<AliyunProfile>,
}

#[derive(Deserialize, Default)]
pub(super) struct AliyunProfile {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    access_key_id: Option<String>,
    #[serde(default)]
    access_key_secret: Option<String>,
    #[serde(default)]
    sts_token: Option<String>,
    #[serde(default)]
    sts_region: Option<String>,
    #[serde(default)]
    ram_role_name: Option<String>,
    #[serde(default)]
    ram_role_arn: Option<String>,
    #[serde(default)]
    ram_session_name: Option<String>,
    #[serde(default)]
    role_session_name: Option<String>,
    #[serde(default)]
    source_profile: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    policy: Option<String>,
    /// `aliyun configure` writes a number; some hand-written files hold a string.
    #[serde(default)]
    expired_seconds: Option<serde_json::Value>,
    #[serde(default)]
    enable_vpc: Option<bool>,
    #[serde(default)]
    oidc_provider_arn: Option<String>,
    #[serde(default)]
    oidc_token_file: Option<String>,
    #[serde(default)]
    credentials_uri: Option<String>,
    #[serde(default)]
    process_command: Option<String>,
}

// A hand-written Debug so a future `{:?}` of the parsed file cannot print a secret.
impl fmt::Debug for AliyunProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AliyunProfile")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

pub(super) fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.trim().is_empty())
}

/// Parses the file, naming the position of a syntax error but never quoting the text.
pub(super) fn parse(path: &Path, text: &str) -> Result<AliyunConfig, CredentialsError> {
    serde_json::from_str(text).map_err(|error| CredentialsError::Malformed {
        path: path.to_path_buf(),
        kind: match error.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "a JSON syntax error",
            serde_json::error::Category::Data => "an unexpected value",
            serde_json::error::Category::Eof => "the text ends too early",
        },
        line: error.line(),
        column: error.column(),
    })
}

/// How deep `source_profile` chains may go before they are called a cycle.
const MAX_CHAIN: usize = 8;

/// The source for profile `name` of `config`.
pub(super) fn profile_source(
    path: &Path,
    config: &AliyunConfig,
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Source, CredentialsError> {
    source_at_depth(path, config, name, env, 0)
}

fn source_at_depth(
    path: &Path,
    config: &AliyunConfig,
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<Source, CredentialsError> {
    if depth > MAX_CHAIN {
        return Err(CredentialsError::ProfileCycle {
            path: path.to_path_buf(),
            profile: name.to_string(),
        });
    }
    let Some(profile) = config.profiles.iter().find(|p| p.name == name) else {
        return Err(CredentialsError::ProfileNotFound {
            path: path.to_path_buf(),
            profile: name.to_string(),
            chosen_by: "a `source_profile`",
            available: config.profiles.iter().map(|p| p.name.clone()).collect(),
        });
    };
    let field = |value: &Option<String>, field: &'static str| {
        non_empty(value.clone()).ok_or_else(|| CredentialsError::MissingField {
            path: path.to_path_buf(),
            profile: name.to_string(),
            field,
        })
    };
    let static_keys = |token: bool| -> Result<Source, CredentialsError> {
        let id = field(&profile.access_key_id, "access_key_id")?;
        let secret = field(&profile.access_key_secret, "access_key_secret")?;
        let credentials = Credentials::new(id.trim(), Secret::new(secret));
        Ok(Source::Static(if token {
            credentials.with_security_token(Secret::new(field(&profile.sts_token, "sts_token")?))
        } else {
            credentials
        }))
    };
    let duration = || -> Result<u64, CredentialsError> {
        let invalid = || CredentialsError::InvalidField {
            path: path.to_path_buf(),
            profile: name.to_string(),
            field: "expired_seconds",
            expected: "a whole number of seconds (900 or more)",
        };
        let seconds = match &profile.expired_seconds {
            None | Some(serde_json::Value::Null) => 0,
            Some(serde_json::Value::Number(number)) => number.as_u64().ok_or_else(invalid)?,
            Some(serde_json::Value::String(text)) if text.trim().is_empty() => 0,
            Some(serde_json::Value::String(text)) => {
                text.trim().parse::<u64>().map_err(|_| invalid())?
            }
            Some(_) => return Err(invalid()),
        };
        // `aliyun configure` writes 0 when no duration was asked for.
        Ok(if seconds == 0 {
            DEFAULT_DURATION_SECONDS
        } else {
            seconds
        })
    };
    let sts = || sts_url(env, profile.sts_region.as_deref(), profile.enable_vpc);
    let assume_role = |base: Source| -> Result<Source, CredentialsError> {
        Ok(Source::RamRoleArn {
            base: Box::new(base),
            role: AssumeRole {
                role_arn: field(&profile.ram_role_arn, "ram_role_arn")?,
                session_name: non_empty(profile.ram_session_name.clone())
                    .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string()),
                duration_seconds: duration()?,
                external_id: non_empty(profile.external_id.clone()),
                policy: non_empty(profile.policy.clone()),
                sts: sts(),
            },
        })
    };
    // The aliyun CLI wrote no mode before modes existed: those are AccessKey profiles.
    let mode = non_empty(profile.mode.clone()).unwrap_or_else(|| "AK".to_string());
    match mode.as_str() {
        "AK" => static_keys(false),
        "StsToken" => static_keys(true),
        "RamRoleArn" => assume_role(static_keys(false)?),
        "ChainableRamRoleArn" => {
            let source_name = field(&profile.source_profile, "source_profile")?;
            let base = source_at_depth(path, config, &source_name, env, depth + 1)?;
            assume_role(base)
        }
        "EcsRamRole" => Ok(Source::EcsRamRole(Ecs {
            role_name: non_empty(profile.ram_role_name.clone()),
            endpoint: imds_url(env),
            imdsv1_disabled: super::is_true(env(ENV_IMDSV1_DISABLED)),
        })),
        "OIDC" => Ok(Source::Oidc(Oidc {
            role_arn: field(&profile.ram_role_arn, "ram_role_arn")?,
            provider_arn: field(&profile.oidc_provider_arn, "oidc_provider_arn")?,
            token_file: PathBuf::from(field(&profile.oidc_token_file, "oidc_token_file")?),
            session_name: non_empty(profile.role_session_name.clone())
                .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string()),
            duration_seconds: duration()?,
            policy: non_empty(profile.policy.clone()),
            sts: sts(),
        })),
        "CredentialsURI" => Ok(Source::CredentialsUri(field(
            &profile.credentials_uri,
            "credentials_uri",
        )?)),
        "External" => Ok(Source::External(field(
            &profile.process_command,
            "process_command",
        )?)),
        "CloudSSO" | "OAuth" => Err(CredentialsError::InteractiveMode {
            path: path.to_path_buf(),
            profile: name.to_string(),
            mode,
        }),
        _ => Err(CredentialsError::UnsupportedMode {
            path: path.to_path_buf(),
            profile: name.to_string(),
            mode,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "ProfileSecretValue42";

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// The profiles as `aliyun configure --mode <MODE>` (aliyun-cli 3.0.2xx) writes them:
    /// every field present, unused ones empty or 0.
    fn configured(mode: &str, fields: &str) -> String {
        format!(
            r#"{{"current": "p", "profiles": [{{"name": "p", "mode": "{mode}", "access_key_id": "", "access_key_secret": "", "sts_token": "", "sts_region": "", "ram_role_name": "", "ram_role_arn": "", "ram_session_name": "", "source_profile": "", "private_key": "", "key_pair_name": "", "expired_seconds": 0, "verified": "", "region_id": "cn-hangzhou", "output_format": "json", "language": "en", "site": "", "retry_timeout": 0, "connect_timeout": 0, "retry_count": 0, "process_command": "", "credentials_uri": "", "oidc_provider_arn": "", "oidc_token_file": "", "sts_expiration": 0{fields}}}, {{"name": "base", "mode": "AK", "access_key_id": "AKID-BASE", "access_key_secret": "{SECRET}"}}], "meta_path": ""}}"#
        )
    }

    fn source_of(text: &str) -> Result<Source, CredentialsError> {
        let path = Path::new("/h/.aliyun/config.json");
        let config = parse(path, text)?;
        profile_source(path, &config, "p", &no_env)
    }

    fn with(mode: &str, replacements: &[(&str, &str)]) -> String {
        let mut text = configured(mode, "");
        for (key, value) in replacements {
            let empty = format!(r#""{key}": """#);
            let zero = format!(r#""{key}": 0"#);
            let set = format!(r#""{key}": {value}"#);
            text = text.replacen(&empty, &set, 1).replacen(&zero, &set, 1);
        }
        text
    }

    #[test]
    fn a_ram_role_arn_profile_assumes_its_role_with_its_keys() {
        let text = with(
            "RamRoleArn",
            &[
                ("access_key_id", r#""AKID-ROLE""#),
                ("access_key_secret", &format!(r#""{SECRET}""#)),
                ("ram_role_arn", r#""acs:ram::1:role/ops""#),
                ("ram_session_name", r#""oncall""#),
                ("expired_seconds", "900"),
                ("sts_region", r#""cn-shanghai""#),
            ],
        );
        let Source::RamRoleArn { base, role } = source_of(&text).unwrap() else {
            panic!()
        };
        assert_eq!(
            *base,
            Source::Static(Credentials::new("AKID-ROLE", Secret::new(SECRET)))
        );
        assert_eq!(
            role,
            AssumeRole {
                role_arn: "acs:ram::1:role/ops".into(),
                session_name: "oncall".into(),
                duration_seconds: 900,
                external_id: None,
                policy: None,
                sts: "https://sts.cn-shanghai.aliyuncs.com".into(),
            }
        );
    }

    #[test]
    fn a_chainable_profile_assumes_its_role_on_top_of_its_source_profile() {
        let text = with(
            "ChainableRamRoleArn",
            &[
                ("source_profile", r#""base""#),
                ("ram_role_arn", r#""acs:ram::1:role/deploy""#),
            ],
        );
        let source = source_of(&text).unwrap();
        assert_eq!(source.provider_name(), "ram_role_arn/static_ak");
        let Source::RamRoleArn { base, role } = source else {
            panic!()
        };
        assert_eq!(role.duration_seconds, DEFAULT_DURATION_SECONDS);
        assert_eq!(role.session_name, DEFAULT_SESSION_NAME);
        assert!(matches!(*base, Source::Static(ref c) if c.access_key_id == "AKID-BASE"));
    }

    #[test]
    fn a_chain_that_names_itself_is_a_cycle_not_a_hang() {
        let text = with(
            "ChainableRamRoleArn",
            &[
                ("source_profile", r#""p""#),
                ("ram_role_arn", r#""acs:ram::1:role/x""#),
            ],
        );
        let error = source_of(&text).unwrap_err();
        assert!(
            matches!(error, CredentialsError::ProfileCycle { .. }),
            "{error}"
        );
    }

    #[test]
    fn ecs_oidc_uri_and_external_profiles_keep_their_fields() {
        let ecs = source_of(&with("EcsRamRole", &[("ram_role_name", r#""bastion""#)])).unwrap();
        assert_eq!(
            ecs,
            Source::EcsRamRole(Ecs {
                role_name: Some("bastion".into()),
                endpoint: "http://100.100.100.200".into(),
                imdsv1_disabled: false,
            })
        );
        let oidc = source_of(&with(
            "OIDC",
            &[
                ("ram_role_arn", r#""acs:ram::1:role/ci""#),
                ("oidc_provider_arn", r#""acs:ram::1:oidc-provider/gh""#),
                ("oidc_token_file", r#""/var/run/token""#),
            ],
        ))
        .unwrap();
        let Source::Oidc(oidc) = oidc else { panic!() };
        assert_eq!(oidc.token_file, PathBuf::from("/var/run/token"));
        assert_eq!(oidc.provider_arn, "acs:ram::1:oidc-provider/gh");
        assert_eq!(oidc.sts, "https://sts.aliyuncs.com");
        assert_eq!(
            source_of(&with(
                "CredentialsURI",
                &[("credentials_uri", r#""http://127.0.0.1:1/creds""#)]
            ))
            .unwrap(),
            Source::CredentialsUri("http://127.0.0.1:1/creds".into())
        );
        let external = source_of(&with(
            "External",
            &[("process_command", r#""vault-creds --role ops""#)],
        ))
        .unwrap();
        assert_eq!(external, Source::External("vault-creds --role ops".into()));
        assert!(!format!("{external:?}").contains("vault"));
    }

    #[test]
    fn a_missing_field_is_named() {
        let error = source_of(&with("RamRoleArn", &[("access_key_id", r#""AKID""#)]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "profile `p` in `/h/.aliyun/config.json` has no `access_key_secret`"
        );
        let error = source_of(&with("External", &[])).unwrap_err().to_string();
        assert!(error.ends_with("has no `process_command`"), "{error}");
    }

    #[test]
    fn browser_sign_in_modes_say_what_to_use_instead() {
        for mode in ["CloudSSO", "OAuth"] {
            let error = source_of(&configured(mode, "")).unwrap_err().to_string();
            assert!(error.contains(&format!("mode `{mode}`")), "{error}");
            assert!(error.contains("ALIBABA_CLOUD_SECURITY_TOKEN"), "{error}");
        }
    }
}

//! Credentials and where they come from (DESIGN 5), first found wins:
//! `ALIBABA_CLOUD_ACCESS_KEY_ID` / `ALIBABA_CLOUD_ACCESS_KEY_SECRET` /
//! `ALIBABA_CLOUD_SECURITY_TOKEN`, then `ALICLOUD_ACCESS_KEY` / `ALICLOUD_SECRET_KEY` /
//! `ALICLOUD_SECURITY_TOKEN`, then the aliyun CLI profile file `~/.aliyun/config.json`
//! (profile from the config, else `ALIBABA_CLOUD_PROFILE`, else the file's `current`).
//!
//! [`resolve_credentials`] is pure (the environment and the file's text are arguments);
//! [`load_credentials`] is the thin shell that reads them. Secrets are held in [`Secret`] and
//! never leave this type except through the signer: no error here quotes a value from the
//! environment or the file (not even a JSON parser's message, which may quote one).

use super::secret::Secret;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// An access key, optionally with an STS security token.
#[derive(Clone, Debug)]
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
/// Where the aliyun CLI keeps its profiles, relative to the home directory.
pub const ALIYUN_CONFIG_RELATIVE_PATH: &str = ".aliyun/config.json";

/// One environment-variable family: id, secret, token.
struct EnvFamily {
    id: &'static str,
    secret: &'static str,
    token: &'static str,
}

const ENV_FAMILIES: [EnvFamily; 2] = [
    EnvFamily {
        id: ENV_ACCESS_KEY_ID,
        secret: ENV_ACCESS_KEY_SECRET,
        token: ENV_SECURITY_TOKEN,
    },
    EnvFamily {
        id: ENV_ALICLOUD_ACCESS_KEY,
        secret: ENV_ALICLOUD_SECRET_KEY,
        token: ENV_ALICLOUD_SECURITY_TOKEN,
    },
];

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
        "profile `{profile}` in `{}` uses mode `{mode}`, which is not supported yet; use an `AK` or `StsToken` profile, or set `{ENV_ACCESS_KEY_ID}` and `{ENV_ACCESS_KEY_SECRET}`",
        path.display()
    )]
    UnsupportedMode {
        path: PathBuf,
        profile: String,
        mode: String,
    },
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

/// The parts of the aliyun CLI's `config.json` this tool reads. Unknown keys are ignored: the
/// CLI adds fields between versions.
#[derive(Deserialize)]
struct AliyunConfig {
    #[serde(default)]
    current: Option<String>,
    #[serde(default)]
    profiles: Vec<AliyunProfile>,
}

#[derive(Deserialize)]
struct AliyunProfile {
    #[serde(default)]
    name: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    access_key_id: Option<String>,
    #[serde(default)]
    access_key_secret: Option<String>,
    #[serde(default)]
    sts_token: Option<String>,
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

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.trim().is_empty())
}

/// Resolves credentials from the environment (`env` looks a variable up) and the aliyun CLI
/// profile file (its path and text, `None` when there is no file). `profile` is the config's
/// `provider.profile`.
pub fn resolve_credentials(
    env: &dyn Fn(&str) -> Option<String>,
    aliyun_config: Option<(&Path, &str)>,
    profile: Option<&str>,
) -> Result<Credentials, CredentialsError> {
    let lookup = |name: &str| non_empty(env(name));
    let mut looked_at = Vec::new();
    for family in &ENV_FAMILIES {
        match (lookup(family.id), lookup(family.secret)) {
            (Some(id), Some(secret)) => {
                let credentials = Credentials::new(id.trim(), Secret::new(secret));
                return Ok(match lookup(family.token) {
                    Some(token) => credentials.with_security_token(Secret::new(token)),
                    None => credentials,
                });
            }
            (Some(_), None) => {
                return Err(CredentialsError::IncompleteEnvironment {
                    present: family.id,
                    missing: family.secret,
                });
            }
            (None, Some(_)) => {
                return Err(CredentialsError::IncompleteEnvironment {
                    present: family.secret,
                    missing: family.id,
                });
            }
            (None, None) => looked_at.push(PlaceLookedAt {
                place: format!(
                    "environment variables `{}` and `{}`",
                    family.id, family.secret
                ),
                found: "not set".to_string(),
                fix: format!("export both (and `{}` for STS credentials)", family.token),
            }),
        }
    }

    let explicit_profile = profile
        .map(str::to_string)
        .map(|name| (name, "from `provider.profile` in the config"))
        .or_else(|| lookup(ENV_PROFILE).map(|name| (name, "from `ALIBABA_CLOUD_PROFILE`")));

    let Some((path, text)) = aliyun_config else {
        let found = match &explicit_profile {
            Some((name, chosen_by)) => {
                format!("no such file, so profile `{name}` ({chosen_by}) cannot be read")
            }
            None => "no such file".to_string(),
        };
        looked_at.push(PlaceLookedAt {
            place: format!("the aliyun CLI profile file `~/{ALIYUN_CONFIG_RELATIVE_PATH}`"),
            found,
            fix: "run `aliyun configure --mode AK` (or `--mode StsToken`) to create a profile"
                .to_string(),
        });
        return Err(CredentialsError::NotFound { looked_at });
    };

    let config: AliyunConfig =
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
        })?;

    let (name, chosen_by) = match explicit_profile {
        Some(choice) => choice,
        None => match non_empty(config.current.clone()) {
            Some(current) => (current, "the file's `current`"),
            None => (
                "default".to_string(),
                "the default, as the file names no `current`",
            ),
        },
    };
    let available: Vec<String> = config.profiles.iter().map(|p| p.name.clone()).collect();
    let Some(chosen) = config.profiles.into_iter().find(|p| p.name == name) else {
        return Err(CredentialsError::ProfileNotFound {
            path: path.to_path_buf(),
            profile: name,
            chosen_by,
            available,
        });
    };
    // The aliyun CLI writes `AK` for profiles created before modes existed as an empty mode.
    let mode = non_empty(chosen.mode.clone()).unwrap_or_else(|| "AK".to_string());
    let wants_token = match mode.as_str() {
        "AK" => false,
        "StsToken" => true,
        _ => {
            return Err(CredentialsError::UnsupportedMode {
                path: path.to_path_buf(),
                profile: name,
                mode,
            });
        }
    };
    let missing = |field: &'static str| CredentialsError::MissingField {
        path: path.to_path_buf(),
        profile: name.clone(),
        field,
    };
    let id = non_empty(chosen.access_key_id).ok_or_else(|| missing("access_key_id"))?;
    let secret = non_empty(chosen.access_key_secret).ok_or_else(|| missing("access_key_secret"))?;
    let credentials = Credentials::new(id.trim(), Secret::new(secret));
    if wants_token {
        let token = non_empty(chosen.sts_token).ok_or_else(|| missing("sts_token"))?;
        Ok(credentials.with_security_token(Secret::new(token)))
    } else {
        Ok(credentials)
    }
}

/// Reads the real environment and `~/.aliyun/config.json`, then [`resolve_credentials`].
pub fn load_credentials(profile: Option<&str>) -> Result<Credentials, CredentialsError> {
    let env = |name: &str| std::env::var(name).ok();
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from);
    let file = match home {
        Some(home) => {
            let path = home.join(ALIYUN_CONFIG_RELATIVE_PATH);
            match std::fs::read_to_string(&path) {
                Ok(text) => Some((path, text)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => return Err(CredentialsError::Read { path, source }),
            }
        }
        None => None,
    };
    resolve_credentials(
        &env,
        file.as_ref()
            .map(|(path, text)| (path.as_path(), text.as_str())),
        profile,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

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
    fn other_modes_are_refused_naming_the_profile_and_mode() {
        let profile = format!(
            r#"{{"name": "role", "mode": "RamRoleArn", "access_key_id": "AKID", "access_key_secret": "{SECRET}", "ram_role_arn": "acs:ram::1:role/x"}}"#
        );
        let file = file_with(&profile, "role");
        let error = resolve_credentials(&env_of(&[]), Some((Path::new("/c.json"), &file)), None)
            .unwrap_err();
        let shown = error.to_string();
        assert!(
            shown.starts_with(
                "profile `role` in `/c.json` uses mode `RamRoleArn`, which is not supported yet"
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
            "no Alibaba Cloud credentials found; looked in:\n  - environment variables `ALIBABA_CLOUD_ACCESS_KEY_ID` and `ALIBABA_CLOUD_ACCESS_KEY_SECRET`: not set; export both (and `ALIBABA_CLOUD_SECURITY_TOKEN` for STS credentials)\n  - environment variables `ALICLOUD_ACCESS_KEY` and `ALICLOUD_SECRET_KEY`: not set; export both (and `ALICLOUD_SECURITY_TOKEN` for STS credentials)\n  - the aliyun CLI profile file `~/.aliyun/config.json`: no such file; run `aliyun configure --mode AK` (or `--mode StsToken`) to create a profile"
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

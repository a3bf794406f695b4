//! The default chain, in the order of the official `alibabacloud-credentials` libraries
//! (`provider/default.py`, `providers/default.go`), first found wins:
//!
//! 1. environment AccessKey (`ALIBABA_CLOUD_*`, then our older `ALICLOUD_*` names);
//! 2. OIDC from the environment (all three of role ARN, provider ARN and token file);
//! 3. the aliyun CLI `~/.aliyun/config.json` (unless `ALIBABA_CLOUD_CLI_PROFILE_DISABLED`);
//! 4. the credentials file (`ALIBABA_CLOUD_CREDENTIALS_FILE`, `~/.alibabacloud/credentials`);
//! 5. the ECS instance role (unless `ALIBABA_CLOUD_ECS_METADATA_DISABLED=true`);
//! 6. `ALIBABA_CLOUD_CREDENTIALS_URI`.
//!
//! Steps 1-4 are decided here from the environment and the files' text (pure). Steps 5 and 6
//! need the network (is there a metadata service?), so when nothing local is configured the
//! chain hands back what to try remotely, with every place looked at so far.
//!
//! Unlike the official libraries, a source that is present but broken (half an environment
//! pair, a damaged profile file, a profile that is not there) is an error, not a reason to
//! move on: quietly signing as another identity at 3 a.m. is worse than stopping
//! (docs/credentials.md).

use super::source::{DEFAULT_DURATION_SECONDS, Ecs, Oidc, Origin, Resolved, Source};
use super::sts_endpoint::{imds_url, sts_url};
use super::*;
use std::path::{Path, PathBuf};

/// The files the chain reads, as the shell found them (`None`: no such file).
pub struct ChainFiles<'a> {
    /// `~/.aliyun/config.json`.
    pub aliyun_config: Option<(&'a Path, &'a str)>,
    /// Where the credentials file was looked for, and its text when it exists.
    pub credentials_file_path: Option<&'a Path>,
    pub credentials_file: Option<&'a str>,
}

impl ChainFiles<'_> {
    pub fn none() -> ChainFiles<'static> {
        ChainFiles {
            aliyun_config: None,
            credentials_file_path: None,
            credentials_file: None,
        }
    }
}

/// What the local part of the chain decided.
#[derive(Debug)]
pub enum ChainOutcome {
    Found(Resolved),
    /// Nothing local: try the metadata service (when allowed), then the credentials URI.
    Remote {
        ecs: Option<Ecs>,
        uri: Option<String>,
        looked_at: Vec<PlaceLookedAt>,
    },
}

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

fn place(place: String, found: impl Into<String>, fix: impl Into<String>) -> PlaceLookedAt {
    PlaceLookedAt {
        place,
        found: found.into(),
        fix: fix.into(),
    }
}

/// Steps 1-4 of the chain, and what steps 5-6 should try. `profile` is the config's
/// `provider.profile`.
pub fn resolve_chain(
    env: &dyn Fn(&str) -> Option<String>,
    files: &ChainFiles<'_>,
    profile: Option<&str>,
) -> Result<ChainOutcome, CredentialsError> {
    let lookup = |name: &str| profile::non_empty(env(name));
    let mut looked_at = Vec::new();

    // 1. The environment.
    for family in &ENV_FAMILIES {
        match (lookup(family.id), lookup(family.secret)) {
            (Some(id), Some(secret)) => {
                let credentials = Credentials::new(id.trim(), Secret::new(secret));
                let credentials = match lookup(family.token) {
                    Some(token) => credentials.with_security_token(Secret::new(token)),
                    None => credentials,
                };
                return Ok(ChainOutcome::Found(Resolved {
                    origin: Origin::Environment(family.id),
                    source: Source::Static(credentials),
                }));
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
            (None, None) => looked_at.push(place(
                format!(
                    "environment variables `{}` and `{}`",
                    family.id, family.secret
                ),
                "not set",
                format!("export both (and `{}` for STS credentials)", family.token),
            )),
        }
    }

    // 2. OIDC from the environment: only when all three are set, as the official libraries.
    let oidc = [ENV_ROLE_ARN, ENV_OIDC_PROVIDER_ARN, ENV_OIDC_TOKEN_FILE].map(lookup);
    if let [Some(role_arn), Some(provider_arn), Some(token_file)] = &oidc {
        return Ok(ChainOutcome::Found(Resolved {
            origin: Origin::OidcEnvironment,
            source: Source::Oidc(Oidc {
                role_arn: role_arn.trim().to_string(),
                provider_arn: provider_arn.trim().to_string(),
                token_file: PathBuf::from(token_file.trim()),
                session_name: lookup(ENV_ROLE_SESSION_NAME)
                    .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string()),
                duration_seconds: DEFAULT_DURATION_SECONDS,
                policy: None,
                sts: sts_url(env, None, None),
            }),
        }));
    }
    let missing: Vec<&str> = [ENV_ROLE_ARN, ENV_OIDC_PROVIDER_ARN, ENV_OIDC_TOKEN_FILE]
        .into_iter()
        .zip(&oidc)
        .filter(|(_, value)| value.is_none())
        .map(|(name, _)| name)
        .collect();
    looked_at.push(place(
        "OIDC environment variables".to_string(),
        if missing.len() == 3 {
            "not set".to_string()
        } else {
            format!("`{}` not set", missing.join("`, `"))
        },
        "in CI, set all three (docs/CI.md)",
    ));

    // 3. The aliyun CLI profile file.
    let explicit_profile = profile
        .map(str::to_string)
        .map(|name| (name, "from `provider.profile` in the config"))
        .or_else(|| lookup(ENV_PROFILE).map(|name| (name, "from `ALIBABA_CLOUD_PROFILE`")));
    let cli_place = format!("the aliyun CLI profile file `~/{ALIYUN_CONFIG_RELATIVE_PATH}`");
    if is_true(env(ENV_CLI_PROFILE_DISABLED)) {
        looked_at.push(place(
            cli_place,
            format!("skipped: `{ENV_CLI_PROFILE_DISABLED}` is true"),
            format!("unset `{ENV_CLI_PROFILE_DISABLED}` to use it"),
        ));
    } else if let Some((path, text)) = files.aliyun_config {
        let config = profile::parse(path, text)?;
        let (name, chosen_by) = match &explicit_profile {
            Some((name, chosen_by)) => (name.clone(), *chosen_by),
            None => match profile::non_empty(config.current.clone()) {
                Some(current) => (current, "the file's `current`"),
                None => (
                    "default".to_string(),
                    "the default, as the file names no `current`",
                ),
            },
        };
        if !config.profiles.iter().any(|p| p.name == name) {
            return Err(CredentialsError::ProfileNotFound {
                path: path.to_path_buf(),
                profile: name,
                chosen_by,
                available: config.profiles.iter().map(|p| p.name.clone()).collect(),
            });
        }
        let source = profile::profile_source(path, &config, &name, env)?;
        return Ok(ChainOutcome::Found(Resolved {
            origin: Origin::CliProfile {
                path: path.to_path_buf(),
                profile: name,
            },
            source,
        }));
    } else {
        let found = match &explicit_profile {
            Some((name, chosen_by)) => {
                format!("no such file, so profile `{name}` ({chosen_by}) cannot be read")
            }
            None => "no such file".to_string(),
        };
        looked_at.push(place(
            cli_place,
            found,
            "run `aliyun configure` (any mode but CloudSSO/OAuth) to create a profile",
        ));
    }

    // 4. The credentials file.
    let ini_name = lookup(ENV_PROFILE).unwrap_or_else(|| "default".to_string());
    let ini_place = match files.credentials_file_path {
        Some(path) => format!("the credentials file `{}`", path.display()),
        None => format!("the credentials file `~/{CREDENTIALS_FILE_RELATIVE_PATH}`"),
    };
    match (files.credentials_file_path, files.credentials_file) {
        (Some(path), Some(text)) => {
            let sections = ini::parse(text);
            match sections.get(&ini_name) {
                Some(section) => {
                    let source = ini::section_source(path, &ini_name, section, env)?;
                    return Ok(ChainOutcome::Found(Resolved {
                        origin: Origin::CredentialsFile {
                            path: path.to_path_buf(),
                            profile: ini_name,
                        },
                        source,
                    }));
                }
                None => looked_at.push(place(
                    ini_place,
                    format!("no section `[{ini_name}]`"),
                    "add one, or choose a section with `ALIBABA_CLOUD_PROFILE`",
                )),
            }
        }
        _ => looked_at.push(place(
            ini_place,
            "no such file",
            format!("create it, or point `{ENV_CREDENTIALS_FILE}` at one"),
        )),
    }

    // 5 and 6 need the network.
    let ecs = if is_true(env(ENV_ECS_METADATA_DISABLED)) {
        looked_at.push(place(
            "the ECS instance RAM role".to_string(),
            format!("skipped: `{ENV_ECS_METADATA_DISABLED}` is true"),
            format!("unset `{ENV_ECS_METADATA_DISABLED}` on an ECS instance with a RAM role"),
        ));
        None
    } else {
        Some(Ecs {
            role_name: lookup(ENV_ECS_METADATA),
            endpoint: imds_url(env),
            imdsv1_disabled: is_true(env(ENV_IMDSV1_DISABLED)),
        })
    };
    Ok(ChainOutcome::Remote {
        ecs,
        uri: lookup(ENV_CREDENTIALS_URI),
        looked_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    const AK_PROFILE: &str = r#"{"current": "p", "profiles": [{"name": "p", "mode": "AK", "access_key_id": "AKID-CLI", "access_key_secret": "s"}]}"#;
    const INI: &str =
        "[default]\ntype = access_key\naccess_key_id = AKID-INI\naccess_key_secret = s\n";

    fn name_of(env: &[(&str, &str)], files: &ChainFiles<'_>) -> String {
        match resolve_chain(&env_of(env), files, None).unwrap() {
            ChainOutcome::Found(resolved) => resolved.provider_name(),
            ChainOutcome::Remote { ecs, uri, .. } => {
                format!("remote ecs={} uri={}", ecs.is_some(), uri.is_some())
            }
        }
    }

    #[test]
    fn the_chain_takes_the_first_configured_source_in_the_official_order() {
        let cli = Path::new("/h/.aliyun/config.json");
        let ini = Path::new("/h/.alibabacloud/credentials");
        let all = ChainFiles {
            aliyun_config: Some((cli, AK_PROFILE)),
            credentials_file_path: Some(ini),
            credentials_file: Some(INI),
        };
        let oidc = [
            (ENV_ROLE_ARN, "acs:ram::1:role/ci"),
            (ENV_OIDC_PROVIDER_ARN, "acs:ram::1:oidc-provider/gh"),
            (ENV_OIDC_TOKEN_FILE, "/t"),
        ];
        let mut env = vec![(ENV_ACCESS_KEY_ID, "AKID"), (ENV_ACCESS_KEY_SECRET, "s")];
        env.extend(oidc);
        assert_eq!(name_of(&env, &all), "env");
        assert_eq!(name_of(&oidc, &all), "oidc_role_arn");
        assert_eq!(name_of(&oidc[..2], &all), "cli_profile/static_ak");
        assert_eq!(
            name_of(&[(ENV_CLI_PROFILE_DISABLED, "true")], &all),
            "profile/static_ak"
        );
        let no_cli = ChainFiles {
            aliyun_config: None,
            ..all
        };
        assert_eq!(name_of(&[], &no_cli), "profile/static_ak");
        assert_eq!(
            name_of(
                &[(ENV_CREDENTIALS_URI, "http://127.0.0.1:1/")],
                &ChainFiles::none()
            ),
            "remote ecs=true uri=true"
        );
        assert_eq!(
            name_of(&[(ENV_ECS_METADATA_DISABLED, "true")], &ChainFiles::none()),
            "remote ecs=false uri=false"
        );
    }

    #[test]
    fn everything_looked_at_is_listed_with_what_was_missing() {
        let ChainOutcome::Remote { looked_at, .. } =
            resolve_chain(&env_of(&[(ENV_ROLE_ARN, "r")]), &ChainFiles::none(), None).unwrap()
        else {
            panic!()
        };
        let places: Vec<String> = looked_at
            .iter()
            .map(|p| format!("{}: {}", p.place, p.found))
            .collect();
        assert_eq!(
            places,
            [
                "environment variables `ALIBABA_CLOUD_ACCESS_KEY_ID` and `ALIBABA_CLOUD_ACCESS_KEY_SECRET`: not set",
                "environment variables `ALICLOUD_ACCESS_KEY` and `ALICLOUD_SECRET_KEY`: not set",
                "OIDC environment variables: `ALIBABA_CLOUD_OIDC_PROVIDER_ARN`, `ALIBABA_CLOUD_OIDC_TOKEN_FILE` not set",
                "the aliyun CLI profile file `~/.aliyun/config.json`: no such file",
                "the credentials file `~/.alibabacloud/credentials`: no such file",
            ]
        );
    }

    #[test]
    fn the_ini_section_follows_alibaba_cloud_profile() {
        let ini = Path::new("/c");
        let text = format!("{INI}[ops]\ntype = ecs_ram_role\nrole_name = bastion\n");
        let files = ChainFiles {
            aliyun_config: None,
            credentials_file_path: Some(ini),
            credentials_file: Some(&text),
        };
        assert_eq!(
            name_of(&[(ENV_PROFILE, "ops")], &files),
            "profile/ecs_ram_role"
        );
        assert_eq!(
            name_of(&[(ENV_PROFILE, "nope")], &files),
            "remote ecs=true uri=false"
        );
    }
}

//! The credentials file of the official libraries (`~/.alibabacloud/credentials`, or
//! `ALIBABA_CLOUD_CREDENTIALS_FILE`): ini sections named by profile, each with a `type` of
//! `access_key`, `ram_role_arn`, `oidc_role_arn` or `ecs_ram_role`. Pure: text in, source out;
//! no error quotes a value (one may be a secret).

use super::source::{AssumeRole, DEFAULT_DURATION_SECONDS, Ecs, Oidc, Source};
use super::sts_endpoint::{imds_url, sts_url};
use super::{Credentials, CredentialsError, DEFAULT_SESSION_NAME, ENV_IMDSV1_DISABLED};
use crate::edas::secret::Secret;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Sections by name, each a map of keys to values. `#` starts a comment in a value, as the
/// official Python library reads it.
pub(super) fn parse(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_string();
            sections.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let (Some(section), Some((key, value))) = (&current, line.split_once('=')) else {
            continue;
        };
        let value = value.split('#').next().unwrap_or("").trim().to_string();
        sections
            .entry(section.clone())
            .or_default()
            .insert(key.trim().to_string(), value);
    }
    sections
}

/// The source for `section` of the file at `path`.
pub(super) fn section_source(
    path: &Path,
    profile: &str,
    section: &BTreeMap<String, String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Source, CredentialsError> {
    let field = |key: &'static str| {
        section
            .get(key)
            .filter(|value| !value.is_empty())
            .cloned()
            .ok_or_else(|| CredentialsError::MissingField {
                path: path.to_path_buf(),
                profile: profile.to_string(),
                field: key,
            })
    };
    let optional = |key: &str| section.get(key).filter(|value| !value.is_empty()).cloned();
    let keys = || -> Result<Credentials, CredentialsError> {
        Ok(Credentials::new(
            field("access_key_id")?,
            Secret::new(field("access_key_secret")?),
        ))
    };
    let session_name =
        || optional("role_session_name").unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string());
    let kind = field("type")?;
    match kind.as_str() {
        "access_key" => Ok(Source::Static(keys()?)),
        "ram_role_arn" => Ok(Source::RamRoleArn {
            base: Box::new(Source::Static(keys()?)),
            role: AssumeRole {
                role_arn: field("role_arn")?,
                session_name: session_name(),
                duration_seconds: DEFAULT_DURATION_SECONDS,
                external_id: optional("external_id"),
                policy: optional("policy"),
                sts: sts_url(env, None, None),
            },
        }),
        "oidc_role_arn" => Ok(Source::Oidc(Oidc {
            role_arn: field("role_arn")?,
            provider_arn: field("oidc_provider_arn")?,
            token_file: PathBuf::from(field("oidc_token_file_path")?),
            session_name: session_name(),
            duration_seconds: DEFAULT_DURATION_SECONDS,
            policy: optional("policy"),
            sts: sts_url(env, None, None),
        })),
        "ecs_ram_role" => Ok(Source::EcsRamRole(Ecs {
            role_name: optional("role_name"),
            endpoint: imds_url(env),
            imdsv1_disabled: super::is_true(env(ENV_IMDSV1_DISABLED)),
        })),
        _ => Err(CredentialsError::UnsupportedMode {
            path: path.to_path_buf(),
            profile: profile.to_string(),
            mode: kind,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_and_comments_are_read_as_the_official_library_reads_them() {
        let text = "# top\n[default]\nenable = true\ntype = access_key # the kind\naccess_key_id = AKID\naccess_key_secret = s3cret\n\n[ci]\ntype=oidc_role_arn\nrole_arn=acs:ram::1:role/ci\noidc_provider_arn=acs:ram::1:oidc-provider/gh\noidc_token_file_path=/t\n";
        let sections = parse(text);
        assert_eq!(sections["default"]["type"], "access_key");
        let env = |_: &str| None;
        let source =
            section_source(Path::new("/c"), "default", &sections["default"], &env).unwrap();
        assert_eq!(
            source,
            Source::Static(Credentials::new("AKID", Secret::new("s3cret")))
        );
        let oidc = section_source(Path::new("/c"), "ci", &sections["ci"], &env).unwrap();
        assert_eq!(oidc.provider_name(), "oidc_role_arn");
    }

    #[test]
    fn an_unknown_type_is_refused_naming_it() {
        let sections = parse("[default]\ntype = rsa_key_pair\n");
        let env = |_: &str| None;
        let error = section_source(Path::new("/c"), "default", &sections["default"], &env)
            .unwrap_err()
            .to_string();
        assert!(error.contains("`rsa_key_pair`"), "{error}");
    }
}

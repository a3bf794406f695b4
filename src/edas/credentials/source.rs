//! What a credentials source is, once the chain picked it: static keys, or how to fetch
//! temporary ones (STS AssumeRole / AssumeRoleWithOIDC, the ECS metadata service, a
//! credentials URI, an external process). Plain data; fetching lives in `fetch`.

use super::Credentials;
use std::fmt;
use std::path::PathBuf;

/// The default STS session length, as the official libraries ask for (3600 s).
pub const DEFAULT_DURATION_SECONDS: u64 = 3600;

/// The parameters of an STS `AssumeRole`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: String,
    pub duration_seconds: u64,
    pub external_id: Option<String>,
    pub policy: Option<String>,
    /// The STS base URL (`https://sts.aliyuncs.com`, or an override).
    pub sts: String,
}

/// The parameters of an STS `AssumeRoleWithOIDC`. The token is read from `token_file` on
/// every fetch: CI rotates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Oidc {
    pub role_arn: String,
    pub provider_arn: String,
    pub token_file: PathBuf,
    pub session_name: String,
    pub duration_seconds: u64,
    pub policy: Option<String>,
    pub sts: String,
}

/// The ECS metadata service and the role to ask it for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ecs {
    /// `None`: the first role in the service's listing.
    pub role_name: Option<String>,
    /// The base URL (`http://100.100.100.200`, or `ALIBABA_CLOUD_IMDS_ENDPOINT`).
    pub endpoint: String,
    pub imdsv1_disabled: bool,
}

/// How credentials are obtained.
#[derive(Clone, PartialEq, Eq)]
pub enum Source {
    /// Keys given as they are (AccessKey, or a pasted STS token).
    Static(Credentials),
    /// `AssumeRole` signed with the credentials of `base`.
    RamRoleArn {
        base: Box<Source>,
        role: AssumeRole,
    },
    Oidc(Oidc),
    EcsRamRole(Ecs),
    CredentialsUri(String),
    /// A command (the profile's `process_command`) printing JSON credentials.
    External(String),
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Static(credentials) => f.debug_tuple("Static").field(credentials).finish(),
            Source::RamRoleArn { base, role } => f
                .debug_struct("RamRoleArn")
                .field("base", base)
                .field("role", role)
                .finish(),
            Source::Oidc(oidc) => f.debug_tuple("Oidc").field(oidc).finish(),
            Source::EcsRamRole(ecs) => f.debug_tuple("EcsRamRole").field(ecs).finish(),
            Source::CredentialsUri(uri) => f.debug_tuple("CredentialsUri").field(uri).finish(),
            // The command line may hold a secret (a vault token as an argument).
            Source::External(_) => f.write_str("External(<command>)"),
        }
    }
}

impl Source {
    /// The official libraries' provider name for this source (`static_ak`,
    /// `ram_role_arn/static_ak`, …), for `credentials` and the interop check.
    pub fn provider_name(&self) -> String {
        match self {
            Source::Static(credentials) if credentials.security_token.is_some() => {
                "static_sts".to_string()
            }
            Source::Static(_) => "static_ak".to_string(),
            Source::RamRoleArn { base, .. } => format!("ram_role_arn/{}", base.provider_name()),
            Source::Oidc(_) => "oidc_role_arn".to_string(),
            Source::EcsRamRole(_) => "ecs_ram_role".to_string(),
            Source::CredentialsUri(_) => "credential_uri".to_string(),
            Source::External(_) => "external".to_string(),
        }
    }

    /// The role these credentials act as, when known before fetching.
    pub fn role(&self) -> Option<String> {
        match self {
            Source::Static(_) | Source::CredentialsUri(_) | Source::External(_) => None,
            Source::RamRoleArn { role, .. } => Some(role.role_arn.clone()),
            Source::Oidc(oidc) => Some(oidc.role_arn.clone()),
            Source::EcsRamRole(ecs) => ecs.role_name.clone(),
        }
    }

    /// True when the credentials are temporary and fetched over and over.
    pub fn is_static(&self) -> bool {
        matches!(self, Source::Static(_))
    }
}

/// Where in the chain a source was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// An environment-variable family, named by its id variable.
    Environment(&'static str),
    OidcEnvironment,
    CliProfile {
        path: PathBuf,
        profile: String,
    },
    CredentialsFile {
        path: PathBuf,
        profile: String,
    },
    EcsMetadata,
    CredentialsUriEnvironment,
    /// Given by the caller (the rehearsal's embedded simulator, tests).
    Given,
}

impl Origin {
    /// The official libraries' prefix for the provider name (`env`, `cli_profile`, …).
    fn provider_prefix(&self) -> Option<&'static str> {
        match self {
            Origin::CliProfile { .. } => Some("cli_profile"),
            Origin::CredentialsFile { .. } => Some("profile"),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Origin::Environment(id) => format!("environment variables (`{id}` and its family)"),
            Origin::OidcEnvironment => {
                "OIDC from the environment (`ALIBABA_CLOUD_OIDC_TOKEN_FILE`)".to_string()
            }
            Origin::CliProfile { path, profile } => {
                format!("aliyun CLI profile `{profile}` in `{}`", path.display())
            }
            Origin::CredentialsFile { path, profile } => {
                format!("profile `[{profile}]` in `{}`", path.display())
            }
            Origin::EcsMetadata => "the ECS instance RAM role (metadata service)".to_string(),
            Origin::CredentialsUriEnvironment => "`ALIBABA_CLOUD_CREDENTIALS_URI`".to_string(),
            Origin::Given => "given by the caller".to_string(),
        }
    }
}

/// The source the chain picked and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub origin: Origin,
    pub source: Source,
}

impl Resolved {
    /// The name `alibabacloud-credentials` gives the same choice, without its `default/`.
    pub fn provider_name(&self) -> String {
        match &self.origin {
            Origin::Environment(_) => "env".to_string(),
            origin => match origin.provider_prefix() {
                Some(prefix) => format!("{prefix}/{}", self.source.provider_name()),
                None => self.source.provider_name(),
            },
        }
    }
}

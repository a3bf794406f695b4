//! `credentials [--verify]`: which credentials a run would use (docs/credentials.md). Prints
//! the source the chain picked, the official libraries' name for it, the AccessKey id (never
//! the secret or token), the role and the expiry; `--verify` asks STS `GetCallerIdentity`.
//! The config is read only for its `provider.profile`, and only when it exists: a new machine
//! checks its credentials before it has a runbook.

use crate::cli::args::{CredentialsArgs, GlobalArgs};
use crate::cli::exit;
use crate::cli::settings::load_config;
use crate::edas::credentials::fetch::caller_identity;
use crate::edas::credentials::load_provider;
use crate::edas::credentials::sts_endpoint::sts_url;
use anyhow::Context as _;
use std::time::SystemTime;

pub(crate) fn run(global: &GlobalArgs, args: &CredentialsArgs) -> anyhow::Result<u8> {
    let profile = if global.config.exists() {
        load_config(&global.config)?
            .desired
            .provider
            .profile
            .clone()
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let provider = load_provider(
            profile.as_deref(),
            &crate::cli::env::credentials_environment()?,
        )
        .await?;
        let credentials = provider.current().await?;
        let resolved = provider.resolved();
        let mut text = String::new();
        text.push_str(&format!("source:         {}\n", resolved.origin.describe()));
        text.push_str(&format!("provider:       {}\n", resolved.provider_name()));
        text.push_str(&format!("access key id:  {}\n", credentials.access_key_id));
        text.push_str(&format!(
            "security token: {}\n",
            if credentials.security_token.is_some() {
                "yes (not shown)"
            } else {
                "none"
            }
        ));
        if let Some(role) = resolved.source.role() {
            text.push_str(&format!("role:           {role}\n"));
        }
        match provider.expiration() {
            Some(expiration) => {
                let left = expiration
                    .duration_since(SystemTime::now())
                    .map(|left| std::time::Duration::from_secs(left.as_secs()))
                    .unwrap_or_default();
                text.push_str(&format!(
                    "expires:        {} (in {}; renewed 3 minutes before)\n",
                    humantime::format_rfc3339_seconds(expiration),
                    humantime::format_duration(left)
                ));
            }
            None => text.push_str("expires:        never (long-lived AccessKey)\n"),
        }
        if args.verify {
            let sts = sts_url(&crate::cli::env::var, None, None);
            let identity =
                caller_identity(&sts, &credentials, &crate::cli::env::proxy_settings()?).await?;
            text.push_str(&format!(
                "verified:       {} ({}, account {}) by STS GetCallerIdentity at {sts}\n",
                identity.arn, identity.identity_type, identity.account_id
            ));
        }
        anstream::print!("{text}");
        Ok(exit::OK)
    })
}

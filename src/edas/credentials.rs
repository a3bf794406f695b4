//! Credentials and where they come from (DESIGN 5): environment variables, then the aliyun
//! CLI profile file. Secrets are held in [`Secret`] and never leave this type except through
//! the signer.

use super::secret::Secret;

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

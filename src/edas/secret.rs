//! `Secret`: a string that must never be printed, logged, serialized or written anywhere.
//! Its `Debug` is redacted, it has no `Display` and no `Serialize`, and the only way to read
//! it is [`Secret::expose_to_signer`], called only where the secret is signed with or sent.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The one way to read a secret. Called only where it is signed with or sent: the signers
    /// (the signature and the security token header), the credentials fetcher (STS's own
    /// signature, the token it exchanges), the simulator's verifier (to check a signature) and
    /// the transport (a proxy's `Proxy-Authorization`).
    pub fn expose_to_signer(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret() {
        let secret = Secret::new("TopSecretValue123");
        let shown = format!("{secret:?} {secret:#?}");
        assert!(!shown.contains("TopSecretValue123"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}

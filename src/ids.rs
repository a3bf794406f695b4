//! Identity types shared by every module. A change order id is validated once, in `config`;
//! everywhere else it travels as this newtype so it cannot be confused with other strings.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The id of an EDAS change order, e.g. `6b55106c-c7f2-40f7-a1d4-0928700aaaaa`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChangeOrderId(String);

impl ChangeOrderId {
    /// Wraps a string without checking it; `config` checks ids the user declares, while ids
    /// read back from state, plans or the service are taken as they were recorded.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the id matches `[A-Za-z0-9-]+`, the form the CLI accepts in a config.
    pub fn is_well_formed(id: &str) -> bool {
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    }
}

impl fmt::Display for ChangeOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ChangeOrderId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_ids_are_alphanumeric_and_dashes_only() {
        assert!(ChangeOrderId::is_well_formed(
            "6b55106c-c7f2-40f7-a1d4-0928700aaaaa"
        ));
        assert!(!ChangeOrderId::is_well_formed(""));
        assert!(!ChangeOrderId::is_well_formed("id with space"));
        assert!(!ChangeOrderId::is_well_formed("a_b"));
        assert!(!ChangeOrderId::is_well_formed("é"));
    }
}

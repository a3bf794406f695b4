//! Identity types shared by every module. A change order id is validated once, in `config`;
//! everywhere else it travels as this newtype so it cannot be confused with other strings.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The id of an EDAS change order, e.g. `6b55106c-c7f2-40f7-a1d4-0928700aaaaa`.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
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

    /// True when the id is letters and digits in groups joined by single `-`
    /// (`[A-Za-z0-9]+(-[A-Za-z0-9]+)*`), the form the CLI accepts in a config. EDAS ids are UUIDs (`6b55106c-c7f2-40f7-a1d4-0928700aaaaa`); an id of only
    /// `-`, or with a leading, trailing or doubled `-`, names no change order and is refused
    /// rather than sent. docs/CONFIG.md ("Change order ids").
    pub fn is_well_formed(id: &str) -> bool {
        !id.is_empty()
            && id
                .split('-')
                .all(|group| !group.is_empty() && group.bytes().all(|b| b.is_ascii_alphanumeric()))
    }

    /// The key two ids are compared by: ASCII lowercase. EDAS ids are UUIDs, which compare
    /// without regard to case (RFC 9562), so `6B55…` and `6b55…` are the same change order:
    /// a config or plan declaring both is refused as a duplicate. docs/CONFIG.md.
    pub fn comparison_key(id: &str) -> String {
        id.to_ascii_lowercase()
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

    #[test]
    fn ids_of_dashes_or_with_stray_dashes_are_meaningless() {
        for id in ["-", "---", "-abc", "abc-", "ab--cd"] {
            assert!(!ChangeOrderId::is_well_formed(id), "{id}");
        }
        assert!(ChangeOrderId::is_well_formed("co1"));
    }
}

//! The plan file (`plan --out FILE`, `apply FILE`, `show FILE`): encoding, decoding, the
//! checksum that makes a hand-edited plan refusable, and the staleness check that pins a
//! plan to the state version it was made against. Pure: the caller reads and writes files.
//!
//! The canonical encoding is [`encode`]'s output: pretty JSON (two-space indent), fields in
//! declaration order, a trailing newline. The checksum is the lowercase hex sha256 of the
//! canonical encoding of the plan with `checksum` set to the empty string. Decoding
//! re-encodes what it read, so reformatting a plan file (e.g. through `jq .`) keeps it
//! valid while any change of content is refused.

use super::{PLAN_FORMAT_VERSION, Plan};
use crate::edas::signer::SignatureAlgorithm;
use crate::ids::ChangeOrderId;
use crate::state::State;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error(
        "`{path}` is not a valid plan file: {message} at line {line}, column {column}",
        path = path.display()
    )]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "`{path}` is a plan of format_version {found}, newer than this edas-rollback understands (up to {supported}); it was written by edas-rollback `{tool_version}`: use that version or newer",
        path = path.display()
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
        tool_version: String,
    },
    #[error(
        "`{path}` has been modified since it was saved: its checksum is `{recorded}` but its content hashes to `{computed}`; make a new plan with `edas-rollback plan --out`",
        path = path.display()
    )]
    ChecksumMismatch {
        path: PathBuf,
        recorded: String,
        computed: String,
    },
    /// A plan lists every change order once; a hand-merged file (even with a recomputed
    /// checksum) that lists one twice would send it twice. Ids compare as
    /// [`ChangeOrderId::comparison_key`] does (case does not matter).
    #[error(
        "`{path}` lists change order `{change_order_id}` twice (actions {first} and {second}); a plan names each change order once: make a new plan with `edas-rollback plan --out`",
        path = path.display()
    )]
    DuplicateChangeOrder {
        path: PathBuf,
        change_order_id: String,
        first: usize,
        second: usize,
    },
}

/// Why a saved plan no longer applies to the current state. Apply refuses it and sends
/// nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StalePlan {
    #[error(
        "Saved plan is stale: the state serial moved from {planned} to {current} since the plan was made"
    )]
    SerialMoved { planned: u64, current: u64 },
    #[error(
        "Saved plan is stale: it was made against state lineage `{planned}`, but the state has lineage `{current}` (a different state file)"
    )]
    DifferentLineage { planned: String, current: String },
    #[error(
        "Saved plan is stale: it was made with no state file, but a state has been created since (lineage `{lineage}`, serial {serial})"
    )]
    StateCreated { lineage: String, serial: u64 },
    #[error(
        "Saved plan is stale: it was made against state lineage `{lineage}` at serial {serial}, but there is no state file now"
    )]
    StateMissing { lineage: String, serial: u64 },
}

/// The provider settings a plan pins (docs/APPLY.md: apply carries out the plan as reviewed):
/// apply sends to exactly this endpoint and region, signed with this algorithm, and refuses a
/// run whose flags, environment or config say otherwise. One struct, so every pinned setting
/// is compared in the same place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinnedProvider {
    pub endpoint: String,
    pub region: String,
    pub signature_algorithm: SignatureAlgorithm,
}

impl PinnedProvider {
    pub fn of(plan: &Plan) -> Self {
        Self {
            endpoint: plan.endpoint.clone(),
            region: plan.region.clone(),
            signature_algorithm: plan.signature_algorithm,
        }
    }
}

/// What this run would use, for comparison with what the plan pins; the caller resolves it
/// (flags, environment, config) and says where each value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSettings {
    pub provider: PinnedProvider,
    /// Where the endpoint came from, for the message: e.g. "`--endpoint`".
    pub endpoint_source: String,
    /// The config path as given (`-c`).
    pub config_path: String,
    /// True when the plan's config path names the same file as `config_path`; the caller
    /// decides (it may resolve both paths on disk).
    pub same_config_file: bool,
    pub config_sha256: String,
}

/// Why a saved plan must not be carried out in this run: it was reviewed for another
/// endpoint, region or config. Apply refuses it before anything is sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanMismatch {
    #[error(
        "the plan was reviewed for endpoint `{planned}`, but {source_name} gives `{current}`; nothing was sent"
    )]
    Endpoint {
        planned: String,
        current: String,
        source_name: String,
    },
    #[error(
        "the plan was reviewed for region `{planned}`, but the config says `{current}`; nothing was sent"
    )]
    Region { planned: String, current: String },
    #[error(
        "the plan was made to sign with `{planned}`, but the config's `provider.signature_algorithm` is now `{current}`; nothing was sent"
    )]
    SignatureAlgorithm {
        planned: SignatureAlgorithm,
        current: SignatureAlgorithm,
    },
    #[error(
        "the plan was made from config `{planned}`, but this run reads config `{current}`; nothing was sent"
    )]
    ConfigPath { planned: String, current: String },
    #[error(
        "the config `{path}` changed since the plan was made (sha256 `{planned}` then, `{current}` now); nothing was sent"
    )]
    ConfigChanged {
        path: String,
        planned: String,
        current: String,
    },
}

/// Checks that this run would send where the plan was reviewed for, from the config it was
/// made from. Endpoint first: it is the mistake that sends real aborts to the wrong place.
pub fn check_pinned(plan: &Plan, run: &RunSettings) -> Result<(), PlanMismatch> {
    let pinned = PinnedProvider::of(plan);
    if pinned.endpoint != run.provider.endpoint {
        return Err(PlanMismatch::Endpoint {
            planned: pinned.endpoint,
            current: run.provider.endpoint.clone(),
            source_name: run.endpoint_source.clone(),
        });
    }
    if pinned.region != run.provider.region {
        return Err(PlanMismatch::Region {
            planned: pinned.region,
            current: run.provider.region.clone(),
        });
    }
    if pinned.signature_algorithm != run.provider.signature_algorithm {
        return Err(PlanMismatch::SignatureAlgorithm {
            planned: pinned.signature_algorithm,
            current: run.provider.signature_algorithm,
        });
    }
    if !run.same_config_file {
        return Err(PlanMismatch::ConfigPath {
            planned: plan.config.path.clone(),
            current: run.config_path.clone(),
        });
    }
    if plan.config.sha256 != run.config_sha256 {
        return Err(PlanMismatch::ConfigChanged {
            path: run.config_path.clone(),
            planned: plan.config.sha256.clone(),
            current: run.config_sha256.clone(),
        });
    }
    Ok(())
}

/// The canonical encoding: pretty JSON with a trailing newline.
pub fn encode(plan: &Plan) -> String {
    // ~300 bytes per action in practice; one allocation for the common case.
    let mut bytes = Vec::with_capacity(512 + plan.actions.len() * 320);
    write_canonical(&mut bytes, plan);
    // serde_json writes UTF-8 only; the fallback is never taken.
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// Seals `plan` (sets its checksum) and returns its canonical encoding, serialising it once:
/// the encoding of the unsealed plan is hashed, then the digest is written between the quotes
/// of its last field, `"checksum": ""`, which is where [`encode`] of the sealed plan puts it
/// (a hex digest needs no escaping). For a caller that needs the encoding anyway, this saves
/// the second serialisation that [`checksum`] followed by [`encode`] would cost.
pub fn seal_and_encode(plan: &mut Plan) -> String {
    const UNSEALED_END: &[u8] = b"\"checksum\": \"\"\n}\n";
    plan.checksum.clear();
    let mut bytes = Vec::with_capacity(512 + plan.actions.len() * 320);
    write_canonical(&mut bytes, plan);
    plan.checksum = hex::encode(Sha256::digest(&bytes));
    if bytes.ends_with(UNSEALED_END) {
        let at = bytes.len() - b"\"\n}\n".len();
        bytes.splice(at..at, plan.checksum.bytes());
        // serde_json writes UTF-8 only, and the digest is ASCII; the fallback is never taken.
        String::from_utf8(bytes).unwrap_or_else(|_| encode(plan))
    } else {
        // Only if `checksum` stopped being the last field; stay correct, pay twice.
        encode(plan)
    }
}

/// Lowercase hex sha256 of the canonical encoding of `plan` with its checksum emptied.
/// Hashes while encoding, so a large plan is never held twice in memory.
pub fn checksum(plan: &Plan) -> String {
    // serde_json writes token by token; hashing in 64 KiB blocks is several times faster.
    let mut hasher = io::BufWriter::with_capacity(1 << 16, HashWriter(Sha256::new()));
    if plan.checksum.is_empty() {
        write_canonical(&mut hasher, plan);
    } else {
        let unsealed = Plan {
            checksum: String::new(),
            ..plan.clone()
        };
        write_canonical(&mut hasher, &unsealed);
    }
    let hasher = match hasher.into_inner() {
        Ok(hasher) => hasher,
        // HashWriter never fails, so flushing cannot either.
        Err(error) => error.into_inner().into_parts().0,
    };
    hex::encode(hasher.0.finalize())
}

/// Reads a plan file's text: refuses a newer format and a checksum that does not match the
/// content. `path` is only used in errors.
pub fn decode(path: &Path, text: &str) -> Result<Plan, PlanFileError> {
    let mut plan: Plan = match serde_json::from_str(text) {
        Ok(plan) => plan,
        // A newer format may not parse as this version's plan: say "newer", not "invalid".
        Err(source) => return Err(newer_format(path, text).unwrap_or_else(|| syntax(path, source))),
    };
    if plan.format_version > PLAN_FORMAT_VERSION {
        return Err(PlanFileError::NewerFormat {
            path: path.to_path_buf(),
            found: plan.format_version,
            supported: PLAN_FORMAT_VERSION,
            tool_version: plan.tool_version,
        });
    }
    let recorded = std::mem::take(&mut plan.checksum);
    let computed = checksum(&plan);
    if recorded != computed {
        return Err(PlanFileError::ChecksumMismatch {
            path: path.to_path_buf(),
            recorded,
            computed,
        });
    }
    plan.checksum = recorded;
    refuse_duplicates(path, &plan)?;
    Ok(plan)
}

/// Refuses a plan that lists one change order twice (actions numbered from 1).
fn refuse_duplicates(path: &Path, plan: &Plan) -> Result<(), PlanFileError> {
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(plan.actions.len());
    for (index, action) in plan.actions.iter().enumerate() {
        let key = ChangeOrderId::comparison_key(action.change_order_id.as_str());
        if let Some(first) = seen.insert(key, index + 1) {
            return Err(PlanFileError::DuplicateChangeOrder {
                path: path.to_path_buf(),
                change_order_id: action.change_order_id.to_string(),
                first,
                second: index + 1,
            });
        }
    }
    Ok(())
}

fn newer_format(path: &Path, text: &str) -> Option<PlanFileError> {
    #[derive(Deserialize)]
    struct Header {
        format_version: u32,
        #[serde(default)]
        tool_version: String,
    }
    let header: Header = serde_json::from_str(text).ok()?;
    (header.format_version > PLAN_FORMAT_VERSION).then(|| PlanFileError::NewerFormat {
        path: path.to_path_buf(),
        found: header.format_version,
        supported: PLAN_FORMAT_VERSION,
        tool_version: header.tool_version,
    })
}

/// A plan applies only over the exact state version it was made against: same lineage and
/// same serial, or no state file on either side.
pub fn check_applicable(plan: &Plan, state: Option<&State>) -> Result<(), StalePlan> {
    match (&plan.state.lineage, state) {
        (None, None) => Ok(()),
        (None, Some(state)) => Err(StalePlan::StateCreated {
            lineage: state.lineage.clone(),
            serial: state.serial,
        }),
        (Some(lineage), None) => Err(StalePlan::StateMissing {
            lineage: lineage.clone(),
            serial: plan.state.serial,
        }),
        (Some(lineage), Some(state)) if *lineage != state.lineage => {
            Err(StalePlan::DifferentLineage {
                planned: lineage.clone(),
                current: state.lineage.clone(),
            })
        }
        (Some(_), Some(state)) if plan.state.serial != state.serial => {
            Err(StalePlan::SerialMoved {
                planned: plan.state.serial,
                current: state.serial,
            })
        }
        (Some(_), Some(_)) => Ok(()),
    }
}

fn syntax(path: &Path, source: serde_json::Error) -> PlanFileError {
    let message = source.to_string();
    // serde_json appends " at line L column C"; the error names them itself.
    let message = match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message,
    };
    PlanFileError::Syntax {
        path: path.to_path_buf(),
        line: source.line(),
        column: source.column(),
        message,
        source,
    }
}

fn write_canonical(writer: &mut impl Write, plan: &Plan) {
    // Serialising plain structs with string keys into an infallible writer cannot fail.
    let written = serde_json::to_writer_pretty(&mut *writer, plan)
        .and_then(|()| writer.write_all(b"\n").map_err(serde_json::Error::io));
    debug_assert!(written.is_ok(), "plan serialisation failed: {written:?}");
}

struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

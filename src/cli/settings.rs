//! Args + environment + config → the resolved settings a command runs with. The one place
//! that reads the config file from disk (`config` itself is given text, never a path to open),
//! the one place each setting is resolved flag → environment (through clap's `env`) → config
//! → [`DEFAULTS`] ([`RunTuning::resolve`], [`endpoint`]), and the one derivation of the
//! state's location ([`state_path`], [`config_stem`]).

use crate::cli::args::{GlobalArgs, RunArgs};
use crate::cli::limits::{MAX_CONFIG_BYTES, read_bounded, read_bounded_text};
use crate::cli::render::Hinted;
use crate::config::error::SourceText;
use crate::config::{self, ConfigError, ConfigErrors, DEFAULTS, DesiredState, Position};
use crate::edas::client::ClientSettings;
use crate::edas::credentials::CredentialsProvider;
use crate::edas::endpoint::{Endpoint, resolve_endpoint};
use crate::edas::signer::SignatureAlgorithm;
use anyhow::{Context, anyhow};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A config read from disk and checked.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    /// The path as given (`-c`), used in messages and to place the state file beside it.
    pub path: PathBuf,
    pub desired: DesiredState,
    /// Hex sha256 of the file's bytes, pinned in plan files.
    pub sha256: String,
}

impl LoadedConfig {
    /// Where the parsed config puts its state, for [`open_store_with`].
    pub(crate) fn state_keys(&self) -> config::StateKeys {
        config::StateKeys {
            state: self.desired.state.clone(),
            state_name: self.desired.state_name.clone(),
        }
    }

    /// The state file for this config (docs/CONTRACT.md, "Files"): `--state`, else `state:`, else
    /// `<config stem>.state.json` beside the config.
    pub fn state_path(&self, flag: Option<&Path>) -> PathBuf {
        state_path(&self.path, self.desired.state.as_deref(), flag)
    }
}

/// Reads and checks the config at `path`. Every failure names the file: missing (with a
/// hint about `-c` and the default name), a directory, bytes that are not UTF-8 (line,
/// column and byte offset), and every problem in the YAML.
pub fn load_config(path: &Path) -> anyhow::Result<LoadedConfig> {
    read_config(path)?.parse()
}

/// A config file read from disk, not parsed yet: [`load_config`] in two steps, so a command
/// can start other work that depends only on the file's path (reading the state) while the
/// YAML parses, which takes most of the time for a large runbook.
#[derive(Clone, Debug)]
pub struct ConfigFile {
    path: PathBuf,
    bytes: Vec<u8>,
}

/// Reads the config at `path`: the first half of [`load_config`], with its errors for a
/// missing file, a directory and an unreadable file.
pub fn read_config(path: &Path) -> anyhow::Result<ConfigFile> {
    let shown = path.display();
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(Hinted::new(
                anyhow!("config file `{shown}` not found"),
                format!(
                    "pass the config with `-c FILE`, or run in a directory that holds `{}`",
                    config::DEFAULT_CONFIG_FILE
                ),
            )
            .into());
        }
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read config file `{shown}`"));
        }
    };
    if metadata.is_dir() {
        return Err(Hinted::new(
            anyhow!("config `{shown}` is a directory, not a file"),
            "pass the YAML file itself with `-c FILE`",
        )
        .into());
    }
    let bytes = read_bounded(path, MAX_CONFIG_BYTES, "config file")?;
    Ok(ConfigFile {
        path: path.to_path_buf(),
        bytes,
    })
}

impl ConfigFile {
    /// The `state:` and `state_name:` keys alone, read leniently (a config that fails its
    /// checks still names its state), for opening the store before the whole file parses.
    pub(crate) fn state_keys(&self) -> config::StateKeys {
        std::str::from_utf8(&self.bytes)
            .ok()
            .and_then(config::state_keys)
            .unwrap_or_default()
    }

    /// [`config::state_keys_guess`] of the text: cheap, and only a guess, which the caller
    /// confirms against the parsed config.
    pub(crate) fn state_keys_guess(&self) -> Option<config::StateKeys> {
        std::str::from_utf8(&self.bytes)
            .ok()
            .and_then(config::state_keys_guess)
    }

    /// Checks the text and parses it: the second half of [`load_config`].
    pub fn parse(&self) -> anyhow::Result<LoadedConfig> {
        let path = self.path.as_path();
        let sha256 = hex::encode(Sha256::digest(&self.bytes));
        let text = match std::str::from_utf8(&self.bytes) {
            Ok(text) => text,
            Err(error) => return Err(not_utf8(path, &self.bytes, error.valid_up_to()).into()),
        };
        let desired = config::parse(path, text)?;
        Ok(LoadedConfig {
            path: self.path.clone(),
            desired,
            sha256,
        })
    }
}

/// The error for a file that is not UTF-8, rendered like every other config error, with
/// the offending byte shown as `�`.
fn not_utf8(path: &Path, bytes: &[u8], valid_up_to: usize) -> ConfigErrors {
    let before = &bytes[..valid_up_to];
    // Lines end as YAML's (and `SourceText`'s) do: `\n`, `\r\n`, or a lone `\r`.
    let breaks = before.iter().enumerate().filter(|&(index, &byte)| {
        byte == b'\n' || (byte == b'\r' && bytes.get(index + 1) != Some(&b'\n'))
    });
    let line_start = breaks.clone().next_back().map_or(0, |(index, _)| index + 1);
    let position = Position {
        line: breaks.count() + 1,
        column: String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1,
    };
    let byte = bytes.get(valid_up_to).copied().unwrap_or_default();
    let text = String::from_utf8_lossy(bytes);
    ConfigErrors::new(
        path,
        vec![ConfigError::at(
            &SourceText::new(&text),
            position,
            1,
            format!("invalid UTF-8 byte `0x{byte:02x}` at byte offset {valid_up_to}"),
            "expected UTF-8 text; save the file as UTF-8",
        )],
    )
}

/// The state file path (docs/CONTRACT.md, "Files"): `--state`, else the config's `state:` (relative
/// to the config's directory), else `<config stem>.state.json` beside the config. Every command
/// (and `rehearse`'s scratch state) derives the path here and nowhere else.
pub fn state_path(config_path: &Path, config_state: Option<&Path>, flag: Option<&Path>) -> PathBuf {
    if let Some(flag) = flag {
        return flag.to_path_buf();
    }
    let directory = config_path.parent().unwrap_or(Path::new(""));
    if let Some(configured) = config_state {
        return directory.join(configured);
    }
    directory.join(format!("{}.state.json", config_stem(config_path)))
}

/// The config file's stem (`incident` for `runbooks/incident.yaml`): the default state file's
/// name and a PostgreSQL state's default name.
pub fn config_stem(config_path: &Path) -> String {
    config_path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "edas-rollback".to_string())
}

/// The endpoint a command sends to: `--endpoint` (or `EDAS_ENDPOINT`), else
/// `provider.endpoint`, else derived from the region and `provider.endpoint_type`.
pub fn endpoint(global: &GlobalArgs, desired: &DesiredState) -> anyhow::Result<Endpoint> {
    Ok(resolve_endpoint(
        global.endpoint.as_deref(),
        desired.provider.endpoint.as_deref(),
        &desired.provider.region,
        desired.provider.endpoint_type,
    )?)
}

/// How requests are paced and timed, resolved once for `apply`, `rehearse` and
/// `plan --refresh` (and the selectors' listing): each value from its flag when the command
/// has one, else the config's `apply:` section, else [`DEFAULTS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunTuning {
    pub parallelism: u32,
    pub requests_per_second: u32,
    pub request_timeout: Duration,
    pub verify_window: Duration,
}

impl RunTuning {
    /// `run` is the command's flags; `plan` has none and passes `None`.
    pub fn resolve(run: Option<&RunArgs>, desired: &DesiredState) -> Self {
        let apply = &desired.apply;
        Self {
            parallelism: run
                .and_then(|run| run.parallelism)
                .or(apply.parallelism)
                .unwrap_or(DEFAULTS.parallelism),
            requests_per_second: run
                .and_then(|run| run.requests_per_second)
                .or(apply.requests_per_second)
                .unwrap_or(DEFAULTS.requests_per_second),
            request_timeout: apply.request_timeout.unwrap_or(DEFAULTS.request_timeout),
            verify_window: apply.verify_window.unwrap_or(DEFAULTS.verify_window),
        }
    }

    /// The EDAS client's settings for these values: the read timeout is `request_timeout`,
    /// the connection pool holds `parallelism` connections, the proxy is the environment's
    /// (`HTTPS_PROXY`, `NO_PROXY`, ...; an unsupported proxy URL is an error).
    pub fn client_settings(
        &self,
        endpoint: Endpoint,
        region: impl Into<String>,
        credentials: impl Into<CredentialsProvider>,
        signature_algorithm: SignatureAlgorithm,
    ) -> Result<ClientSettings, crate::transport::ProxyError> {
        let mut settings =
            ClientSettings::new(endpoint, region, credentials, self.parallelism as usize);
        settings.read_timeout = self.request_timeout;
        settings.signature_algorithm = signature_algorithm;
        settings.proxy = crate::cli::env::proxy_settings()?;
        Ok(settings)
    }
}

/// Opens the state store the flags and config name (docs/state-store.md): a `postgres://` or
/// `postgresql://` URL in `--state` or `state:` is a PostgreSQL state named by `--state-name`,
/// `state_name:` or the config's stem; anything else is a file, as [`state_path`] finds
/// it. Only the config's `state:` and `state_name:` are read, so this works with a broken
/// config too.
pub fn open_store(global: &GlobalArgs) -> anyhow::Result<crate::state::store::AnyStore> {
    open_store_at(global, global.state.as_deref())
}

/// [`open_store`] for the state at `flag` instead of `--state` (`state migrate --to`): a
/// PostgreSQL target keeps the state's name.
pub fn open_store_at(
    global: &GlobalArgs,
    flag: Option<&Path>,
) -> anyhow::Result<crate::state::store::AnyStore> {
    let keys = read_bounded_text(&global.config, MAX_CONFIG_BYTES, "config file")
        .ok()
        .and_then(|text| config::state_keys(&text))
        .unwrap_or_default();
    open_store_with(global, flag, keys)
}

/// [`open_store_at`] with the config's `state:` and `state_name:` already in hand, so a
/// command that has read or parsed the config does not read and parse it again.
pub(crate) fn open_store_with(
    global: &GlobalArgs,
    flag: Option<&Path>,
    keys: config::StateKeys,
) -> anyhow::Result<crate::state::store::AnyStore> {
    use crate::state::postgres::{PgStore, is_postgres_url, location};
    use crate::state::store::{AnyStore, LocalStore};
    let config::StateKeys {
        state: configured,
        state_name: configured_name,
    } = keys;
    let chosen = flag.or(configured.as_deref());
    if let Some(url) = chosen
        .and_then(Path::to_str)
        .filter(|text| is_postgres_url(text))
    {
        let name = global
            .state_name
            .clone()
            .or(configured_name)
            .unwrap_or_else(|| config_stem(&global.config));
        let home = crate::cli::env::var_os("HOME").map(PathBuf::from);
        let location = location::parse(url, &name, &crate::cli::env::var, home.as_deref())
            .map_err(crate::cli::render::store_error_to_anyhow)?;
        let store = PgStore::open(&location).map_err(crate::cli::render::store_error_to_anyhow)?;
        return Ok(AnyStore::Postgres(store));
    }
    Ok(AnyStore::Local(LocalStore::new(state_path(
        &global.config,
        configured.as_deref(),
        flag,
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `plan` opens the store from the raw file's keys and `apply` from the parsed config's:
    /// both must name the same state, or the two commands would act on different states.
    #[test]
    fn the_parsed_config_and_the_raw_file_name_the_same_state() {
        for text in [
            "version: 1\nprovider:\n  region: cn-hangzhou\nstate: postgresql://db/edas\nstate_name: inc-42\nchange_orders:\n  - id: a-1\n",
            "version: 1\nprovider: {region: cn-hangzhou}\nstate: runbooks/s.json\nchange_orders: [{id: a-1}]\n",
            "version: 1\nprovider:\n  region: cn-hangzhou\nchange_orders:\n  - id: a-1\n",
        ] {
            let file = ConfigFile {
                path: PathBuf::from("incident.yaml"),
                bytes: text.as_bytes().to_vec(),
            };
            let raw_keys = file.state_keys();
            let parsed = file.parse().expect("a valid config");
            assert_eq!(parsed.state_keys(), raw_keys, "{text}");
        }
        let file = ConfigFile {
            path: PathBuf::from("incident.yaml"),
            bytes: b"version: 1\nprovider:\n  region: cn-hangzhou\nstate: postgresql://db/edas\nstate_name: inc-42\nchange_orders:\n  - id: a-1\n".to_vec(),
        };
        assert_eq!(
            file.parse().expect("a valid config").state_keys(),
            config::StateKeys {
                state: Some(PathBuf::from("postgresql://db/edas")),
                state_name: Some("inc-42".to_string()),
            }
        );
    }

    #[test]
    fn the_flag_wins_then_the_config_then_the_stem() {
        let config = Path::new("runbooks/incident.yaml");
        assert_eq!(
            state_path(
                config,
                Some(Path::new("x.json")),
                Some(Path::new("/tmp/s.json"))
            ),
            PathBuf::from("/tmp/s.json")
        );
        assert_eq!(
            state_path(config, Some(Path::new("x.json")), None),
            PathBuf::from("runbooks/x.json")
        );
        assert_eq!(
            state_path(config, None, None),
            PathBuf::from("runbooks/incident.state.json")
        );
        assert_eq!(
            state_path(Path::new("edas-rollback.yaml"), None, None),
            PathBuf::from("edas-rollback.state.json")
        );
    }

    /// The committed schema, which editors read and docs/CONFIG.md documents; tests/it/config.rs
    /// checks it is what the Rust types generate.
    fn committed_schema_default(definition: &str, key: &str) -> serde_json::Value {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../schemas/edas-rollback.schema.json")).unwrap();
        schema["$defs"][definition]["properties"][key]["default"].clone()
    }

    fn desired(apply: &str) -> DesiredState {
        let text = format!(
            "version: 1\nprovider:\n  region: cn-hangzhou\n{apply}change_orders:\n  - id: a\n"
        );
        config::parse(Path::new("t.yaml"), &text).unwrap()
    }

    fn run_args(parallelism: Option<u32>, requests_per_second: Option<u32>) -> RunArgs {
        RunArgs {
            parallelism,
            requests_per_second,
            json: false,
            wait: false,
            wait_timeout: Duration::from_secs(600),
        }
    }

    /// What a run really uses when nothing is set, against what the committed schema (and so
    /// docs/CONFIG.md) promises: changing a default in the code alone fails here.
    #[test]
    fn an_unset_setting_runs_with_the_default_the_schema_publishes() {
        let tuning = RunTuning::resolve(Some(&run_args(None, None)), &desired(""));
        assert_eq!(tuning, RunTuning::resolve(None, &desired("")));
        assert_eq!(
            serde_json::Value::from(tuning.parallelism),
            committed_schema_default("Apply", "parallelism")
        );
        assert_eq!(
            serde_json::Value::from(tuning.requests_per_second),
            committed_schema_default("Apply", "requests_per_second")
        );
        let duration = |key| {
            let value = committed_schema_default("Apply", key);
            config::parse_config_duration(value.as_str().unwrap()).unwrap()
        };
        assert_eq!(tuning.request_timeout, duration("request_timeout"));
        assert_eq!(tuning.verify_window, duration("verify_window"));
        let endpoint = Endpoint::parse("http://127.0.0.1:1").unwrap();
        let client = tuning
            .client_settings(
                endpoint,
                "cn-hangzhou",
                crate::edas::credentials::Credentials::new(
                    "id",
                    crate::edas::secret::Secret::new("secret"),
                ),
                SignatureAlgorithm::default(),
            )
            .unwrap();
        assert_eq!(client.read_timeout, duration("request_timeout"));
        assert_eq!(client.pool_size, tuning.parallelism as usize);
    }

    #[test]
    fn the_flag_wins_over_the_config_which_wins_over_the_default() {
        let configured = desired(
            "apply:\n  parallelism: 4\n  requests_per_second: 7\n  request_timeout: 2s\n  verify_window: 1s\n",
        );
        let from_config = RunTuning::resolve(Some(&run_args(None, None)), &configured);
        assert_eq!(
            from_config,
            RunTuning {
                parallelism: 4,
                requests_per_second: 7,
                request_timeout: Duration::from_secs(2),
                verify_window: Duration::from_secs(1),
            }
        );
        let from_flags = RunTuning::resolve(Some(&run_args(Some(9), Some(30))), &configured);
        assert_eq!(
            (from_flags.parallelism, from_flags.requests_per_second),
            (9, 30)
        );
        assert_eq!(from_flags.request_timeout, Duration::from_secs(2));
    }
}

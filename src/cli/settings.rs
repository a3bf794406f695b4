//! Args + environment + config → the resolved settings a command runs with.

use std::path::{Path, PathBuf};

/// The state file path (DESIGN 2): `--state`, else the config's `state:` (relative to the
/// config's directory), else `<config stem>.state.json` beside the config.
pub fn state_path(config_path: &Path, config_state: Option<&Path>, flag: Option<&Path>) -> PathBuf {
    if let Some(flag) = flag {
        return flag.to_path_buf();
    }
    let directory = config_path.parent().unwrap_or(Path::new(""));
    if let Some(configured) = config_state {
        return directory.join(configured);
    }
    let stem = config_path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "edas-rollback".to_string());
    directory.join(format!("{stem}.state.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

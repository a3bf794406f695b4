//! Where a PostgreSQL state lives: a `postgres://` or `postgresql://` URL in libpq's syntax
//! (including `?host=/socket/dir` and `port=`), completed as libpq completes it from the
//! `PG*` environment variables and the password file (`PGPASSFILE`, else `~/.pgpass`), so no
//! password needs to be in the config. `schema=` in the query names our schema (default
//! `edas_rollback`) and is taken out before the driver sees the URL. Pure apart from the
//! environment and the password file given to it; the password never reaches a message.

use crate::state::store::StoreError;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_postgres::config::{Host, SslMode};

/// The schema our tables live in when the URL does not say.
pub const DEFAULT_SCHEMA: &str = "edas_rollback";

/// A parsed location. Not `Debug`: the driver's config may hold the password.
#[derive(Clone)]
pub struct PgLocation {
    pub config: tokio_postgres::Config,
    pub schema: String,
    pub name: String,
    /// `postgres://user@host:port/db` plus the state's name; no password.
    pub shown: String,
}

impl std::fmt::Debug for PgLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLocation")
            .field("shown", &self.shown)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// Whether a `state:`/`--state` value names a PostgreSQL state rather than a file.
pub fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// The URL with any password replaced, for messages about a URL that did not parse.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let mut query_safe = String::new();
            for (index, part) in tail.split('&').enumerate() {
                if index > 0 {
                    query_safe.push('&');
                }
                let key = part.trim_start_matches(['/', '?']);
                if key.starts_with("password=") || key.contains("?password=") {
                    query_safe.push_str("password=***");
                } else {
                    query_safe.push_str(part);
                }
            }
            format!("{scheme}://{user}@{hosts}{query_safe}")
        }
        None => format!(
            "{scheme}://{}",
            rest.split('&')
                .map(|part| if part.contains("password=") {
                    "password=***"
                } else {
                    part
                })
                .collect::<Vec<_>>()
                .join("&")
        ),
    }
}

/// Parses `url` for the state `name`, filling what it leaves out from `env` (a lookup of
/// environment variables) and the password file under `home`.
pub fn parse(
    url: &str,
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<PgLocation, StoreError> {
    let bad = |reason: String| StoreError::PgLocation {
        url: redacted(url),
        reason,
    };
    if name.is_empty() {
        return Err(bad("the state name is empty".into()));
    }
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    // The query is kept byte for byte (libpq decodes `%XX` but not `+`, unlike form
    // encoding); only our own `schema=` is taken out.
    let mut schema = DEFAULT_SCHEMA.to_string();
    let mut kept: Vec<&str> = Vec::new();
    let mut sslmode_given = false;
    for part in query.split('&').filter(|part| !part.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        match key {
            "schema" => {
                schema = form_urlencoded::parse(format!("v={value}").as_bytes())
                    .next()
                    .map(|(_, value)| value.into_owned())
                    .unwrap_or_default();
            }
            other => {
                sslmode_given |= other == "sslmode";
                kept.push(part);
            }
        }
    }
    let driver_url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    if !valid_identifier(&schema) {
        return Err(bad(format!(
            "schema `{schema}` is not a plain lower-case identifier ([a-z_][a-z0-9_]*, at most 63)"
        )));
    }
    let mut config: tokio_postgres::Config = driver_url
        .parse()
        .map_err(|error: tokio_postgres::Error| bad(error.to_string()))?;

    if config.get_hosts().is_empty() {
        match env("PGHOST").filter(|host| !host.is_empty()) {
            Some(hosts) => {
                for host in hosts.split(',') {
                    config.host(host);
                }
            }
            None if Path::new("/var/run/postgresql").is_dir() => {
                config.host_path("/var/run/postgresql");
            }
            None => {
                config.host("localhost");
            }
        }
    }
    if config.get_ports().is_empty()
        && let Some(port) = env("PGPORT").filter(|port| !port.is_empty())
    {
        let port = port
            .parse::<u16>()
            .map_err(|_| bad(format!("PGPORT `{port}` is not a port number")))?;
        config.port(port);
    }
    if config.get_user().is_none() {
        match env("PGUSER")
            .or_else(|| env("USER"))
            .filter(|user| !user.is_empty())
        {
            Some(user) => {
                config.user(&user);
            }
            None => return Err(bad("no user: put it in the URL or set PGUSER".into())),
        }
    }
    if config.get_dbname().is_none() {
        let database = env("PGDATABASE")
            .filter(|database| !database.is_empty())
            .or_else(|| config.get_user().map(str::to_string))
            .unwrap_or_default();
        config.dbname(&database);
    }
    if !sslmode_given && let Some(mode) = env("PGSSLMODE") {
        config.ssl_mode(ssl_mode(&mode).ok_or_else(|| {
            bad(format!(
                "PGSSLMODE `{mode}` is not one of disable, prefer, require, verify-ca, verify-full"
            ))
        })?);
    }
    if config.get_application_name().is_none() {
        config.application_name("edas-rollback");
    }
    if config.get_connect_timeout().is_none() {
        let seconds = env("PGCONNECT_TIMEOUT")
            .and_then(|text| text.parse::<u64>().ok())
            .filter(|seconds| *seconds > 0)
            .unwrap_or(10);
        config.connect_timeout(Duration::from_secs(seconds));
    }
    // A peer that vanishes without a reset is noticed within about a minute, not hours:
    // a lost connection is a lost lock, and the run must learn it.
    if config.get_keepalives_idle() >= Duration::from_secs(7200) {
        config.keepalives_idle(Duration::from_secs(30));
    }
    #[cfg(target_os = "linux")]
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(Duration::from_secs(60));
    }
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_string(),
    };
    let user = config.get_user().unwrap_or_default().to_string();
    let database = config.get_dbname().unwrap_or_default().to_string();
    if config.get_password().is_none() {
        let file = env("PGPASSFILE")
            .map(PathBuf::from)
            .or_else(|| home.map(|home| home.join(".pgpass")));
        // As libpq: a socket connection matches the host name `localhost`.
        let match_host = match config.get_hosts().first() {
            Some(Host::Unix(_)) | None => "localhost".to_string(),
            Some(Host::Tcp(host)) => host.clone(),
        };
        if let Some(password) = env("PGPASSWORD").filter(|password| !password.is_empty()) {
            config.password(password);
        } else if let Some(file) = file
            && private_file(&file)
            && let Ok(text) = std::fs::read_to_string(&file)
            && let Some(password) =
                pgpass_lookup(&text, &match_host, &port.to_string(), &database, &user)
        {
            config.password(password);
        }
    }
    let shown =
        format!("postgres://{user}@{host}:{port}/{database} (schema `{schema}`, state `{name}`)");
    Ok(PgLocation {
        config,
        schema,
        name: name.to_string(),
        shown,
    })
}

fn ssl_mode(text: &str) -> Option<SslMode> {
    match text {
        "disable" => Some(SslMode::Disable),
        "allow" | "prefer" => Some(SslMode::Prefer),
        // rustls always verifies the server's certificate chain against the platform's roots,
        // so `require` is at least as strict as libpq's verify-full (docs/state-store.md).
        "require" | "verify-ca" | "verify-full" => Some(SslMode::Require),
        _ => None,
    }
}

/// libpq ignores a password file others can read; so do we.
fn private_file(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o077 == 0)
    }
    #[cfg(not(unix))]
    {
        path.exists()
    }
}

pub(crate) fn valid_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && text.len() <= 63
}

/// The password for the first line of a `.pgpass` whose fields match (`*` matches anything,
/// `\:` and `\\` are escapes), as libpq reads it.
pub fn pgpass_lookup(
    text: &str,
    host: &str,
    port: &str,
    database: &str,
    user: &str,
) -> Option<String> {
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::with_capacity(5);
        let mut field = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(next) = chars.next() {
                        field.push(next);
                    }
                }
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut field)),
                c => field.push(c),
            }
        }
        fields.push(field);
        if fields.len() != 5 {
            continue;
        }
        let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        if matches(&fields[0], host)
            && matches(&fields[1], port)
            && matches(&fields[2], database)
            && matches(&fields[3], user)
        {
            return Some(fields.swap_remove(4));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_socket_directory_and_port_in_the_query_and_our_schema_are_understood() {
        let location = parse(
            "postgresql://alice@/team?host=/tmp/pg%20dir&port=5544&schema=ops_state",
            "incident",
            &no_env,
            None,
        )
        .unwrap();
        assert_eq!(location.schema, "ops_state");
        assert_eq!(
            location.config.get_hosts(),
            &[Host::Unix(PathBuf::from("/tmp/pg dir"))]
        );
        assert_eq!(location.config.get_ports(), &[5544]);
        assert_eq!(location.config.get_dbname(), Some("team"));
        assert!(location.shown.contains("state `incident`"));
    }

    #[test]
    fn pg_environment_and_the_password_file_fill_in_what_the_url_leaves_out() {
        let dir = tempfile::tempdir().unwrap();
        let pgpass = dir.path().join(".pgpass");
        std::fs::write(
            &pgpass,
            "# comment\nother:*:*:*:nope\ndb.example:6543:*:bob:s\\:cret\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let env = |key: &str| match key {
            "PGHOST" => Some("db.example".to_string()),
            "PGPORT" => Some("6543".to_string()),
            "PGUSER" => Some("bob".to_string()),
            "PGSSLMODE" => Some("disable".to_string()),
            _ => None,
        };
        let location = parse("postgres://", "s", &env, Some(dir.path())).unwrap();
        assert_eq!(location.config.get_password(), Some(&b"s:cret"[..]));
        assert_eq!(location.config.get_dbname(), Some("bob"));
        assert_eq!(location.config.get_ssl_mode(), SslMode::Disable);
        assert!(!location.shown.contains("cret"));
        assert!(!format!("{location:?}").contains("cret"));
    }

    #[test]
    fn a_bad_url_is_named_without_its_password() {
        let error = parse(
            "postgres://u:hunter2@host/db?schema=Bad-Name",
            "s",
            &no_env,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("Bad-Name"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        let error = parse(
            "postgres://u:hunter2@host/db?nonsense=1",
            "s",
            &no_env,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(!error.contains("hunter2"), "{error}");
    }
}

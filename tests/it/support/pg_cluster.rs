//! A throwaway PostgreSQL 15 cluster for a test: `initdb` in a temp dir, `pg_ctl start` on a
//! unix socket only (no TCP), stopped when dropped. As root (initdb refuses root) the
//! cluster runs as the `postgres` user through `runuser`. Anything that keeps it from
//! starting fails the test loudly: these tests never skip.

use std::path::PathBuf;
use std::process::Command;

pub(crate) const BIN: &str = "/usr/lib/postgresql/15/bin";

pub(crate) struct PgCluster {
    dir: tempfile::TempDir,
    as_postgres: bool,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

impl PgCluster {
    pub(crate) fn start() -> PgCluster {
        let dir = tempfile::Builder::new()
            .prefix("edas-pg-")
            .tempdir()
            .expect("a temp dir for the PostgreSQL cluster");
        let as_postgres = is_root();
        std::fs::create_dir(dir.path().join("sock")).unwrap();
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(status.success(), "cannot chown the cluster dir to postgres");
        }
        let cluster = PgCluster { dir, as_postgres };
        let initdb = cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data().display().to_string(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            initdb.status.success(),
            "PostgreSQL initdb failed (is the postgresql package installed in {BIN}?):\n{}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        cluster.pg_ctl_start();
        cluster
    }

    fn run(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let program = format!("{BIN}/{tool}");
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--", &program]);
            command
        } else {
            Command::new(&program)
        };
        command.args(args).env_remove("PGDATA");
        command
            .output()
            .unwrap_or_else(|error| panic!("cannot run {program}: {error}"))
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub(crate) fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-k {} -c listen_addresses='' -p 5432 -c max_connections=100",
            self.socket_dir().display()
        );
        let log = self.dir.path().join("log");
        let output = self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-o",
                &options,
                "-l",
                &log.display().to_string(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        assert!(
            output.status.success(),
            "PostgreSQL did not start:\n{}\n{}\nlog:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// `postgresql://postgres@/postgres?host=<socket dir>`; `extra` is appended to the query.
    pub(crate) fn url(&self, extra: &str) -> String {
        let mut url = format!(
            "postgresql://postgres@/postgres?host={}&port=5432",
            self.socket_dir().display()
        );
        if !extra.is_empty() {
            url.push('&');
            url.push_str(extra);
        }
        url
    }

    /// Stops the server at once (`immediate`: sessions cut as in a crash) and starts it again.
    pub(crate) fn restart(&self) {
        self.stop_mode("immediate");
        self.pg_ctl_start();
    }

    fn stop_mode(&self, mode: &str) {
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-m",
                mode,
                "-w",
                "stop",
            ],
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop_mode("fast");
    }
}

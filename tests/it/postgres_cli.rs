//! The PostgreSQL state backend through the real binary, against the simulator and a
//! throwaway PostgreSQL cluster this test starts (it fails, never skips, when PostgreSQL
//! cannot start): two "machines" (separate working directories) sharing one state, and crash
//! torture (kill -9 at random points with 503s and dropped answers, and a database restart in
//! the middle of an apply) after which every change order is aborted exactly once at the
//! server and recorded.

use crate::support;
use crate::support::pg_cluster;

use edas_rollback::sim::{Faults, Latency};
use edas_rollback::state::postgres::{PgStore, location};
use edas_rollback::state::{RecordStatus, State};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::*;

fn open(cluster: &pg_cluster::PgCluster, name: &str) -> PgStore {
    let location = location::parse(&cluster.url(""), name, &|_| None, None).unwrap();
    PgStore::open(&location).unwrap()
}

fn pg_state(cluster: &pg_cluster::PgCluster, name: &str) -> Option<State> {
    open(cluster, name).read().unwrap()
}

fn assert_all_recorded_aborted_once(
    cluster: &pg_cluster::PgCluster,
    name: &str,
    sim: &Sim,
    ids: &[String],
) {
    let state = pg_state(cluster, name).expect("a state in PostgreSQL");
    let commits = sim.commits();
    for id in ids {
        let record = &state.change_orders[&edas_rollback::ids::ChangeOrderId::new(id.as_str())];
        assert_eq!(record.status, RecordStatus::Aborted, "{id}: {record:?}");
        assert_eq!(commits.get(id).copied().unwrap_or(0), 1, "{id}");
    }
    assert_no_duplicates(sim, ids);
    assert_eq!(
        open(cluster, name).journal_rows().unwrap(),
        0,
        "journal folded"
    );
}

#[test]
fn two_machines_share_one_state_and_one_lock() {
    let cluster = pg_cluster::PgCluster::start();
    let sim = Sim::slow(Duration::from_millis(100), 3);
    let url = cluster.url("");
    let laptop = Workspace::new(20).state_at(&url).against(&sim);
    let bastion = Workspace::new(20).state_at(&url).against(&sim);
    let mut first = laptop
        .binary(&["apply", "--auto-approve", "--parallelism", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let watcher = open(&cluster, "edas-rollback");
    wait_until(Duration::from_secs(30), || {
        watcher.journal_rows().unwrap_or(0) > 2
    });
    // The other machine is refused at once, told who holds the lock.
    let started = Instant::now();
    let refused = bastion.apply(&[]).expect(1);
    assert!(started.elapsed() < Duration::from_secs(5));
    let stderr = &refused.stderr;
    assert!(stderr.contains("locked"), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", first.id())), "{stderr}");
    assert!(stderr.contains("operation `apply`"), "{stderr}");
    // With --lock-timeout it waits, then finds everything done by the first.
    let waiting = bastion.spawn(&["apply", "--auto-approve", "--lock-timeout", "60s"]);
    let first_status = first.wait().unwrap();
    assert_eq!(first_status.code(), Some(0));
    let waited = waiting.wait_with_output().unwrap();
    assert_exit(&waited, 0);
    assert!(
        text(&waited.stdout).contains("No changes"),
        "{}",
        describe(&waited)
    );
    assert_all_recorded_aborted_once(&cluster, "edas-rollback", &sim, &laptop.ids);
    // The second machine sees what the first recorded.
    bastion.plan(&["--detailed-exitcode"]).expect(0);
    let list = bastion.run(&["state", "list"]).expect(0);
    for id in &laptop.ids {
        assert!(list.stdout.contains(id.as_str()), "{list}");
    }
}

#[test]
fn kill_9_and_a_database_restart_mid_apply_lose_nothing_and_abort_nothing_twice() {
    let cluster = pg_cluster::PgCluster::start();
    let seed = std::env::var("EDAS_TORTURE_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20_261_130u64);
    let mut rng = fastrand::Rng::with_seed(seed);
    eprintln!("postgres crash torture: seed {seed}");
    let sim = Sim::any_id(
        Faults {
            latency: Latency::Range(Duration::from_millis(5), Duration::from_millis(25)),
            drop_rate: 0.05,
            fail_rate: 0.05,
            ..Faults::default()
        },
        seed,
    );
    let url = cluster.url("");
    let workspace = Workspace::new(80).state_at(&url);
    let endpoint = sim.endpoint();
    let apply = ["apply", "--auto-approve", "--parallelism", "4"];
    let mut kills = 0;
    let mut finished_early = 0;
    while kills < 8 {
        let mut child = workspace
            .command(&endpoint, &apply)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.u64(20_000..400_000)));
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        if output.status.signal() == Some(9) {
            kills += 1;
            assert_no_duplicates(&sim, &workspace.ids);
        } else {
            finished_early += 1;
            if finished_early > 20 {
                break;
            }
        }
    }
    // The database goes away under a running apply: the run starts nothing new, exits 1 and
    // says the lock is lost; the next command folds what was committed.
    let more = Workspace::new(160).state_at(&url).against(&sim);
    let child = more
        .binary(&["apply", "--auto-approve", "--parallelism", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let watcher = open(&cluster, "edas-rollback");
    wait_until(Duration::from_secs(60), || {
        watcher.journal_rows().unwrap_or(0) > 10
    });
    drop(watcher);
    cluster.restart();
    let output = child.wait_with_output().unwrap();
    eprintln!(
        "postgres crash torture: the apply under the database restart exited {:?}",
        output.status.code()
    );
    if output.status.code() != Some(0) {
        assert_exit(&output, 1);
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("connection to PostgreSQL") && stderr.contains("lost"),
            "{stderr}"
        );
    }
    assert_no_duplicates(&sim, &more.ids);
    // Later commands finish the rest: every change order aborted exactly once, recorded.
    let mut rounds = 0;
    loop {
        rounds += 1;
        let output = run(more.binary(&apply));
        if output.status.code() == Some(0) {
            break;
        }
        assert!(rounds < 6, "{}", describe(&output));
    }
    eprintln!("postgres crash torture: {kills} kills, {finished_early} runs finished first");
    assert!(kills >= 3, "too few kills landed: {kills}");
    assert_all_recorded_aborted_once(&cluster, "edas-rollback", &sim, &more.ids);
}

#[test]
fn a_state_moves_between_backends_without_loss_and_push_pull_check_like_terraform() {
    let cluster = pg_cluster::PgCluster::start();
    let sim = Sim::any_id(Faults::default(), 5);
    let endpoint = sim.endpoint();
    let url = cluster.url("");
    let workspace = Workspace::new(12);
    assert_exit(
        &run(workspace.command(&endpoint, &["apply", "--auto-approve"])),
        0,
    );
    let local: State = serde_json::from_value(workspace.state()).unwrap();

    // File → PostgreSQL: lineage, serial and every record.
    let migrated = run(workspace.command(&endpoint, &["state", "migrate", "--to", &url]));
    assert_exit(&migrated, 0);
    assert_eq!(pg_state(&cluster, "edas-rollback").as_ref(), Some(&local));
    // `state pull` prints the local file's JSON.
    let pulled = run(workspace.command(&endpoint, &["--state", &url, "state", "pull"]));
    assert_exit(&pulled, 0);
    let pulled: State = serde_json::from_slice(&pulled.stdout).unwrap();
    assert_eq!(pulled, local);
    // The state in PostgreSQL plans like the file: nothing to do.
    let plan = run(workspace.command(&endpoint, &["--state", &url, "plan", "--detailed-exitcode"]));
    assert_exit(&plan, 0);

    // A target holding another lineage is refused, and keeps what it had.
    let other = Workspace::new(3);
    let other_sim = Sim::any_id(Faults::default(), 6);
    assert_exit(
        &run(other.command(&other_sim.endpoint(), &["apply", "--auto-approve"])),
        0,
    );
    let refused = run(other.command(&endpoint, &["state", "migrate", "--to", &url]));
    assert_exit(&refused, 1);
    assert!(
        text(&refused.stderr).contains("lineage"),
        "{}",
        describe(&refused)
    );
    assert_eq!(pg_state(&cluster, "edas-rollback").as_ref(), Some(&local));

    // Push: another lineage, an older serial, the same serial with other content: refused.
    let push = |file: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["--state", url.as_str(), "state", "push"];
        let file = file.display().to_string();
        args.push(&file);
        args.extend_from_slice(extra);
        run(workspace.command(&endpoint, &args))
    };
    let refused = push(&other.state_path(), &[]);
    assert_exit(&refused, 1);
    assert!(
        text(&refused.stderr).contains("lineage"),
        "{}",
        describe(&refused)
    );
    let mut older = local.clone();
    older.serial = 0;
    let older_path = workspace.path("older.json");
    std::fs::write(&older_path, serde_json::to_string_pretty(&older).unwrap()).unwrap();
    let refused = push(&older_path, &[]);
    assert_exit(&refused, 1);
    assert!(
        text(&refused.stderr).contains("older"),
        "{}",
        describe(&refused)
    );
    let mut edited = local.clone();
    edited.change_orders.pop_first();
    let edited_path = workspace.path("edited.json");
    std::fs::write(&edited_path, serde_json::to_string_pretty(&edited).unwrap()).unwrap();
    assert_exit(&push(&edited_path, &[]), 1);
    assert_eq!(pg_state(&cluster, "edas-rollback").as_ref(), Some(&local));
    // A newer serial of the same lineage replaces it, keeping its serial.
    edited.serial = local.serial + 3;
    std::fs::write(&edited_path, serde_json::to_string_pretty(&edited).unwrap()).unwrap();
    assert_exit(&push(&edited_path, &[]), 0);
    let now = pg_state(&cluster, "edas-rollback").unwrap();
    assert_eq!(now.serial, local.serial + 3);
    assert_eq!(now.change_orders, edited.change_orders);

    // PostgreSQL → file, into a fresh path.
    let back = workspace.path("back.state.json");
    let moved = run(workspace.command(
        &endpoint,
        &[
            "--state",
            &url,
            "state",
            "migrate",
            "--to",
            &back.display().to_string(),
        ],
    ));
    assert_exit(&moved, 0);
    let back: State = serde_json::from_str(&std::fs::read_to_string(&back).unwrap()).unwrap();
    assert_eq!(back, now);
}

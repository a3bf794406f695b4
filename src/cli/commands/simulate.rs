//! `simulate`: runs the EDAS simulator in the foreground until Ctrl-C or SIGTERM. The first
//! stdout line is `listening on http://ADDR`, so scripts can read the endpoint; the secret
//! and token are never printed.

use crate::cli::args::{GlobalArgs, SimulateArgs};
use crate::cli::exit;
use crate::sim::{ChangeOrderListFormat, Faults, SimConfig, Simulator, parse_change_order_list};
use anyhow::Context as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;

pub(crate) fn run(_global: &GlobalArgs, args: &SimulateArgs) -> anyhow::Result<u8> {
    let listen: SocketAddr = args.listen.parse().with_context(|| {
        format!(
            "`--listen {}` is not an address like `127.0.0.1:8080`",
            args.listen
        )
    })?;
    let change_orders = match &args.change_orders {
        Some(path) => read_change_orders(path)?,
        None => Vec::new(),
    };
    let config = SimConfig {
        access_key_id: args.access_key_id.clone(),
        access_key_secret: args.access_key_secret.clone(),
        security_token: args.security_token.clone(),
        change_orders,
        any_id: args.any_id,
        faults: Faults {
            latency: args.latency,
            requests_per_second: args.requests_per_second,
            retry_after: args.retry_after,
            fail_rate: args.fail_rate,
            drop_rate: args.drop_rate,
            scripted: Default::default(),
        },
        seed: args.seed,
        rollback_duration: args.rollback_duration,
        denied: None,
        ecs_change_orders: Default::default(),
        abort_delay: Default::default(),
        applications: Vec::new(),
    };
    let declared = config.change_orders.len();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let simulator = Simulator::start(listen, config)
            .await
            .context("cannot start the simulator")?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", simulator.endpoint())?;
        stdout.flush()?;
        drop(stdout);
        eprintln!(
            "simulating EDAS with {declared} change orders{}; access key id `{}`; stats at {}{}; \
             Ctrl-C stops",
            if args.any_id { " (any id exists)" } else { "" },
            args.access_key_id,
            simulator.endpoint(),
            crate::sim::STATS_PATH,
        );
        wait_for_stop_signal().await?;
        let stats = simulator.stats();
        simulator.shutdown().await;
        let totals = stats.totals;
        eprintln!(
            "stopped: {} requests, {} aborts committed, {} signature failures, {} throttled, \
             {} unavailable, {} dropped",
            totals.requests,
            totals.aborts_committed,
            totals.signature_failures,
            totals.throttled,
            totals.unavailable,
            totals.dropped,
        );
        Ok(exit::OK)
    })
}

fn read_change_orders(path: &Path) -> anyhow::Result<Vec<(crate::ids::ChangeOrderId, i32)>> {
    let text = crate::cli::limits::read_bounded_text(
        path,
        crate::cli::limits::MAX_CONFIG_BYTES,
        "change order list",
    )?;
    let format = match path.extension().and_then(|extension| extension.to_str()) {
        Some("yaml" | "yml") => ChangeOrderListFormat::Yaml,
        _ => ChangeOrderListFormat::Lines,
    };
    parse_change_order_list(&text, format)
        .with_context(|| format!("cannot read the change order list `{}`", path.display()))
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")?;
    Ok(())
}

//! Stopping a run by signal. SIGINT (Ctrl-C), SIGTERM (CI cancellation: GitLab sends it, GitHub
//! sends SIGINT then SIGTERM) and SIGHUP (a dropped SSH session) all mean the same: the first one
//! starts nothing new, lets the requests in flight finish and be journaled, saves the state and
//! exits 130 (the "interrupted" exit of docs/CONTRACT.md, "Commands", whichever signal it was, so
//! CI sees one code); a second one of any of them exits 130 at once, since the journal already
//! holds every intent that was sent. See docs/APPLY.md ("Stopping").

use crate::apply::CancelToken;
use crate::cli::exit;
use std::sync::OnceLock;

/// The name of the first stop signal received by this process, for the messages that say
/// why the run stopped.
static RECEIVED: OnceLock<&'static str> = OnceLock::new();

/// The first stop signal received (`"SIGTERM"`), or `None` before any.
pub(crate) fn received() -> Option<&'static str> {
    RECEIVED.get().copied()
}

/// Watches for SIGINT, SIGTERM and SIGHUP from now on and cancels `cancel` on the first.
/// Must be called inside a tokio runtime. The handlers are registered before this returns,
/// so a signal that arrives at any later instant is caught rather than killing the process.
#[allow(
    clippy::disallowed_methods,
    reason = "a second signal ends the process at once, by design (docs/APPLY.md, Stopping)"
)]
pub(crate) fn install_stop_handler(cancel: CancelToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let streams = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        );
        if let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = streams {
            tokio::spawn(async move {
                let mut next = async || {
                    tokio::select! {
                        Some(()) = interrupt.recv() => "SIGINT",
                        Some(()) = terminate.recv() => "SIGTERM",
                        Some(()) = hangup.recv() => "SIGHUP",
                        else => "a signal",
                    }
                };
                let first = next().await;
                let _ = RECEIVED.set(first);
                cancel.cancel();
                next().await;
                // Lines held for their records' sync would be lost by the exit.
                crate::cli::batched_stdout::write_all_pending();
                std::process::exit(i32::from(exit::INTERRUPTED));
            });
            return;
        }
    }
    // No Unix signals (or they could not be registered): Ctrl-C as before.
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        let _ = RECEIVED.set("SIGINT");
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            crate::cli::batched_stdout::write_all_pending();
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
    });
}

/// How a person reads the stop: "Ctrl-C" for SIGINT, the signal's name otherwise.
pub(crate) fn stop_reason() -> &'static str {
    match received() {
        Some("SIGINT") | None => "Ctrl-C",
        Some(name) => name,
    }
}

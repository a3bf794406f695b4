//! [`CredentialsProvider`]: the credentials every request is signed with, valid at the moment
//! it is signed. Static keys are handed out as they are. Temporary ones are fetched again when
//! 3 minutes or less remain ([`REFRESH_BEFORE`]), by the first request that notices; requests
//! meanwhile wait for that one fetch rather than start their own. A failed refresh is an error
//! for the request (the run treats it as fatal) rather than a request signed with expired keys.
//!
//! The fast path (credentials not near expiry) is one read lock and one clock reading. The
//! clock is injected ([`ProviderClock`]) so that tests run the expiry on a paused tokio clock.

use super::chain::ChainOutcome;
use super::fetch::{self, Fetched};
use super::source::{Origin, Resolved, Source};
use super::{Credentials, CredentialsError, ENV_ECS_METADATA_DISABLED, PlaceLookedAt};
use crate::transport::ProxySettings;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// Temporary credentials are renewed when this much or less of their life remains.
pub const REFRESH_BEFORE: Duration = Duration::from_secs(3 * 60);

/// Wall-clock time, for comparing with an `Expiration`.
pub trait ProviderClock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemProviderClock;

impl ProviderClock for SystemProviderClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Wall-clock time that moves with tokio's clock (paused and advanced in tests): `base` plus
/// the tokio time elapsed since creation.
#[derive(Clone, Copy, Debug)]
pub struct TokioProviderClock {
    base: SystemTime,
    start: tokio::time::Instant,
}

impl TokioProviderClock {
    pub fn starting_at(base: SystemTime) -> Self {
        Self {
            base,
            start: tokio::time::Instant::now(),
        }
    }
}

impl ProviderClock for TokioProviderClock {
    fn now(&self) -> SystemTime {
        self.base + self.start.elapsed()
    }
}

/// The future a fetch returns.
pub type FetchFuture = Pin<Box<dyn Future<Output = Result<Fetched, String>> + Send>>;
/// Fetches fresh credentials; the argument is the clock's now.
pub type Fetcher = Box<dyn Fn(SystemTime) -> FetchFuture + Send + Sync>;

struct Current {
    credentials: Arc<Credentials>,
    expiration: Option<SystemTime>,
}

struct Inner {
    resolved: Resolved,
    clock: Arc<dyn ProviderClock>,
    current: RwLock<Current>,
    /// Held by the one request that refreshes.
    refreshing: tokio::sync::Mutex<()>,
    fetcher: Option<Fetcher>,
    refreshes: std::sync::atomic::AtomicU64,
}

/// Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct CredentialsProvider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CredentialsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsProvider")
            .field("origin", &self.inner.resolved.origin)
            .field("provider", &self.inner.resolved.provider_name())
            .finish_non_exhaustive()
    }
}

impl From<Credentials> for CredentialsProvider {
    /// Fixed credentials (the rehearsal's simulator keys, tests): never refreshed.
    fn from(credentials: Credentials) -> Self {
        let resolved = Resolved {
            origin: Origin::Given,
            source: Source::Static(credentials.clone()),
        };
        Self::new(
            resolved,
            Fetched {
                credentials,
                expiration: None,
            },
            Arc::new(SystemProviderClock),
            None,
        )
    }
}

fn network_fetcher(source: Source, proxy: ProxySettings) -> Fetcher {
    let source = Arc::new((source, proxy));
    Box::new(move |now| {
        let source = source.clone();
        Box::pin(async move { fetch::fetch(&source.0, now, &source.1).await })
    })
}

impl CredentialsProvider {
    /// A provider holding `first`, refreshed by `fetcher` (`None`: never refreshed).
    pub fn new(
        resolved: Resolved,
        first: Fetched,
        clock: Arc<dyn ProviderClock>,
        fetcher: Option<Fetcher>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                resolved,
                clock,
                current: RwLock::new(Current {
                    credentials: Arc::new(first.credentials),
                    expiration: first.expiration,
                }),
                refreshing: tokio::sync::Mutex::new(()),
                fetcher,
                refreshes: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// Fetches the first credentials of the source the chain picked (asking the metadata
    /// service and the credentials URI when nothing local was configured). Requests to STS,
    /// the metadata service and a credentials URI go through the proxy `proxy` names.
    pub async fn from_chain(
        outcome: ChainOutcome,
        clock: Arc<dyn ProviderClock>,
        proxy: &ProxySettings,
    ) -> Result<Self, CredentialsError> {
        match outcome {
            ChainOutcome::Found(resolved) => Self::start(resolved, clock, proxy).await,
            ChainOutcome::Remote {
                ecs,
                uri,
                mut looked_at,
            } => {
                if let Some(ecs) = ecs {
                    let source = Source::EcsRamRole(ecs.clone());
                    match fetch::fetch(&source, clock.now(), proxy).await {
                        Ok(first) => {
                            let resolved = Resolved {
                                origin: Origin::EcsMetadata,
                                source: source.clone(),
                            };
                            return Ok(Self::new(
                                resolved,
                                first,
                                clock,
                                Some(network_fetcher(source, proxy.clone())),
                            ));
                        }
                        Err(reason) => looked_at.push(PlaceLookedAt {
                            place: format!("the ECS instance RAM role at {}", ecs.endpoint),
                            found: reason,
                            fix: format!(
                                "on ECS, attach a RAM role to the instance; elsewhere set `{ENV_ECS_METADATA_DISABLED}=true` to skip this"
                            ),
                        }),
                    }
                }
                match uri {
                    Some(uri) => {
                        let resolved = Resolved {
                            origin: Origin::CredentialsUriEnvironment,
                            source: Source::CredentialsUri(uri),
                        };
                        Self::start(resolved, clock, proxy).await
                    }
                    None => {
                        looked_at.push(PlaceLookedAt {
                            place: format!("`{}`", super::ENV_CREDENTIALS_URI),
                            found: "not set".to_string(),
                            fix: "set it to a URL that serves credentials".to_string(),
                        });
                        Err(CredentialsError::NotFound { looked_at })
                    }
                }
            }
        }
    }

    async fn start(
        resolved: Resolved,
        clock: Arc<dyn ProviderClock>,
        proxy: &ProxySettings,
    ) -> Result<Self, CredentialsError> {
        let first = fetch::fetch(&resolved.source, clock.now(), proxy)
            .await
            .map_err(|reason| CredentialsError::Fetch {
                origin: resolved.origin.describe(),
                reason,
            })?;
        let fetcher = (!resolved.source.is_static())
            .then(|| network_fetcher(resolved.source.clone(), proxy.clone()));
        Ok(Self::new(resolved, first, clock, fetcher))
    }

    pub fn resolved(&self) -> &Resolved {
        &self.inner.resolved
    }

    /// When the credentials in hand expire (`None`: they do not).
    pub fn expiration(&self) -> Option<SystemTime> {
        self.read().expiration
    }

    /// How many times the credentials were renewed.
    pub fn refreshes(&self) -> u64 {
        self.inner
            .refreshes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        // A poisoned lock only means a panic elsewhere while writing two plain fields.
        self.inner
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The credentials when they have more than [`REFRESH_BEFORE`] left (or never expire).
    fn fresh(&self) -> Option<Arc<Credentials>> {
        let current = self.read();
        match current.expiration {
            None => Some(current.credentials.clone()),
            Some(expiration) if self.inner.clock.now() + REFRESH_BEFORE < expiration => {
                Some(current.credentials.clone())
            }
            Some(_) => None,
        }
    }

    /// The credentials to sign a request with now.
    pub async fn current(&self) -> Result<Arc<Credentials>, CredentialsError> {
        if let Some(credentials) = self.fresh() {
            return Ok(credentials);
        }
        let Some(fetcher) = &self.inner.fetcher else {
            // Fixed credentials with an expiry: nothing can renew them; hand them out and
            // let the service say when they are no longer good.
            return Ok(self.read().credentials.clone());
        };
        let _one_at_a_time = self.inner.refreshing.lock().await;
        if let Some(credentials) = self.fresh() {
            return Ok(credentials);
        }
        let fetched =
            fetcher(self.inner.clock.now())
                .await
                .map_err(|reason| CredentialsError::Refresh {
                    origin: self.inner.resolved.origin.describe(),
                    reason,
                })?;
        let credentials = Arc::new(fetched.credentials);
        {
            let mut current = self
                .inner
                .current
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            current.credentials = credentials.clone();
            current.expiration = fetched.expiration;
        }
        self.inner
            .refreshes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(
            origin = %self.inner.resolved.origin.describe(),
            access_key_id = %credentials.access_key_id,
            "temporary credentials refreshed"
        );
        Ok(credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edas::secret::Secret;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn t0() -> SystemTime {
        humantime::parse_rfc3339("2026-11-30T12:00:00Z").unwrap()
    }

    /// A fetcher handing out `STS.<n>` valid for `life`, counting calls; it fails from call
    /// `fail_from` on.
    fn counting(life: Duration, fail_from: u32) -> (Fetcher, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let fetcher: Fetcher = Box::new(move |now| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Box::pin(async move {
                // A fetch takes a moment (STS round trip) on the paused clock too.
                tokio::time::sleep(Duration::from_millis(200)).await;
                if n >= fail_from {
                    return Err("STS answered HTTP 503".to_string());
                }
                Ok(Fetched {
                    credentials: Credentials::new(format!("STS.{n}"), Secret::new("s"))
                        .with_security_token(Secret::new("t")),
                    expiration: Some(now + life),
                })
            })
        });
        (fetcher, calls)
    }

    fn provider(
        clock: TokioProviderClock,
        fetcher: Fetcher,
        life: Duration,
    ) -> CredentialsProvider {
        CredentialsProvider::new(
            Resolved {
                origin: Origin::OidcEnvironment,
                source: Source::CredentialsUri("test".into()),
            },
            Fetched {
                credentials: Credentials::new("STS.0", Secret::new("s"))
                    .with_security_token(Secret::new("t")),
                expiration: Some(clock.now() + life),
            },
            Arc::new(clock),
            Some(fetcher),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn credentials_are_renewed_when_three_minutes_remain_and_not_before() {
        let clock = TokioProviderClock::starting_at(t0());
        let life = Duration::from_secs(15 * 60);
        let (fetcher, calls) = counting(life, u32::MAX);
        let provider = provider(clock, fetcher, life);

        assert_eq!(provider.current().await.unwrap().access_key_id, "STS.0");
        // 11 min 59 s in: 3 min 1 s remain, still fresh.
        tokio::time::advance(Duration::from_secs(12 * 60 - 1)).await;
        assert_eq!(provider.current().await.unwrap().access_key_id, "STS.0");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        // 12 min in: exactly 3 min remain: renewed.
        tokio::time::advance(Duration::from_secs(1)).await;
        let renewed = provider.current().await.unwrap();
        assert_eq!(renewed.access_key_id, "STS.1");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // The renewed ones expire 15 min after their fetch.
        let expiration = provider.expiration().unwrap();
        let remaining = expiration.duration_since(clock.now()).unwrap();
        assert!(remaining > Duration::from_secs(14 * 60), "{remaining:?}");
        assert_eq!(provider.refreshes(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_run_signs_every_request_with_credentials_valid_at_that_moment() {
        let clock = TokioProviderClock::starting_at(t0());
        let life = Duration::from_secs(15 * 60);
        let (fetcher, calls) = counting(life, u32::MAX);
        let provider = provider(clock, fetcher, life);
        // 16 "workers" signing a request every 7 s for 2 hours: eight sessions' worth.
        let mut workers = Vec::new();
        for _ in 0..16 {
            let provider = provider.clone();
            workers.push(tokio::spawn(async move {
                let mut used = Vec::new();
                for _ in 0..(2 * 3600 / 7) {
                    let credentials = provider.current().await.unwrap();
                    let signed_at = clock.now();
                    let expiration = provider.expiration().unwrap();
                    used.push((credentials.access_key_id.clone(), signed_at, expiration));
                    tokio::time::sleep(Duration::from_secs(7)).await;
                }
                used
            }));
        }
        let mut ids = std::collections::BTreeSet::new();
        for worker in workers {
            for (id, signed_at, expiration) in worker.await.unwrap() {
                assert!(signed_at < expiration, "{id} used after it expired");
                ids.insert(id);
            }
        }
        // One fetch per session, however many requests noticed at once.
        let fetches = calls.load(Ordering::SeqCst);
        assert!((9..=11).contains(&fetches), "{fetches} fetches");
        assert_eq!(ids.len() as u32, fetches + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_refresh_is_an_error_naming_the_source_not_a_stale_signature() {
        let clock = TokioProviderClock::starting_at(t0());
        let life = Duration::from_secs(15 * 60);
        let (fetcher, _) = counting(life, 1);
        let provider = provider(clock, fetcher, life);
        assert!(provider.current().await.is_ok());
        tokio::time::advance(Duration::from_secs(13 * 60)).await;
        let error = provider.current().await.unwrap_err().to_string();
        assert!(
            error.starts_with("cannot refresh the temporary credentials from OIDC"),
            "{error}"
        );
        assert!(error.contains("STS answered HTTP 503"), "{error}");
    }

    #[tokio::test]
    async fn fixed_credentials_are_handed_out_as_they_are() {
        let provider = CredentialsProvider::from(Credentials::new("AKID", Secret::new("s")));
        assert_eq!(provider.current().await.unwrap().access_key_id, "AKID");
        assert_eq!(provider.expiration(), None);
        assert!(!format!("{provider:?}").contains("Secret"));
    }
}

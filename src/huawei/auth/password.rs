//! `password`: a token from an IAM login, cached and shared by all projects of the account,
//! refreshed an hour before it expires, and renewed once when the API rejects it.

use super::*;

pub(crate) struct PasswordSession {
    pub(super) login: PasswordLogin,
    /// Held during a login, so concurrent polls of one account wait for one login.
    pub(super) cache: Mutex<TokenCache>,
    pub(super) generations: AtomicU64,
}

pub(super) enum TokenCache {
    Empty,
    Valid {
        token: Secret,
        refresh_at: DateTime<Utc>,
        generation: u64,
    },
    /// IAM refused the credentials; the same answer is given until `retry_at`.
    Rejected {
        error: LoginError,
        retry_at: DateTime<Utc>,
    },
}

impl PasswordSession {
    /// The cached token, or a fresh one from IAM.
    pub(super) async fn token(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
        policy: &Backoff,
    ) -> Result<(Secret, u64), LoginError> {
        let mut cache = self.cache.lock().await;
        let now = Utc::now();
        match &*cache {
            TokenCache::Valid {
                token,
                refresh_at,
                generation,
            } if now < *refresh_at => return Ok((token.clone(), *generation)),
            TokenCache::Rejected { error, retry_at } if now < *retry_at => {
                return Err(error.clone())
            }
            _ => {}
        }
        match self.login.login(http, timeout, policy).await {
            Ok(IssuedToken { token, expires_at }) => {
                let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
                let refresh_at = refresh_time(Utc::now(), expires_at);
                tracing::debug!(
                    event = "iam.logged_in",
                    user = %self.login.user,
                    domain = %self.login.domain,
                    expires_at = %expires_at.to_rfc3339(),
                    "logged in to IAM"
                );
                *cache = TokenCache::Valid {
                    token: token.clone(),
                    refresh_at,
                    generation,
                };
                Ok((token, generation))
            }
            Err(error) => {
                *cache = if error.is_rejection() {
                    TokenCache::Rejected {
                        error: error.clone(),
                        retry_at: Utc::now() + LOGIN_REJECTION_HOLD,
                    }
                } else {
                    TokenCache::Empty
                };
                Err(error)
            }
        }
    }

    /// Drops the cached token if it is still the one of `generation` (another poll may
    /// already have replaced it: then that new token is kept, and no second login happens).
    pub(super) async fn forget(&self, generation: u64) {
        let mut cache = self.cache.lock().await;
        if matches!(&*cache, TokenCache::Valid { generation: g, .. } if *g == generation) {
            *cache = TokenCache::Empty;
        }
    }
}

/// When to replace a token issued `now` that expires at `expires_at`: an hour before expiry,
/// or halfway through its life when it lives less than two hours.
pub(super) fn refresh_time(now: DateTime<Utc>, expires_at: DateTime<Utc>) -> DateTime<Utc> {
    let life = expires_at - now;
    let margin = TOKEN_REFRESH_MARGIN.min(life / 2);
    expires_at - margin.max(TimeDelta::zero())
}

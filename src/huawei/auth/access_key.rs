//! `aksk`: every request signed with `SDK-HMAC-SHA256`, with `X-Domain-Id` for global
//! services (configured, or looked up once from IAM and cached).

use super::*;

pub(crate) struct AccessKey {
    pub(super) ak: String,
    pub(super) sk: Secret,
    pub(super) security_token: Option<Secret>,
    /// Sent as `X-Project-Id` (regional services).
    pub(super) project_id: Option<String>,
    /// Sent as `X-Domain-Id` (global services).
    pub(super) domain: Option<DomainId>,
}

/// Where a global service's `X-Domain-Id` comes from.
pub(super) enum DomainId {
    Configured(String),
    /// Looked up from IAM at the first request, then kept for the life of the source.
    Lookup {
        url: Url,
        found: Mutex<Option<String>>,
    },
}

/// What of a request the signature covers.
pub(super) struct SignedRequest<'a> {
    pub(super) method: &'a str,
    pub(super) url: &'a Url,
    pub(super) body: &'a [u8],
    pub(super) content_type: Option<&'a str>,
    pub(super) domain_id: Option<&'a str>,
}

impl AccessKey {
    /// The `X-Domain-Id` to send: configured, cached, or looked up from IAM now (one lookup at
    /// a time; concurrent requests wait for it). `None` for a regional service.
    pub(super) async fn domain_id(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
        policy: &Backoff,
    ) -> Result<Option<String>, CredentialsError> {
        match &self.domain {
            None => Ok(None),
            Some(DomainId::Configured(id)) => Ok(Some(id.clone())),
            Some(DomainId::Lookup { url, found }) => {
                let mut found = found.lock().await;
                if let Some(id) = &*found {
                    return Ok(Some(id.clone()));
                }
                let id = self.look_up_domain_id(http, timeout, policy, url).await?;
                tracing::debug!(
                    event = "iam.domain_id_found",
                    domain_id = %id,
                    "looked up the account's domain id"
                );
                *found = Some(id.clone());
                Ok(Some(id))
            }
        }
    }

    /// `GET /v3/auth/domains`, signed like any request (without `X-Domain-Id`), retrying
    /// transient failures; the first domain's `id`.
    pub(super) async fn look_up_domain_id(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
        policy: &Backoff,
        url: &Url,
    ) -> Result<String, DomainLookupError> {
        let mut failed = 0;
        loop {
            let request = SignedRequest {
                method: "GET",
                url,
                body: b"",
                content_type: None,
                domain_id: None,
            };
            let credentials = self
                .sign(&request, Utc::now())
                .map_err(|e| DomainLookupError {
                    http_status: None,
                    code: None,
                    reason: e.to_string(),
                    request_id: None,
                })?;
            let mut builder = http
                .get(url.clone())
                .timeout(timeout)
                .header(reqwest::header::ACCEPT, "application/json");
            for (name, value) in credentials.headers {
                builder = builder.header(name, value);
            }
            let (error, retry_after) = match builder.send().await {
                Ok(mut response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    match crate::capped::read(&mut response, MAX_DOMAINS_BYTES).await {
                        Ok(body) if status.is_success() && !body.too_large => {
                            return read_domains(&body.bytes).ok_or_else(|| DomainLookupError {
                                http_status: Some(status.as_u16()),
                                code: None,
                                reason: "IAM listed no domain with an id".into(),
                                request_id: crate::huawei::gateway::request_id_header(&headers),
                            });
                        }
                        Ok(body) => {
                            let error = lookup_rejection(status.as_u16(), &headers, &body.bytes);
                            if !crate::huawei::retry::is_transient(status) {
                                return Err(error);
                            }
                            (error, crate::huawei::retry::retry_after(&headers))
                        }
                        Err(e) => (
                            DomainLookupError {
                                http_status: Some(status.as_u16()),
                                code: None,
                                reason: crate::huawei::error::transport_reason(&e),
                                request_id: None,
                            },
                            None,
                        ),
                    }
                }
                Err(e) => (
                    DomainLookupError {
                        http_status: None,
                        code: None,
                        reason: crate::huawei::error::transport_reason(&e),
                        request_id: None,
                    },
                    None,
                ),
            };
            failed += 1;
            if !policy.allows_retry(failed) {
                return Err(error);
            }
            tokio::time::sleep(policy.delay_or_capped(failed, retry_after)).await;
        }
    }

    /// Signs a request made `at`: `Host`, `X-Sdk-Date` and, when set, `Content-Type`,
    /// `X-Project-Id`, `X-Domain-Id` and `X-Security-Token` are signed (as the official SDK
    /// does), then `Authorization` is added.
    // Errors are rare and moved once; boxing them would only add noise.
    #[allow(clippy::result_large_err)]
    pub(super) fn sign(
        &self,
        request: &SignedRequest<'_>,
        at: DateTime<Utc>,
    ) -> Result<Credentials, CredentialsError> {
        let SignedRequest {
            method,
            url,
            body,
            content_type,
            domain_id,
        } = *request;
        let mut signed: Vec<(String, String)> = vec![
            (HOST.as_str().to_string(), host_header(url)),
            (signer::HEADER_SDK_DATE.to_string(), signer::sdk_date(at)),
        ];
        if let Some(content_type) = content_type {
            signed.push((
                reqwest::header::CONTENT_TYPE.as_str().to_string(),
                content_type.to_string(),
            ));
        }
        if let Some(project_id) = &self.project_id {
            signed.push((PROJECT_ID_HEADER.to_string(), project_id.clone()));
        }
        if let Some(domain_id) = domain_id {
            signed.push((DOMAIN_ID_HEADER.to_string(), domain_id.to_string()));
        }
        if let Some(token) = &self.security_token {
            signed.push((
                SECURITY_TOKEN_HEADER.to_string(),
                token.expose().to_string(),
            ));
        }
        let query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let input = signer::SigningInput {
            method,
            path: url.path(),
            query: &query,
            headers: &signed,
            body,
        };
        let signature = signer::sign(&input, &self.ak, self.sk.expose())
            .ok_or(CredentialsError::Header(signer::HEADER_SDK_DATE))?;

        let mut headers = Vec::with_capacity(signed.len() + 1);
        for (name, value) in &signed {
            let header_name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map_err(|_| CredentialsError::Header("signed"))?;
            let header_value = if name == SECURITY_TOKEN_HEADER {
                sensitive_value(value)
            } else {
                HeaderValue::from_str(value).ok()
            };
            headers.push((
                header_name,
                header_value.ok_or(CredentialsError::Header("signed"))?,
            ));
        }
        headers.push((
            AUTHORIZATION,
            sensitive_value(&signature.authorization)
                .ok_or(CredentialsError::Header("Authorization"))?,
        ));
        Ok(Credentials {
            headers,
            token_generation: None,
        })
    }
}

/// The first domain's id in IAM's `{"domains": [{"id", "name"}, …]}`.
pub(super) fn read_domains(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value
        .get("domains")?
        .as_array()?
        .iter()
        .find_map(|d| d.get("id")?.as_str().filter(|id| !id.is_empty()))
        .map(str::to_string)
}

/// An IAM refusal of the lookup, with IAM's code and message when it gave them.
pub(super) fn lookup_rejection(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> DomainLookupError {
    let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |v: &serde_json::Value, name: &str| {
        v.get(name).and_then(|s| s.as_str()).map(str::to_string)
    };
    let (code, message) = match &value {
        Some(v) if v.get("error").is_some_and(|e| e.is_object()) => {
            (None, field(&v["error"], "message"))
        }
        Some(v) => (field(v, "error_code"), field(v, "error_msg")),
        None => (None, None),
    };
    let reason = message.unwrap_or_else(|| {
        let hint = if status == 403 {
            " (the user needs iam:users:getUser, or set auth.domain_id)"
        } else {
            ""
        };
        format!("HTTP {status}{hint}")
    });
    DomainLookupError {
        http_status: Some(status),
        code,
        reason,
        request_id: crate::huawei::gateway::request_id_header(headers),
    }
}

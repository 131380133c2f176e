//! Single sign-on: a person signs in with their company account at the tenant's OpenID
//! Provider (the authorization code flow with PKCE S256, `state` and `nonce`), and the
//! claim the operator chose names the tenant's user. What a session is made of after that
//! is `sessions`' business; the pages and cookies are `http::sso`'s.
//!
//! The provider's discovery document and keys are fetched on first use and kept an hour;
//! an ID token signed with a key not among them makes the sign-in fetch them again (the
//! provider rotated its keys). Only the provider's own token endpoint hands this server ID
//! tokens, so nobody else can make it fetch.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse, reqwest,
};

use crate::store::{SsoProvider, SsoSignIn};

/// How long a sign-in may take, from the sign-in page to the callback.
pub const SIGN_IN_TTL_MS: u64 = 10 * 60 * 1000;
/// Clocks differ: an ID token's `exp` and `iat` are taken with this much slack.
const SKEW: Duration = Duration::from_secs(60);
/// An ID token issued longer ago than this is refused (a code is redeemed at once).
const OLDEST_ISSUE: Duration = Duration::from_secs(10 * 60);
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// What a request to the provider may take: a down provider is a page, not a hang.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Which ID-token claim names the user (its value is the user id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// `email`, when the provider says it verified it (`email_verified: true`).
    Email,
    PreferredUsername,
    /// `sub`: the provider's own id of the person.
    Subject,
}

impl Claim {
    pub const NAMES: [&'static str; 3] = ["email", "preferred_username", "sub"];

    /// Whether the provider's values differ from user ids in letter case only when they
    /// name the same person: addresses and user names, yes; `sub` is exact (OIDC §2).
    pub fn folds_case(self) -> bool {
        !matches!(self, Claim::Subject)
    }

    pub fn parse(name: &str) -> Option<Claim> {
        match name {
            "email" => Some(Claim::Email),
            "preferred_username" => Some(Claim::PreferredUsername),
            "sub" => Some(Claim::Subject),
            _ => None,
        }
    }

    /// The claim's value in verified claims, if the token has it (and may be trusted).
    fn of(self, claims: &CoreIdTokenClaims) -> Option<String> {
        match self {
            // An address the person could have typed in themselves names nobody.
            Claim::Email if claims.email_verified() != Some(true) => None,
            Claim::Email => claims.email().map(|e| e.as_str().to_owned()),
            Claim::PreferredUsername => claims.preferred_username().map(|u| u.as_str().to_owned()),
            Claim::Subject => Some(claims.subject().as_str().to_owned()),
        }
    }
}

/// Checks a provider before it is stored: URLs the flow can use, a claim it knows.
pub fn check_provider(tenant: &str, provider: &SsoProvider) -> Result<(), String> {
    let issuer = url::Url::parse(&provider.issuer).map_err(|e| format!("--issuer {:?}: {e}", provider.issuer))?;
    web_url("--issuer", &issuer)?;
    let redirect = url::Url::parse(&provider.redirect_uri)
        .map_err(|e| format!("--redirect-uri {:?}: {e}", provider.redirect_uri))?;
    web_url("--redirect-uri", &redirect)?;
    let path = format!("/signin/{tenant}/callback");
    if !redirect.path().ends_with(&path) || redirect.query().is_some() || redirect.fragment().is_some() {
        return Err(format!("--redirect-uri must be this server's address ending in {path} (got {redirect})"));
    }
    if Claim::parse(&provider.claim).is_none() {
        return Err(format!("--claim {:?}: one of {}", provider.claim, Claim::NAMES.join(", ")));
    }
    if provider.client_id.trim().is_empty() || provider.client_secret.is_empty() {
        return Err("the client id and secret must not be empty".to_owned());
    }
    let name = provider.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err("--name: 1 to 64 characters, no control characters".to_owned());
    }
    Ok(())
}

/// https, or http to this very machine (a provider for tests and trials).
fn web_url(what: &str, url: &url::Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback(url) => Ok(()),
        _ => Err(format!("{what} must be an https URL (http only to this machine): {url}")),
    }
}

fn loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether this server may ask `url` on behalf of a provider whose issuer is `issuer`:
/// https only — plain http only when the issuer itself is an http provider on this machine
/// (tests, trials), so that a provider's discovery document cannot point this server at
/// plain-http addresses of its own network, nor send the client secret over plain http.
fn may_ask(issuer: &url::Url, url: &url::Url) -> bool {
    url.scheme() == "https"
        || (url.scheme() == "http" && issuer.scheme() == "http" && loopback(issuer) && loopback(url))
}

/// The most a provider's answer may weigh: documents, keys and token responses are a few
/// kilobytes; a provider that sends more is not read further (its memory is the host's).
const MAX_ANSWER: usize = 1 << 20;

/// Why a request to a provider gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum Fetch {
    #[error(transparent)]
    Request(#[from] reqwest::Error),
    #[error("the provider's answer is over {MAX_ANSWER} bytes")]
    TooLarge,
    #[error("this server does not ask {0}: https only")]
    NotHttps(String),
    #[error(transparent)]
    Http(#[from] openidconnect::http::Error),
}

/// A request to a provider under way.
type Fetching = std::pin::Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, Fetch>> + Send>>;

/// One request to a provider, its answer read up to [`MAX_ANSWER`].
async fn fetch(
    http: reqwest::Client,
    issuer: url::Url,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, Fetch> {
    let url = url::Url::parse(&request.uri().to_string()).map_err(|_| Fetch::NotHttps(request.uri().to_string()))?;
    if !may_ask(&issuer, &url) {
        return Err(Fetch::NotHttps(url.to_string()));
    }
    let mut response = http.execute(reqwest::Request::try_from(request)?).await?;
    let mut answer = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(Fetch::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(answer.body(body)?)
}

/// Why a sign-in at the provider did not name a person.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// The provider could not be reached, or did not answer as a provider does.
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    /// The provider refused: the person cancelled, or the code was used or expired.
    #[error("the provider refused: {0}")]
    Refused(String),
    /// The ID token failed a check: signature, issuer, audience, time or nonce.
    #[error("the ID token is not valid: {0}")]
    TokenInvalid(String),
    /// The ID token lacks the claim that names the user.
    #[error("the ID token has no usable `{0}` claim")]
    NoClaim(String),
}

/// A sign-in begun: where to send the browser, and what to keep until it comes back.
#[derive(Debug)]
pub struct Began {
    pub authorize_url: url::Url,
    pub state: String,
    pub sign_in: SsoSignIn,
}

struct Discovered {
    metadata: CoreProviderMetadata,
    fetched: Instant,
}

/// The providers this host talks to, their documents and keys cached by issuer.
pub struct Providers {
    /// The client, or why none could be made (then every sign-in says so).
    http: Result<reqwest::Client, String>,
    cache: Mutex<HashMap<String, Discovered>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers").finish_non_exhaustive()
    }
}

impl Default for Providers {
    fn default() -> Providers {
        let http = reqwest::Client::builder()
            // Following redirects would let a provider point this server anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .connect_timeout(PROVIDER_TIMEOUT / 2)
            .build()
            .map_err(|e| format!("no HTTP client for single sign-on: {e}"));
        Providers { http, cache: Mutex::new(HashMap::new()) }
    }
}

impl Providers {
    /// What asks `issuer`'s provider: [`fetch`], bounded.
    fn asker(&self, issuer: &str) -> Result<impl Fn(openidconnect::HttpRequest) -> Fetching, SsoError> {
        let http = self.http.as_ref().map_err(|e| SsoError::Unreachable(e.clone()))?.clone();
        let issuer = url::Url::parse(issuer).map_err(|e| SsoError::Unreachable(e.to_string()))?;
        Ok(move |request| Box::pin(fetch(http.clone(), issuer.clone(), request)) as Fetching)
    }

    /// Begins a sign-in at `provider` for the browser whose cookie hashes to `browser`.
    pub async fn begin(
        &self,
        tenant: &str,
        provider: &SsoProvider,
        browser: String,
        now: u64,
    ) -> Result<Began, SsoError> {
        let metadata = self.metadata(&provider.issuer, false).await?;
        // The browser goes there: https, never a scheme of the provider's choosing.
        let issuer = url::Url::parse(&provider.issuer).map_err(|e| SsoError::Unreachable(e.to_string()))?;
        if !may_ask(&issuer, metadata.authorization_endpoint().url()) {
            let endpoint = metadata.authorization_endpoint().url();
            return Err(SsoError::Unreachable(format!("the authorization endpoint {endpoint} is not https")));
        }
        let client = client(provider, metadata)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge);
        if let Some(scope) = scope_of(provider) {
            request = request.add_scope(Scope::new(scope.to_owned()));
        }
        let (authorize_url, state, nonce) = request.url();
        let sign_in = SsoSignIn {
            tenant: tenant.to_owned(),
            browser,
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            expires: now + SIGN_IN_TTL_MS,
        };
        Ok(Began { authorize_url, state: state.secret().clone(), sign_in })
    }

    /// Redeems `code` at the provider and checks the ID token it gives; the value of the
    /// claim that names the user.
    pub async fn finish(&self, provider: &SsoProvider, sign_in: &SsoSignIn, code: String) -> Result<String, SsoError> {
        let first = client(provider, self.metadata(&provider.issuer, false).await?)?;
        let request = first
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| SsoError::Unreachable(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(sign_in.verifier.clone()));
        let response = request.request_async(&self.asker(&provider.issuer)?).await.map_err(|e| match e {
            RequestTokenError::ServerResponse(refusal) => SsoError::Refused(refusal.to_string()),
            RequestTokenError::Request(e) => SsoError::Unreachable(chain(&e)),
            // An answer that is no token response — an ID token of the wrong shape among them.
            RequestTokenError::Parse(e, _) => SsoError::TokenInvalid(chain(&e)),
            other => SsoError::Refused(chain(&other)),
        })?;
        let id_token = response.id_token().ok_or_else(|| SsoError::TokenInvalid("no ID token".to_owned()))?;
        let nonce = Nonce::new(sign_in.nonce.clone());
        let claims = match verified(&first, id_token, &nonce) {
            // A signature the keys this host holds do not confirm: the provider may have
            // rotated its keys (under a new key id, or the same one). Fetched again, once.
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                let refetched = client(provider, self.metadata(&provider.issuer, true).await?)?;
                verified(&refetched, id_token, &nonce)
            }
            other => other,
        }
        .map_err(|e| SsoError::TokenInvalid(chain(&e)))?;
        let claim = Claim::parse(&provider.claim).unwrap_or(Claim::Email);
        claim.of(&claims).ok_or_else(|| SsoError::NoClaim(provider.claim.clone()))
    }

    /// The provider's metadata and keys, from the cache unless stale or fetched `again`.
    async fn metadata(&self, issuer: &str, again: bool) -> Result<CoreProviderMetadata, SsoError> {
        if let Ok(cache) = self.cache.lock()
            && let Some(known) = cache.get(issuer)
            && !again
            && known.fetched.elapsed() < DISCOVERY_TTL
        {
            return Ok(known.metadata.clone());
        }
        let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| SsoError::Unreachable(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(url, &self.asker(issuer)?)
            .await
            .map_err(|e| SsoError::Unreachable(chain(&e)))?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(issuer.to_owned(), Discovered { metadata: metadata.clone(), fetched: Instant::now() });
        }
        Ok(metadata)
    }
}

/// The scope asked for beside `openid` (which the crate always adds): what carries the claim.
fn scope_of(provider: &SsoProvider) -> Option<&'static str> {
    match Claim::parse(&provider.claim) {
        Some(Claim::Email) | None => Some("email"),
        Some(Claim::PreferredUsername) => Some("profile"),
        Some(Claim::Subject) => None,
    }
}

type Client = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

fn client(provider: &SsoProvider, metadata: CoreProviderMetadata) -> Result<Client, SsoError> {
    let redirect = RedirectUrl::new(provider.redirect_uri.clone()).map_err(|e| SsoError::Unreachable(e.to_string()))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(provider.client_id.clone()),
        Some(ClientSecret::new(provider.client_secret.clone())),
    )
    .set_redirect_uri(redirect))
}

/// The ID token's claims once signature, issuer, audience, times and nonce hold.
fn verified(
    client: &Client,
    id_token: &openidconnect::core::CoreIdToken,
    nonce: &Nonce,
) -> Result<CoreIdTokenClaims, ClaimsVerificationError> {
    let verifier = client
        .id_token_verifier()
        // Asymmetric signatures only: never `none`, never one made with the client secret.
        .set_allowed_algs([
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
            CoreJwsSigningAlgorithm::RsaSsaPssSha256,
            CoreJwsSigningAlgorithm::RsaSsaPssSha384,
            CoreJwsSigningAlgorithm::RsaSsaPssSha512,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::EcdsaP384Sha384,
        ])
        // `exp` with the slack: "now" is taken that much earlier.
        .set_time_fn(|| chrono::Utc::now() - SKEW)
        .set_issue_time_verifier_fn(|issued| {
            let now = chrono::Utc::now();
            if issued > now + SKEW {
                Err(format!("issued in the future ({issued})"))
            } else if issued < now - OLDEST_ISSUE {
                Err(format!("issued too long ago ({issued})"))
            } else {
                Ok(())
            }
        });
    id_token.claims(&verifier, nonce).cloned()
}

/// An error and its causes on one line (reqwest's own message names only the top).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

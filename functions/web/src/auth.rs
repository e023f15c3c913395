//! Who is asking, and may they: the signed-in user from the ID token in a cookie, the two roles,
//! the CSRF token of state-changing requests, and the sign-in round trip (authorization code with
//! PKCE).
//!
//! The deployed app sits behind a Lambda Function URL with no IAM auth: a browser navigates with
//! plain GETs that carry cookies and never an `Authorization` header, which is all an HTTP API
//! JWT authorizer reads, and the sign-in page and the OAuth callback must answer before anyone is
//! signed in. So the function verifies the Cognito ID token itself ([`verify_id_token`]): its
//! signature against the user pool's keys, issuer, audience (the app client), expiry and
//! `token_use`.

use std::net::SocketAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::future::Future;

/// What a signed-in person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Every page read-only, chat (with ratings) and classify.
    Viewer,
    /// Also upload, approve and reject: members of the approvers group.
    Approver,
}

/// The person behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Their e-mail (or `local`): shown in the bar and written in approval notes.
    pub name: String,
    pub role: Role,
}

impl User {
    pub fn can_change(&self) -> bool {
        self.role == Role::Approver
    }
}

/// Why a request's identity could not be established.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuthError {
    #[error("the sign-in token is not valid: {0}")]
    Invalid(String),
    #[error("the sign-in service could not be reached: {0}")]
    Unavailable(String),
}

/// The ID token's cookie (the `__Host-` prefix binds it to this origin, HTTPS, path `/`).
pub const SESSION_COOKIE: &str = "__Host-hawkins-session";
/// The double-submit CSRF token's cookie.
pub const CSRF_COOKIE: &str = "__Host-hawkins-csrf";
/// The sign-in round trip's state and PKCE verifier, for the callback.
pub const LOGIN_COOKIE: &str = "__Host-hawkins-login";
/// The header the page's script sends the CSRF token in; forms send the `csrf` field.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the app learns who is asking.
pub trait SignIn: Send + Sync + 'static {
    /// The user of a request from its session cookie and, where known, its peer address; `None`
    /// for an anonymous request.
    fn identify(
        &self,
        session: Option<&str>,
        peer: Option<SocketAddr>,
    ) -> impl Future<Output = Result<Option<User>, AuthError>> + Send;
    /// The hosted sign-in page to send a browser to, `None` where there is no sign-in step.
    fn authorize_url(&self, redirect_uri: &str, state: &str, challenge: &str) -> Option<String>;
    /// Trades the callback's code for an ID token.
    fn exchange(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> impl Future<Output = Result<String, AuthError>> + Send;
    /// Where signing out ends, `None` locally.
    fn logout_url(&self, return_to: &str) -> Option<String>;
    /// Whether cookies are `Secure` with the `__Host-` prefix (HTTPS). Off only on loopback.
    fn secure(&self) -> bool;
}

/// The local run's sign-in: every request from a loopback address is the local approver, any
/// other is refused. Only `hawkins local` builds it, and it serves on 127.0.0.1 only.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalSignIn;

impl SignIn for LocalSignIn {
    async fn identify(
        &self,
        _session: Option<&str>,
        peer: Option<SocketAddr>,
    ) -> Result<Option<User>, AuthError> {
        Ok(local_user(peer))
    }

    fn authorize_url(&self, _: &str, _: &str, _: &str) -> Option<String> {
        None
    }

    async fn exchange(&self, _: &str, _: &str, _: &str) -> Result<String, AuthError> {
        Err(AuthError::Invalid("the local app has no sign-in".into()))
    }

    fn logout_url(&self, _: &str) -> Option<String> {
        None
    }

    fn secure(&self) -> bool {
        false
    }
}

/// The local approver for a loopback peer; nobody for any other peer or an unknown one.
pub fn local_user(peer: Option<SocketAddr>) -> Option<User> {
    peer.filter(|p| p.ip().is_loopback()).map(|_| User {
        name: "local".into(),
        role: Role::Approver,
    })
}

/// The user pool and app client an ID token must come from.
#[derive(Debug, Clone, PartialEq)]
pub struct CognitoSettings {
    pub region: String,
    pub user_pool_id: String,
    pub client_id: String,
    /// `https://<prefix>.auth.<region>.amazoncognito.com`.
    pub domain: String,
    /// Members of this group are approvers.
    pub approvers_group: String,
}

impl CognitoSettings {
    pub fn issuer(&self) -> String {
        format!(
            "https://cognito-idp.{}.amazonaws.com/{}",
            self.region, self.user_pool_id
        )
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.issuer())
    }

    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.domain.trim_end_matches('/'))
    }

    /// The hosted sign-in page for the code flow with PKCE (S256).
    pub fn authorize_url(&self, redirect_uri: &str, state: &str, challenge: &str) -> String {
        format!(
            "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid+email+profile&state={}&code_challenge_method=S256&code_challenge={}",
            self.domain.trim_end_matches('/'),
            query(&self.client_id),
            query(redirect_uri),
            query(state),
            query(challenge)
        )
    }

    pub fn logout_url(&self, return_to: &str) -> String {
        format!(
            "{}/logout?client_id={}&logout_uri={}",
            self.domain.trim_end_matches('/'),
            query(&self.client_id),
            query(return_to)
        )
    }

    /// The token request's form body.
    pub fn token_form(&self, code: &str, verifier: &str, redirect_uri: &str) -> String {
        format!(
            "grant_type=authorization_code&client_id={}&code={}&redirect_uri={}&code_verifier={}",
            query(&self.client_id),
            query(code),
            query(redirect_uri),
            query(verifier)
        )
    }
}

fn query(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    token_use: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(rename = "cognito:username", default)]
    username: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    groups: Vec<String>,
}

/// The user an ID token names, once its signature (RS256, by a key of `keys`), issuer, audience,
/// expiry (60 s leeway) and `token_use` are checked.
pub fn verify_id_token(
    token: &str,
    keys: &JwkSet,
    settings: &CognitoSettings,
) -> Result<User, AuthError> {
    let invalid = |e: jsonwebtoken::errors::Error| AuthError::Invalid(e.to_string());
    let header = jsonwebtoken::decode_header(token).map_err(invalid)?;
    if header.alg != Algorithm::RS256 {
        return Err(AuthError::Invalid(format!(
            "signed with {:?}, not RS256",
            header.alg
        )));
    }
    let kid = header
        .kid
        .ok_or_else(|| AuthError::Invalid("the token names no key".into()))?;
    let jwk = keys
        .find(&kid)
        .ok_or_else(|| AuthError::Invalid(format!("no key '{kid}' in the user pool's keys")))?;
    let key = DecodingKey::from_jwk(jwk).map_err(invalid)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[settings.issuer()]);
    validation.set_audience(&[settings.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<IdClaims>(token, &key, &validation)
        .map_err(invalid)?
        .claims;
    if claims.token_use != "id" {
        return Err(AuthError::Invalid(format!(
            "an {} token, not an ID token",
            claims.token_use
        )));
    }
    let role = if claims.groups.contains(&settings.approvers_group) {
        Role::Approver
    } else {
        Role::Viewer
    };
    let name = claims
        .email
        .or(claims.username)
        .unwrap_or_else(|| "signed-in user".into());
    Ok(User { name, role })
}

/// `n` random bytes as lowercase hex (CSRF tokens, sign-in state, PKCE verifiers).
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // The OS's generator failing is not something a request can recover from; an empty token
    // would then never match, which refuses the request rather than weakening it.
    if getrandom::fill(&mut bytes).is_err() {
        return String::new();
    }
    hex::encode(bytes)
}

/// The PKCE challenge of a verifier (S256).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether a submitted CSRF token matches the cookie's, in time independent of where they differ.
pub fn csrf_matches(cookie: Option<&str>, submitted: Option<&str>) -> bool {
    match (cookie, submitted) {
        (Some(a), Some(b)) if a.len() >= 32 && a.len() == b.len() => {
            a.bytes()
                .zip(b.bytes())
                .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                == 0
        }
        _ => false,
    }
}

/// A cookie's value from a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// The cookie's name as sent: without the `__Host-` prefix where cookies are not `Secure`.
pub fn cookie_name(name: &'static str, secure: bool) -> &'static str {
    if secure {
        name
    } else {
        name.strip_prefix("__Host-").unwrap_or(name)
    }
}

/// A `Set-Cookie` value: HttpOnly, path `/`, `SameSite` as given, `Secure` on HTTPS.
pub fn set_cookie(
    name: &'static str,
    value: &str,
    max_age: Option<u64>,
    same_site: &str,
    secure: bool,
) -> String {
    let mut out = format!(
        "{}={value}; Path=/; HttpOnly; SameSite={same_site}",
        cookie_name(name, secure)
    );
    if secure {
        out.push_str("; Secure");
    }
    if let Some(age) = max_age {
        out.push_str(&format!("; Max-Age={age}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    // A 2048-bit RSA key made for these tests only, and its public half as a JWK.
    const PRIVATE_PEM: &str = include_str!("../tests/fixtures/test-rsa.pem");
    const JWKS: &str = include_str!("../tests/fixtures/test-jwks.json");

    fn settings() -> CognitoSettings {
        CognitoSettings {
            region: "eu-west-1".into(),
            user_pool_id: "eu-west-1_Test".into(),
            client_id: "client123".into(),
            domain: "https://hawkins-test.auth.eu-west-1.amazoncognito.com".into(),
            approvers_group: "approvers".into(),
        }
    }

    fn token(claims: serde_json::Value, kid: &str) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        let key = EncodingKey::from_rsa_pem(PRIVATE_PEM.as_bytes()).expect("test key");
        encode(&header, &claims, &key).expect("signed")
    }

    fn claims(extra: serde_json::Value) -> serde_json::Value {
        let now = chrono::Utc::now().timestamp();
        let mut base = json!({
            "sub": "1234", "iss": settings().issuer(), "aud": "client123", "token_use": "id",
            "exp": now + 3600, "iat": now, "email": "joyce@example.com",
        });
        if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                base.insert(k.clone(), v.clone());
            }
        }
        base
    }

    fn keys() -> JwkSet {
        serde_json::from_str(JWKS).expect("jwks")
    }

    #[test]
    fn an_approver_is_a_member_of_the_group_and_anyone_else_a_viewer() {
        let approver = token(claims(json!({"cognito:groups": ["approvers"]})), "test-1");
        let user = verify_id_token(&approver, &keys(), &settings()).expect("valid");
        assert_eq!(user.role, Role::Approver);
        assert_eq!(user.name, "joyce@example.com");
        let viewer = token(claims(json!({"cognito:groups": ["others"]})), "test-1");
        let user = verify_id_token(&viewer, &keys(), &settings()).expect("valid");
        assert_eq!(user.role, Role::Viewer);
    }

    #[test]
    fn expired_foreign_access_and_unknown_key_tokens_are_refused() {
        let now = chrono::Utc::now().timestamp();
        let cases = [
            (
                "expired",
                token(claims(json!({"exp": now - 3600})), "test-1"),
            ),
            ("audience", token(claims(json!({"aud": "other"})), "test-1")),
            (
                "issuer",
                token(
                    claims(json!({"iss": "https://cognito-idp.eu-west-1.amazonaws.com/x"})),
                    "test-1",
                ),
            ),
            (
                "access token",
                token(claims(json!({"token_use": "access"})), "test-1"),
            ),
            ("key", token(claims(json!({})), "other-kid")),
        ];
        for (why, t) in cases {
            assert!(
                verify_id_token(&t, &keys(), &settings()).is_err(),
                "{why} must be refused"
            );
        }
        // A token with its payload altered keeps the signature of the original: refused.
        let good = token(claims(json!({})), "test-1");
        let mut parts: Vec<&str> = good.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&claims(json!({"cognito:groups": ["approvers"]}))).expect("json"),
        );
        parts[1] = &forged;
        assert!(verify_id_token(&parts.join("."), &keys(), &settings()).is_err());
        assert!(verify_id_token("not a token", &keys(), &settings()).is_err());
    }

    #[test]
    fn csrf_tokens_must_match_and_be_long() {
        let t = random_hex(32);
        assert_eq!(t.len(), 64);
        assert!(csrf_matches(Some(&t), Some(&t)));
        assert!(!csrf_matches(Some(&t), Some(&random_hex(32))));
        assert!(!csrf_matches(Some(&t), None));
        assert!(!csrf_matches(None, Some(&t)));
        assert!(!csrf_matches(Some("short"), Some("short")));
    }

    #[test]
    fn only_loopback_is_the_local_approver() {
        let local: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let other: SocketAddr = "192.168.1.4:5000".parse().expect("addr");
        assert_eq!(
            local_user(Some(local)).map(|u| u.role),
            Some(Role::Approver)
        );
        assert_eq!(local_user(Some(other)), None);
        assert_eq!(local_user(None), None);
    }

    #[test]
    fn cookies_and_urls() {
        assert_eq!(cookie("a=1; b=2", "b"), Some("2"));
        assert_eq!(cookie("a=1", "b"), None);
        assert_eq!(
            set_cookie(SESSION_COOKIE, "v", Some(60), "Lax", true),
            "__Host-hawkins-session=v; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=60"
        );
        assert_eq!(
            set_cookie(SESSION_COOKIE, "v", None, "Lax", false),
            "hawkins-session=v; Path=/; HttpOnly; SameSite=Lax"
        );
        let url = settings().authorize_url("https://app.example/auth/callback", "st", "ch");
        assert!(url.contains("redirect_uri=https%3A%2F%2Fapp%2Eexample%2Fauth%2Fcallback"));
        assert!(url.contains("code_challenge_method=S256"));
        // RFC 7636's example verifier and challenge.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}

//! Maskinporten's JWT-bearer grant, made as Altinn's own clients make it
//! (altinn-apiclient-maskinporten; `../shared/altinn/real-apis.md` §5): one client serves every
//! connector and the Dialogporten sink. A grant is a JWT signed RS256 with the client's key
//! (`kid` when the key has one), `aud` = the environment's issuer, `iss` = the client id, the
//! space-separated `scope`, `iat` = now, `exp` = now + 10 s and a fresh `jti`; it is posted
//! form-encoded to `{aud}token`. Tokens are cached per scope until shortly before they expire,
//! and optionally exchanged for an Altinn token.
//!
//! The key never appears in a log or an error: errors name the client id and the key's file.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `[maskinporten]` in the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskinportenConfig {
    /// The client's id (its integration's `client_id` in Samarbeidsportalen).
    pub client_id: String,
    /// The client's private key: a PEM file (PKCS#1 or PKCS#8) or a JWK file.
    pub key: PathBuf,
    /// The key id sent as `kid`; a JWK file's own `kid` when not set.
    #[serde(default)]
    pub kid: Option<String>,
    /// `test` (https://test.maskinporten.no/), `prod` (https://maskinporten.no/), `ver1`, `ver2`,
    /// or the issuer's URL itself (a local token endpoint in tests).
    #[serde(default = "default_environment")]
    pub environment: String,
    /// The token endpoint; `{issuer}token` when not set.
    #[serde(default)]
    pub token_url: Option<String>,
    /// Altinn's token exchange (`…/authentication/api/v1/exchange/maskinporten`): when set, the
    /// Maskinporten token is exchanged for an Altinn token, which is what callers get.
    #[serde(default)]
    pub exchange_url: Option<String>,
}

fn default_environment() -> String {
    "test".into()
}

#[derive(Debug, thiserror::Error)]
pub enum MaskinportenError {
    #[error("Maskinporten client {client_id}: reading its key {path}: {message}")]
    Key { client_id: String, path: String, message: String },
    #[error("Maskinporten client {client_id}: environment `{environment}` is none of test, prod, ver1, ver2 or an https?:// issuer URL")]
    Environment { client_id: String, environment: String },
    #[error("Maskinporten client {client_id}: signing the grant: {message}")]
    Sign { client_id: String, message: String },
    /// The token endpoint refused the grant (wrong key, unknown client, scope not granted…):
    /// asking again cannot help, so callers do not retry it.
    #[error("Maskinporten refused client {client_id} (scope `{scope}`): {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused { client_id: String, scope: String, error: String, description: Option<String> },
    /// The endpoint could not be reached or failed (5xx): worth another try later.
    #[error("Maskinporten client {client_id}: POST {url}: {message}")]
    Unavailable { client_id: String, url: String, message: String },
    #[error("Altinn token exchange for Maskinporten client {client_id}: GET {url}: {message}")]
    Exchange { client_id: String, url: String, message: String },
}

impl MaskinportenError {
    /// Whether a later attempt may succeed (the endpoint was down, not the grant refused).
    pub fn transient(&self) -> bool {
        matches!(self, MaskinportenError::Unavailable { .. } | MaskinportenError::Exchange { .. })
    }
}

/// The grant's claims.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Grant {
    pub aud: String,
    pub iss: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// How long a grant is valid, as Altinn's client makes it.
pub const GRANT_SECONDS: i64 = 10;
/// A token is used until this long before it expires.
const MARGIN: Duration = Duration::from_secs(5);

pub struct Maskinporten {
    client_id: String,
    key: EncodingKey,
    kid: Option<String>,
    issuer: String,
    token_url: String,
    exchange_url: Option<String>,
    agent: ureq::Agent,
    cache: Mutex<HashMap<String, (String, Instant)>>,
}

/// The issuer (the grant's `aud`) of a Maskinporten environment.
pub fn issuer(environment: &str) -> Option<String> {
    match environment {
        "prod" => Some("https://maskinporten.no/".into()),
        "test" => Some("https://test.maskinporten.no/".into()),
        "ver1" | "ver2" => Some(format!("https://{environment}.maskinporten.no/")),
        url if url.starts_with("https://") || url.starts_with("http://") => Some(if url.ends_with('/') { url.into() } else { format!("{url}/") }),
        _ => None,
    }
}

impl Maskinporten {
    pub fn new(c: &MaskinportenConfig) -> Result<Maskinporten, MaskinportenError> {
        let key_error = |message: String| MaskinportenError::Key { client_id: c.client_id.clone(), path: c.key.display().to_string(), message };
        let text = std::fs::read_to_string(&c.key).map_err(|e| key_error(e.to_string()))?;
        let (key, jwk_kid) = if text.trim_start().starts_with('{') { jwk_key(&text).map_err(key_error)? } else { (EncodingKey::from_rsa_pem(text.as_bytes()).map_err(|_| key_error("not an RSA private key in PEM (PKCS#1 or PKCS#8)".into()))?, None) };
        let issuer = issuer(&c.environment).ok_or_else(|| MaskinportenError::Environment { client_id: c.client_id.clone(), environment: c.environment.clone() })?;
        let agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(30))).http_status_as_error(false).build().into();
        Ok(Maskinporten {
            client_id: c.client_id.clone(),
            key,
            kid: c.kid.clone().or(jwk_kid),
            token_url: c.token_url.clone().unwrap_or_else(|| format!("{issuer}token")),
            issuer,
            exchange_url: c.exchange_url.clone(),
            agent,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// A signed grant for `scope` at `now` (seconds since the epoch).
    pub fn grant(&self, scope: &str, now: i64) -> Result<String, MaskinportenError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.kid.clone();
        let claims = Grant { aud: self.issuer.clone(), iss: self.client_id.clone(), scope: scope.into(), iat: now, exp: now + GRANT_SECONDS, jti: uuid::Uuid::new_v4().to_string() };
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| MaskinportenError::Sign { client_id: self.client_id.clone(), message: e.to_string() })
    }

    /// A token for `scope` (space-separated scopes): the cached one while it has more than a
    /// few seconds left, else a new one (exchanged for an Altinn token when configured).
    pub fn token(&self, scope: &str) -> Result<String, MaskinportenError> {
        if let Some((token, until)) = self.cache.lock().unwrap().get(scope)
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let (token, expires_in) = self.fetch(scope)?;
        let token = match &self.exchange_url {
            Some(url) => self.exchange(url, &token)?,
            None => token,
        };
        let until = Instant::now() + Duration::from_secs(expires_in).saturating_sub(MARGIN);
        self.cache.lock().unwrap().insert(scope.into(), (token.clone(), until));
        Ok(token)
    }

    /// Forgets the cached token for `scope` (an API answered 401 to it).
    pub fn forget(&self, scope: &str) {
        self.cache.lock().unwrap().remove(scope);
    }

    fn fetch(&self, scope: &str) -> Result<(String, u64), MaskinportenError> {
        let grant = self.grant(scope, chrono::Utc::now().timestamp())?;
        let unavailable = |message: String| MaskinportenError::Unavailable { client_id: self.client_id.clone(), url: self.token_url.clone(), message };
        let mut response = self
            .agent
            .post(&self.token_url)
            .send_form([("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", grant.as_str())])
            .map_err(|e| unavailable(e.to_string()))?;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.body_mut().read_to_string().ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
        let text = |k: &str| body.get(k).and_then(|v| v.as_str()).map(str::to_string);
        match status {
            200 => {
                let token = text("access_token").ok_or_else(|| unavailable(format!("HTTP 200 without an access_token: {body}")))?;
                Ok((token, body.get("expires_in").and_then(|v| v.as_u64()).unwrap_or(120)))
            }
            400..=499 => Err(MaskinportenError::Refused {
                client_id: self.client_id.clone(),
                scope: scope.into(),
                error: text("error").unwrap_or_else(|| format!("HTTP {status}")),
                description: text("error_description"),
            }),
            _ => Err(unavailable(format!("HTTP {status}: {body}"))),
        }
    }

    /// Altinn's exchange: the Maskinporten token as bearer, an Altinn JWT (a JSON string) back.
    fn exchange(&self, url: &str, token: &str) -> Result<String, MaskinportenError> {
        let failed = |message: String| MaskinportenError::Exchange { client_id: self.client_id.clone(), url: url.into(), message };
        let mut response = self.agent.get(url).header("Authorization", &format!("Bearer {token}")).call().map_err(|e| failed(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().map_err(|e| failed(e.to_string()))?;
        if status != 200 {
            return Err(failed(format!("HTTP {status}: {}", body.chars().take(300).collect::<String>())));
        }
        Ok(body.trim().trim_matches('"').to_string())
    }
}

/// An RSA private key from a JWK (`n`, `e`, `d`, `p`, `q`), and its `kid`.
fn jwk_key(text: &str) -> Result<(EncodingKey, Option<String>), String> {
    use base64::Engine;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let jwk: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not a JWK: {e}"))?;
    let part = |k: &str| -> Result<rsa::BigUint, String> {
        let b64 = jwk.get(k).and_then(|v| v.as_str()).ok_or_else(|| format!("the JWK has no `{k}` (a private RSA key has n, e, d, p, q)"))?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b64.trim_end_matches('=')).map_err(|_| format!("the JWK's `{k}` is not base64url"))?;
        Ok(rsa::BigUint::from_bytes_be(&bytes))
    };
    if jwk.get("kty").and_then(|v| v.as_str()) != Some("RSA") {
        return Err("the JWK is not an RSA key (kty RSA)".into());
    }
    let key = rsa::RsaPrivateKey::from_components(part("n")?, part("e")?, part("d")?, vec![part("p")?, part("q")?]).map_err(|_| "the JWK's parts do not make an RSA key".to_string())?;
    let der = key.to_pkcs1_der().map_err(|_| "the JWK's key cannot be encoded".to_string())?;
    Ok((EncodingKey::from_rsa_der(der.as_bytes()), jwk.get("kid").and_then(|v| v.as_str()).map(str::to_string)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/maskinporten").join(name)
    }

    fn client(key: &str, kid: Option<&str>) -> Maskinporten {
        let c = MaskinportenConfig { client_id: "my-client".into(), key: fixture(key), kid: kid.map(str::to_string), environment: "test".into(), token_url: None, exchange_url: None };
        Maskinporten::new(&c).unwrap()
    }

    fn verify(token: &str) -> (jsonwebtoken::Header, Grant) {
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&std::fs::read_to_string(fixture("client.jwks.json")).unwrap()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
        let mut v = jsonwebtoken::Validation::new(Algorithm::RS256);
        v.set_audience(&["https://test.maskinporten.no/"]);
        v.validate_exp = false;
        let d = jsonwebtoken::decode::<Grant>(token, &key, &v).unwrap();
        (d.header, d.claims)
    }

    #[test]
    fn a_grant_is_what_altinns_client_sends() {
        for (key, kid) in [("client.pem", Some("client-key-1")), ("client.private.jwk.json", None)] {
            let m = client(key, kid);
            let (header, g) = verify(&m.grant("digdir:dialogporten.serviceprovider altinn:serviceowner", 1_800_000_000).unwrap());
            assert_eq!(header.alg, Algorithm::RS256);
            assert_eq!(header.kid.as_deref(), Some("client-key-1"), "{key}: the kid, from the config or the JWK");
            assert_eq!((g.aud.as_str(), g.iss.as_str(), g.iat, g.exp), ("https://test.maskinporten.no/", "my-client", 1_800_000_000, 1_800_000_010));
            assert_eq!(g.scope, "digdir:dialogporten.serviceprovider altinn:serviceowner");
            assert!(uuid::Uuid::parse_str(&g.jti).is_ok());
        }
        let a = verify(&client("client.pem", None).grant("s", 1).unwrap()).1;
        let b = verify(&client("client.pem", None).grant("s", 1).unwrap()).1;
        assert_ne!(a.jti, b.jti, "a fresh jti per grant");
        assert_eq!(client("client.pem", None).token_url, "https://test.maskinporten.no/token");
        assert_eq!(issuer("prod").as_deref(), Some("https://maskinporten.no/"));
        assert_eq!(issuer("http://127.0.0.1:9/maskinporten").as_deref(), Some("http://127.0.0.1:9/maskinporten/"));
    }

    #[test]
    fn a_key_that_is_not_one_is_named_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, "-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGJ5dGVz\n-----END PRIVATE KEY-----\n").unwrap();
        let c = MaskinportenConfig { client_id: "my-client".into(), key: path.clone(), kid: None, environment: "test".into(), token_url: None, exchange_url: None };
        let e = Maskinporten::new(&c).err().unwrap().to_string();
        assert!(e.contains("my-client") && e.contains(&path.display().to_string()), "{e}");
        assert!(!e.contains("c2VjcmV0"), "{e}");
        let c = MaskinportenConfig { environment: "staging".into(), key: fixture("client.pem"), ..c };
        assert!(Maskinporten::new(&c).err().unwrap().to_string().contains("`staging` is none of"));
    }
}

//! A Maskinporten-like token endpoint for `simulate` (`POST /maskinporten/token`): it takes the
//! JWT-bearer grant as Maskinporten does, checks it as Maskinporten does — the client known, the
//! signature by one of its registered keys, `aud` = this issuer, `iss` = the client id, a short
//! life (`exp` at most 120 s after `iat`, not expired, not issued in the future), a `jti` never
//! seen before, a scope — and answers with an access token signed by its own key, whose JWKS it
//! serves at `/maskinporten/jwks` (what `serve`'s `api.jwks` trusts). Refusals are Maskinporten's
//! OAuth errors: HTTP 400 with `error` and `error_description`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A registered client: `CLIENT_ID:ORGNR:JWKS_FILE` on the command line.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub org: String,
    pub jwks: PathBuf,
}

impl std::str::FromStr for Client {
    type Err = String;
    fn from_str(s: &str) -> Result<Client, String> {
        let mut parts = s.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(id), Some(org), Some(jwks)) if !id.is_empty() && crate::parties::is_org(org) => Ok(Client { id: id.into(), org: org.into(), jwks: jwks.into() }),
            _ => Err(format!("`{s}`: expected CLIENT_ID:ORGNR:JWKS_FILE (ORGNR 9 digits)")),
        }
    }
}

pub struct Issuer {
    /// This issuer as clients address it (`http://ADDR/maskinporten/`): the grant's `aud`.
    url: String,
    clients: HashMap<String, (String, JwkSet)>,
    key: EncodingKey,
    pub(crate) jwks: Value,
    ttl_secs: i64,
    seen: Mutex<HashSet<String>>,
}

pub type Shared = Arc<Issuer>;

const KID: &str = "simulated-maskinporten";

impl Issuer {
    pub fn new(url: String, clients: &[Client], ttl_secs: i64) -> anyhow::Result<Issuer> {
        use anyhow::Context;
        use p256::pkcs8::EncodePrivateKey;
        let mut known = HashMap::new();
        for c in clients {
            let text = std::fs::read_to_string(&c.jwks).with_context(|| format!("client {}: reading {}", c.id, c.jwks.display()))?;
            let set: JwkSet = serde_json::from_str(&text).with_context(|| format!("client {}: {} is not a JWKS", c.id, c.jwks.display()))?;
            known.insert(c.id.clone(), (c.org.clone(), set));
        }
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        let der = secret.to_pkcs8_der().context("the issuer's key")?;
        let mut jwk: Value = serde_json::from_str(&secret.public_key().to_jwk_string())?;
        jwk["kid"] = KID.into();
        jwk["alg"] = "ES256".into();
        jwk["use"] = "sig".into();
        Ok(Issuer { url, clients: known, key: EncodingKey::from_ec_der(der.as_bytes()), jwks: json!({ "keys": [jwk] }), ttl_secs, seen: Mutex::new(HashSet::new()) })
    }
}

#[derive(Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    assertion: Option<String>,
}

fn refuse(error: &str, description: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error, "error_description": description.into() }))).into_response()
}

#[derive(Deserialize)]
struct GrantClaims {
    iss: String,
    #[serde(default)]
    scope: String,
    iat: i64,
    exp: i64,
    #[serde(default)]
    jti: String,
}

pub async fn token(State(issuer): State<Shared>, Form(req): Form<TokenRequest>) -> Response {
    if req.grant_type.as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return refuse("unsupported_grant_type", "grant_type must be urn:ietf:params:oauth:grant-type:jwt-bearer");
    }
    let Some(assertion) = req.assertion else { return refuse("invalid_request", "no assertion") };
    let Ok(header) = jsonwebtoken::decode_header(&assertion) else { return refuse("invalid_grant", "Invalid assertion. The JWT could not be parsed.") };
    if header.alg != Algorithm::RS256 && header.alg != Algorithm::ES256 {
        return refuse("invalid_grant", format!("Invalid assertion. Algorithm {:?} is not accepted.", header.alg));
    }
    // The client, by the grant's `iss`, before its signature is checked against that client's keys.
    let iss = assertion.split('.').nth(1).and_then(|p| {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok()?;
        serde_json::from_slice::<Value>(&bytes).ok()?.get("iss")?.as_str().map(str::to_string)
    });
    let Some((org, keys)) = iss.as_deref().and_then(|i| issuer.clients.get(i)) else {
        return refuse("invalid_client", format!("Invalid assertion. Client authentication failed. Unknown client `{}`.", iss.unwrap_or_default()));
    };
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    };
    let Some(key) = jwk.and_then(|k| DecodingKey::from_jwk(k).ok()) else {
        return refuse("invalid_grant", "Invalid assertion. Client authentication failed. No registered key matches the JWT's kid.");
    };
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[issuer.url.as_str()]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    validation.leeway = 0;
    let grant = match jsonwebtoken::decode::<GrantClaims>(&assertion, &key, &validation) {
        Ok(d) => d.claims,
        Err(e) => {
            let why = match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => "Invalid JWT signature.".to_string(),
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "The JWT has expired.".to_string(),
                jsonwebtoken::errors::ErrorKind::InvalidAudience => format!("Invalid audience: the JWT's aud must be {}.", issuer.url),
                other => format!("{other:?}."),
            };
            return refuse("invalid_grant", format!("Invalid assertion. Client authentication failed. {why}"));
        }
    };
    let now = chrono::Utc::now().timestamp();
    if grant.exp - grant.iat > 120 {
        return refuse("invalid_grant", "Invalid assertion. The JWT's lifetime (exp - iat) is more than 120 seconds.");
    }
    if grant.iat > now + 10 {
        return refuse("invalid_grant", "Invalid assertion. The JWT is issued in the future (iat).");
    }
    if grant.jti.is_empty() || !issuer.seen.lock().unwrap().insert(grant.jti.clone()) {
        return refuse("invalid_grant", "Invalid assertion. The JWT's jti is missing or was used before.");
    }
    if grant.scope.trim().is_empty() {
        return refuse("invalid_scope", "No scope requested.");
    }
    let claims = json!({
        "iss": issuer.url,
        "client_id": grant.iss,
        "scope": grant.scope,
        "consumer": { "authority": "iso6523-actorid-upis", "ID": format!("0192:{org}") },
        "iat": now,
        "exp": now + issuer.ttl_secs,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(KID.into());
    match jsonwebtoken::encode(&header, &claims, &issuer.key) {
        Ok(t) => Json(json!({ "access_token": t, "token_type": "Bearer", "expires_in": issuer.ttl_secs, "scope": grant.scope })).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

pub async fn jwks(State(issuer): State<Shared>) -> Json<Value> {
    Json(issuer.jwks.clone())
}

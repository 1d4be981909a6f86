//! Bearer tokens, as Dialogporten takes them: JWTs signed RS256 or ES256, checked against the
//! public keys of a JWKS file (`api.jwks`). End users (ID-porten) carry their national identity
//! number in `pid` and the scope `digdir:dialogporten`; service owners (Maskinporten) carry
//! their organisation in `consumer.ID` (`0192:{orgnr}`) and the scope
//! `digdir:dialogporten.serviceprovider`.
//!
//! `dialogsync token` mints tokens for development from a key it generates locally, and says so.

use super::problem::Problem;
use anyhow::{Context, Result};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const ENDUSER_SCOPE: &str = "digdir:dialogporten";
pub const SERVICEOWNER_SCOPE: &str = "digdir:dialogporten.serviceprovider";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default)]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<Consumer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Consumer {
    pub authority: String,
    #[serde(rename = "ID")]
    pub id: String,
}

/// The public keys tokens are checked against.
pub struct Keys {
    set: JwkSet,
}

impl Keys {
    /// The keys of a JWKS document.
    pub fn from_jwks(v: &serde_json::Value) -> Result<Keys> {
        let set: JwkSet = serde_json::from_value(v.clone()).context("a JWKS")?;
        anyhow::ensure!(!set.keys.is_empty(), "the JWKS holds no keys");
        Ok(Keys { set })
    }

    pub fn load(path: &Path) -> Result<Keys> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading JWKS {}", path.display()))?;
        let set: JwkSet = serde_json::from_str(&text).with_context(|| format!("JWKS {}", path.display()))?;
        anyhow::ensure!(!set.keys.is_empty(), "JWKS {} holds no keys", path.display());
        Ok(Keys { set })
    }

    /// The token's claims if it is signed by one of the keys (RS256 or ES256) and not expired.
    pub fn verify(&self, token: &str) -> Result<Claims, Problem> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| Problem::unauthorized(format!("malformed token: {e}")))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(Problem::unauthorized(format!("token algorithm {:?} is not accepted (RS256, ES256)", header.alg)));
        }
        let jwk = match &header.kid {
            Some(kid) => self.set.find(kid),
            None if self.set.keys.len() == 1 => self.set.keys.first(),
            None => None,
        }
        .ok_or_else(|| Problem::unauthorized("token signed by an unknown key"))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| Problem::unauthorized(format!("unusable key: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map(|d| d.claims)
            .map_err(|e| Problem::unauthorized(format!("token refused: {e}")))
    }
}

/// The development key: generated on first use beside the compiled-component cache.
pub struct DevKey {
    pub pem: PathBuf,
    pub jwks: PathBuf,
}

const DEV_KID: &str = "dialogsync-dev";

impl DevKey {
    pub fn at(dir: &Path) -> DevKey {
        DevKey { pem: dir.join("dev-key.pem"), jwks: dir.join("dev-jwks.json") }
    }

    /// Creates the key pair if it is not there yet. Processes racing to create it agree on
    /// one: the first to link its private key in place wins, the others wait for its JWKS.
    pub fn ensure(&self) -> Result<()> {
        if self.pem.exists() {
            for _ in 0..100 {
                if self.jwks.exists() {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            anyhow::bail!("{} exists without {}", self.pem.display(), self.jwks.display());
        }
        use p256::pkcs8::{EncodePrivateKey, LineEnding};
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        let pem = secret.to_pkcs8_pem(LineEnding::LF).context("encoding the development key")?;
        let mut jwk: serde_json::Value = serde_json::from_str(&secret.public_key().to_jwk_string())?;
        jwk["kid"] = DEV_KID.into();
        jwk["alg"] = "ES256".into();
        jwk["use"] = "sig".into();
        let dir = self.pem.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let unique = format!("{}-{}", std::process::id(), chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default());
        let (tmp_pem, tmp_jwks) = (dir.join(format!(".dev-key-{unique}")), dir.join(format!(".dev-jwks-{unique}")));
        std::fs::write(&tmp_pem, pem.as_bytes()).with_context(|| format!("writing {}", tmp_pem.display()))?;
        std::fs::write(&tmp_jwks, serde_json::json!({ "keys": [jwk] }).to_string())?;
        let won = std::fs::hard_link(&tmp_pem, &self.pem).is_ok();
        if won {
            std::fs::rename(&tmp_jwks, &self.jwks)?;
        } else {
            let _ = std::fs::remove_file(&tmp_jwks);
        }
        let _ = std::fs::remove_file(&tmp_pem);
        if won { Ok(()) } else { self.ensure() }
    }

    pub fn mint(&self, claims: &Claims) -> Result<String> {
        self.ensure()?;
        let pem = std::fs::read(&self.pem).with_context(|| format!("reading {}", self.pem.display()))?;
        let key = EncodingKey::from_ec_pem(&pem).context("the development key")?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(DEV_KID.into());
        Ok(jsonwebtoken::encode(&header, claims, &key)?)
    }
}

/// Claims for an end user or a service owner, valid for `ttl_secs` from now (negative: expired).
pub fn claims(person: Option<&str>, org: Option<&str>, scope: Option<&str>, ttl_secs: i64) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        exp: now + ttl_secs,
        iat: now,
        iss: Some("dialogsync-dev".into()),
        scope: scope.unwrap_or(if org.is_some() { SERVICEOWNER_SCOPE } else { ENDUSER_SCOPE }).into(),
        pid: person.map(str::to_string),
        consumer: org.map(|o| Consumer { authority: "iso6523-actorid-upis".into(), id: format!("0192:{o}") }),
    }
}

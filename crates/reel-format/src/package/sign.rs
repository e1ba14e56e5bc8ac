//! ed25519 signatures over `manifest.json` (which lists every entry's sha256, so the signature
//! covers the whole package). Keys are text files: `reel-ed25519-secret <base64>` and
//! `reel-ed25519-public <base64>`.
use super::{PackageReader, SIGNATURE};
use crate::{Error, Limits, Result};
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, Write};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const SECRET_TAG: &str = "reel-ed25519-secret";
const PUBLIC_TAG: &str = "reel-ed25519-public";

/// `signature.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signature {
    pub algorithm: String,
    /// What was signed: always `manifest.json` (its exact bytes).
    pub signed: String,
    pub public_key: String,
    pub signature: String,
}

impl Signature {
    pub fn create(key: &SigningKey, manifest: &[u8]) -> Signature {
        Signature {
            algorithm: "ed25519".into(),
            signed: super::MANIFEST.into(),
            public_key: B64.encode(key.verifying_key().as_bytes()),
            signature: B64.encode(key.sign(manifest).to_bytes()),
        }
    }

    /// Check the signature over `manifest`; returns the key that signed it.
    pub fn verify(&self, manifest: &[u8]) -> Result<VerifyingKey> {
        let bad = |m: &str| Error::Signature {
            context: SIGNATURE.into(),
            message: m.into(),
        };
        if self.algorithm != "ed25519" {
            return Err(bad("unknown algorithm (expected ed25519)"));
        }
        let pk: [u8; 32] = B64
            .decode(&self.public_key)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("public_key is not 32 base64 bytes"))?;
        let sig: [u8; 64] = B64
            .decode(&self.signature)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("signature is not 64 base64 bytes"))?;
        let vk = VerifyingKey::from_bytes(&pk).map_err(|_| bad("invalid public key"))?;
        vk.verify(manifest, &ed25519_dalek::Signature::from_bytes(&sig))
            .map_err(|_| {
                bad("does not match manifest.json: the package was modified after signing")
            })?;
        Ok(vk)
    }
}

pub struct KeyPair {
    pub secret_text: String,
    pub public_text: String,
    pub key: SigningKey,
}

/// Make a new key pair.
pub fn keygen() -> KeyPair {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    KeyPair {
        secret_text: format!("{SECRET_TAG} {}\n", B64.encode(key.to_bytes())),
        public_text: format!(
            "{PUBLIC_TAG} {}\n",
            B64.encode(key.verifying_key().as_bytes())
        ),
        key,
    }
}

fn parse_tagged<const N: usize>(text: &str, tag: &str, what: &str) -> Result<[u8; N]> {
    let t = text.trim();
    let body = t.strip_prefix(tag).map(str::trim).unwrap_or(t);
    B64.decode(body)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| {
            Error::invalid(
                what,
                format!("expected '{tag} <base64 of {N} bytes>' (made by `reel keygen`)"),
            )
        })
}

pub fn secret_key_from_text(text: &str) -> Result<SigningKey> {
    Ok(SigningKey::from_bytes(&parse_tagged::<32>(
        text,
        SECRET_TAG,
        "secret key",
    )?))
}

pub fn public_key_from_text(text: &str) -> Result<VerifyingKey> {
    if text.trim().starts_with(SECRET_TAG) {
        return Ok(secret_key_from_text(text)?.verifying_key());
    }
    let b = parse_tagged::<32>(text, PUBLIC_TAG, "public key")?;
    VerifyingKey::from_bytes(&b)
        .map_err(|_| Error::invalid("public key", "not a valid ed25519 key"))
}

/// Copy a package to `out` with a (new) signature. Entries are copied without recompression.
pub fn sign_package<R: Read + Seek, W: Write + Seek>(
    input: R,
    out: W,
    key: &SigningKey,
    limits: Limits,
) -> Result<()> {
    let reader = PackageReader::open(input, limits)?;
    let manifest = reader.manifest_bytes().to_vec();
    let mut zin =
        zip::ZipArchive::new(reader.into_inner()).map_err(|e| Error::zip("package", e))?;
    let mut zout = zip::ZipWriter::new(out);
    for i in 0..zin.len() {
        let f = zin.by_index_raw(i).map_err(|e| Error::zip("package", e))?;
        if f.name().map_err(|e| Error::zip("package", e))? == SIGNATURE {
            continue;
        }
        zout.raw_copy_file(f)
            .map_err(|e| Error::zip("package", e))?;
    }
    let sig = serde_json::to_vec_pretty(&Signature::create(key, &manifest))
        .map_err(|e| Error::invalid(SIGNATURE, e.to_string()))?;
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    zout.start_file(SIGNATURE, o)
        .map_err(|e| Error::zip(SIGNATURE, e))?;
    zout.write_all(&sig).map_err(|e| Error::io(SIGNATURE, e))?;
    zout.finish().map_err(|e| Error::zip("package", e))?;
    Ok(())
}

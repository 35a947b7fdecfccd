//! Seal's `EncryptedObject` in BCS, read and written by hand so that every length is bounded
//! before anything is allocated: version (`u8`), package ID (32 bytes), identity (bytes),
//! services (`vector<(object ID, share index u8)>`), threshold (`u8`), the encrypted shares
//! (enum: 0 = Boneh-Franklin BLS12-381 with a 96-byte G2 nonce, the 32-byte shares and the
//! 32-byte encrypted randomness), the ciphertext (enum: 0 = AES-256-GCM `{blob, aad?}`,
//! 1 = HMAC-256-CTR `{blob, aad?, mac}`, 2 = plain `{}`).

use walrus_core::sliver::push_uleb128;

use crate::SealError;

/// Longest identity read (Seal's are a few dozen bytes).
pub const ID_BYTES_MAX: usize = 64 * 1024;
/// Most key servers of one object (Seal's limit: fewer than 255).
pub const SERVICES_MAX: usize = 254;

/// The DEM's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ciphertext {
    /// AES-256-GCM: ciphertext and tag, and the associated data.
    Aes256Gcm {
        /// Ciphertext and 16-byte tag.
        blob: Vec<u8>,
        /// Associated data (Seal writes `Some`, empty if none).
        aad: Option<Vec<u8>>,
    },
    /// HMAC-256-CTR: ciphertext, associated data and MAC.
    Hmac256Ctr {
        /// Ciphertext.
        blob: Vec<u8>,
        /// Associated data.
        aad: Option<Vec<u8>>,
        /// The MAC.
        mac: [u8; 32],
    },
    /// No DEM: the object only carries the key.
    Plain,
}

/// A Seal-encrypted object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedObject {
    /// Format version (0).
    pub version: u8,
    /// The package (here: the policy object) whose rules govern the identity.
    pub package_id: [u8; 32],
    /// The identity within the package's namespace.
    pub id: Vec<u8>,
    /// Key servers' object IDs, each with its share index.
    pub services: Vec<([u8; 32], u8)>,
    /// Shares needed.
    pub threshold: u8,
    /// `r·G2`.
    pub nonce: [u8; 96],
    /// One encrypted share per service.
    pub encrypted_shares: Vec<[u8; 32]>,
    /// `r` masked with a key derived from the base key.
    pub encrypted_randomness: [u8; 32],
    /// The data.
    pub ciphertext: Ciphertext,
}

impl EncryptedObject {
    /// `package_id || id`: the identity key servers derive keys for.
    pub fn full_id(&self) -> Vec<u8> {
        full_id(&self.package_id, &self.id)
    }

    /// The object IDs of the services, in order.
    pub fn object_ids(&self) -> Vec<[u8; 32]> {
        self.services.iter().map(|(id, _)| *id).collect()
    }

    /// The BCS bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.version];
        out.extend_from_slice(&self.package_id);
        bytes(&mut out, &self.id);
        push_uleb128(&mut out, self.services.len());
        for (id, index) in &self.services {
            out.extend_from_slice(id);
            out.push(*index);
        }
        out.push(self.threshold);
        out.push(0);
        out.extend_from_slice(&self.nonce);
        push_uleb128(&mut out, self.encrypted_shares.len());
        self.encrypted_shares.iter().for_each(|s| out.extend_from_slice(s));
        out.extend_from_slice(&self.encrypted_randomness);
        match &self.ciphertext {
            Ciphertext::Aes256Gcm { blob, aad } => {
                out.push(0);
                bytes(&mut out, blob);
                option(&mut out, aad.as_deref());
            }
            Ciphertext::Hmac256Ctr { blob, aad, mac } => {
                out.push(1);
                bytes(&mut out, blob);
                option(&mut out, aad.as_deref());
                out.extend_from_slice(mac);
            }
            Ciphertext::Plain => out.push(2),
        }
        out
    }

    /// Reads the BCS bytes (all of them); a clear error for anything else.
    pub fn from_bytes(input: &[u8]) -> Result<EncryptedObject, SealError> {
        let mut r = Reader { input, at: 0 };
        let version = r.u8("version")?;
        if version != 0 {
            return Err(SealError::Malformed(format!("version {version}, only 0 is known")));
        }
        let package_id = r.array("package ID")?;
        let id = r.bytes("identity", ID_BYTES_MAX)?.to_vec();
        let n = r.len("services", SERVICES_MAX)?;
        let services = (0..n)
            .map(|_| Ok((r.array("service object ID")?, r.u8("share index")?)))
            .collect::<Result<Vec<_>, SealError>>()?;
        let threshold = r.u8("threshold")?;
        match r.u8("encrypted shares variant")? {
            0 => {}
            other => {
                return Err(SealError::Malformed(format!(
                    "encrypted shares variant {other}, only 0 (BF-BLS12381) is known"
                )))
            }
        }
        let nonce = r.array("nonce")?;
        let m = r.len("encrypted shares", SERVICES_MAX)?;
        let encrypted_shares =
            (0..m).map(|_| r.array("encrypted share")).collect::<Result<Vec<_>, SealError>>()?;
        let encrypted_randomness = r.array("encrypted randomness")?;
        let ciphertext = match r.u8("ciphertext variant")? {
            0 => Ciphertext::Aes256Gcm {
                blob: r.bytes("ciphertext", usize::MAX)?.to_vec(),
                aad: r.option("aad")?,
            },
            1 => Ciphertext::Hmac256Ctr {
                blob: r.bytes("ciphertext", usize::MAX)?.to_vec(),
                aad: r.option("aad")?,
                mac: r.array("mac")?,
            },
            2 => Ciphertext::Plain,
            other => return Err(SealError::Malformed(format!("ciphertext variant {other} is unknown"))),
        };
        if r.at != input.len() {
            return Err(SealError::Malformed(format!("{} bytes after the object", input.len() - r.at)));
        }
        let object = EncryptedObject {
            version,
            package_id,
            id,
            services,
            threshold,
            nonce,
            encrypted_shares,
            encrypted_randomness,
            ciphertext,
        };
        object.check()?;
        Ok(object)
    }

    /// The rules every object keeps: one share per service, `0 < threshold <= services`,
    /// distinct non-zero share indices.
    pub fn check(&self) -> Result<(), SealError> {
        if self.encrypted_shares.len() != self.services.len() {
            return Err(SealError::Malformed(format!(
                "{} encrypted shares for {} services",
                self.encrypted_shares.len(),
                self.services.len()
            )));
        }
        if self.threshold == 0 || usize::from(self.threshold) > self.services.len() {
            return Err(SealError::Malformed(format!(
                "threshold {} with {} services",
                self.threshold,
                self.services.len()
            )));
        }
        let mut seen = [false; 256];
        for (_, index) in &self.services {
            if *index == 0 || std::mem::replace(&mut seen[usize::from(*index)], true) {
                return Err(SealError::Malformed(format!("share index {index} is zero or repeated")));
            }
        }
        Ok(())
    }
}

/// `package_id || id`.
pub fn full_id(package_id: &[u8; 32], id: &[u8]) -> Vec<u8> {
    let mut out = package_id.to_vec();
    out.extend_from_slice(id);
    out
}

fn bytes(out: &mut Vec<u8>, data: &[u8]) {
    push_uleb128(out, data.len());
    out.extend_from_slice(data);
}

fn option(out: &mut Vec<u8>, data: Option<&[u8]>) {
    match data {
        None => out.push(0),
        Some(data) => {
            out.push(1);
            bytes(out, data);
        }
    }
}

struct Reader<'a> {
    input: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], SealError> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.input.len());
        let end = end.ok_or_else(|| SealError::Malformed(format!("the object ends inside its {what}")))?;
        let out = &self.input[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8, SealError> {
        Ok(self.take(1, what)?[0])
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], SealError> {
        Ok(self.take(N, what)?.try_into().expect("N bytes"))
    }

    /// A ULEB128 length, canonical, at most `max`.
    fn len(&mut self, what: &str, max: usize) -> Result<usize, SealError> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.u8(what)?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                if byte == 0 && shift > 0 {
                    return Err(SealError::Malformed(format!("the length of the {what} is not canonical")));
                }
                let value = usize::try_from(value).ok().filter(|v| *v <= max && *v <= u32::MAX as usize);
                return value
                    .ok_or_else(|| SealError::Malformed(format!("the {what} are too many or too long")));
            }
        }
        Err(SealError::Malformed(format!("the length of the {what} does not end")))
    }

    fn bytes(&mut self, what: &str, max: usize) -> Result<&'a [u8], SealError> {
        let n = self.len(what, max)?;
        self.take(n, what)
    }

    fn option(&mut self, what: &str) -> Result<Option<Vec<u8>>, SealError> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => Ok(Some(self.bytes(what, usize::MAX)?.to_vec())),
            other => Err(SealError::Malformed(format!("option tag {other} of the {what}"))),
        }
    }
}

//! TLS between clients and storage nodes, as the reference does it (`spec/protocol.md` §6.1):
//! a node serves HTTPS with a certificate on its **network key** (secp256r1, registered on
//! chain with the node), self-signed unless the operator brings one; a client or peer accepts
//! a node's certificate if and only if the certificate's key is the network key the chain
//! holds for that node, whatever its names, issuer or validity dates. The TLS handshake proves
//! the node holds the key's private half. Plain HTTP is for loopback localnets only: a node
//! address written `http://HOST:PORT` (see [`node_base_url`]), refused unless the host is a
//! loopback address.
//!
//! It is also the one place that builds HTTP clients ([`http_client`]): our `reqwest` carries
//! rustls on `ring` without a default crypto provider (the default, aws-lc, compiles a large C
//! library), and a client built before a provider is installed would panic.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use walrus_core::keys::NetworkPublicKey;

pub use rustls;
pub use tokio_rustls;

/// Why a key, a certificate or a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The key file's text is not a PKCS#8 P-256 key in PEM.
    #[error("not a PKCS#8 secp256r1 key in PEM: {0}")]
    BadKey(String),
    /// The certificate could not be made.
    #[error("cannot make the certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
    /// The operator's certificate file cannot be used.
    #[error("the certificate chain cannot be used: {0}")]
    BadCertificate(String),
    /// A plain-HTTP address names a host that is not loopback.
    #[error("plain HTTP is for loopback addresses only, not {0} (write HOST:PORT for HTTPS)")]
    PlainNotLoopback(String),
}

/// Installs `ring` as this process's TLS crypto provider; later calls do nothing.
pub fn install_provider() {
    // Fails only if a provider is installed already, which is what is wanted.
    let _ = ring_provider().install_default();
}

/// How long a client keeps an idle connection for reuse: below the servers' 10-second limit on
/// an idle keep-alive connection (`walrus_http::ServerLimits`), so that a client never sends a
/// request on a connection the server is closing (which fails as "connection closed before
/// message completed" or a broken pipe, and may fail every retry that picks another stale one).
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);
/// How long a client waits for a connection to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A builder of an HTTP client with [`POOL_IDLE_TIMEOUT`] and [`CONNECT_TIMEOUT`], the
/// process's crypto provider installed first. Every HTTP client of ours starts here (a test in
/// `walrus-cli` checks).
pub fn http_client() -> reqwest::ClientBuilder {
    install_provider();
    reqwest::Client::builder().pool_idle_timeout(POOL_IDLE_TIMEOUT).connect_timeout(CONNECT_TIMEOUT)
}

/// A storage node's network key pair (secp256r1), kept as PKCS#8.
pub struct NetworkKeyPair {
    key: rcgen::KeyPair,
    public: NetworkPublicKey,
}

impl std::fmt::Debug for NetworkKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NetworkKeyPair({})", self.public)
    }
}

impl NetworkKeyPair {
    /// A fresh key pair from the system's randomness.
    pub fn generate() -> Result<Self, TlsError> {
        Self::from_key(rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?)
    }

    /// From a PEM `PRIVATE KEY` (PKCS#8) document, as [`NetworkKeyPair::to_pem`] writes it
    /// (and as certbot writes an ECDSA P-256 key).
    pub fn from_pem(text: &str) -> Result<Self, TlsError> {
        let key = rcgen::KeyPair::from_pem(text).map_err(|e| TlsError::BadKey(e.to_string()))?;
        Self::from_key(key)
    }

    fn from_key(key: rcgen::KeyPair) -> Result<Self, TlsError> {
        if !key.is_compatible(&rcgen::PKCS_ECDSA_P256_SHA256) {
            return Err(TlsError::BadKey("not a secp256r1 key".into()));
        }
        let public = NetworkPublicKey::from_uncompressed(key.public_key_raw())
            .map_err(|e| TlsError::BadKey(e.to_string()))?;
        Ok(NetworkKeyPair { key, public })
    }

    /// The PEM `PRIVATE KEY` (PKCS#8) document.
    pub fn to_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// The public key, as the chain registers it.
    pub fn public(&self) -> &NetworkPublicKey {
        &self.public
    }

    /// The self-signed certificate's name: the first 4 bytes of the public key in hex, then
    /// `.network.walrus.alt` (the reference's).
    pub fn certificate_name(&self) -> String {
        let bytes = self.public.as_bytes();
        let hex: String = bytes[..4].iter().map(|b| format!("{b:02x}")).collect();
        format!("{hex}.network.walrus.alt")
    }

    /// A self-signed certificate on this key.
    pub fn self_signed_certificate(&self) -> Result<CertificateDer<'static>, TlsError> {
        let name = self.certificate_name();
        let mut params = rcgen::CertificateParams::new(vec![name.clone()])?;
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        Ok(params.self_signed(&self.key)?.der().clone())
    }

    /// The certificate chain in `pem` (PEM `CERTIFICATE` blocks, the leaf first): one a CA
    /// issued for this key, so that clients that check names against WebPKI roots (a browser,
    /// `curl`) accept the node too. Refused unless the leaf carries this key: clients and peers
    /// pin the registered key and would refuse any other.
    pub fn certificate_chain_from_pem(&self, pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
        use rustls::pki_types::pem::PemObject;
        let chain = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::BadCertificate(e.to_string()))?;
        let leaf = chain.first().ok_or_else(|| TlsError::BadCertificate("no CERTIFICATE block".into()))?;
        match certificate_p256_key(leaf).and_then(|point| NetworkPublicKey::from_uncompressed(point).ok()) {
            Some(key) if key == self.public => Ok(chain),
            Some(key) => Err(TlsError::BadCertificate(format!(
                "its leaf carries key {key}, not this node's network key {}",
                self.public
            ))),
            None => Err(TlsError::BadCertificate("its leaf carries no secp256r1 key".into())),
        }
    }

    /// A server configuration presenting `chain` (the self-signed certificate if `None`) with
    /// this key; TLS 1.2 and 1.3, HTTP/1.1.
    pub fn server_config(
        &self,
        chain: Option<Vec<CertificateDer<'static>>>,
    ) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let chain = match chain {
            Some(chain) => chain,
            None => vec![self.self_signed_certificate()?],
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(ring_provider())
}

/// rustls's `ring` provider. rustls 0.23.48 deprecated it for lacking post-quantum key
/// exchange (which only its aws-lc provider has); we keep `ring` for the build (aws-lc compiles
/// a large C library) and the classical X25519 and P-256 key exchanges it offers.
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// A client configuration that accepts a server only if its certificate carries `expected`.
pub fn pinned_client_config(expected: NetworkPublicKey) -> Result<rustls::ClientConfig, TlsError> {
    let provider = provider();
    let verifier = PinnedKey { expected, algorithms: provider.signature_verification_algorithms };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// The certificate verifier of [`pinned_client_config`].
#[derive(Debug)]
struct PinnedKey {
    expected: NetworkPublicKey,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedKey {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = certificate_p256_key(end_entity)
            .and_then(|point| NetworkPublicKey::from_uncompressed(point).ok());
        match presented {
            Some(key) if key == self.expected => Ok(ServerCertVerified::assertion()),
            Some(key) => Err(rustls::Error::General(format!(
                "the node's certificate carries network key {key}, the chain registered {}",
                self.expected
            ))),
            None => Err(rustls::Error::General(
                "the node's certificate carries no secp256r1 key (the chain registered one)".into(),
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// One DER element: its tag, its contents, and what follows it.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count].iter().fold(0usize, |len, b| len << 8 | usize::from(*b));
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// `id-ecPublicKey` (1.2.840.10045.2.1) as a DER OID element.
const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// `prime256v1` (1.2.840.10045.3.1.7) as a DER OID element.
const PRIME256V1: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The P-256 point of an X.509 certificate's subject public key (SEC1, as the certificate
/// carries it), if its key is a P-256 key. `Certificate ::= SEQUENCE { tbsCertificate
/// SEQUENCE { [0] version OPTIONAL, serial, signature, issuer, validity, subject,
/// subjectPublicKeyInfo, ... }, ... }` (RFC 5280 §4.1).
fn certificate_p256_key(certificate: &[u8]) -> Option<&[u8]> {
    let (0x30, certificate, _) = der(certificate)? else { return None };
    let (0x30, tbs, _) = der(certificate)? else { return None };
    let mut rest = tbs;
    if let Some((0xa0, _, after)) = der(rest) {
        rest = after;
    }
    for _ in 0..5 {
        rest = der(rest)?.2;
    }
    let (0x30, spki, _) = der(rest)? else { return None };
    let (0x30, algorithm, after) = der(spki)? else { return None };
    if algorithm != [EC_PUBLIC_KEY, PRIME256V1].concat().as_slice() {
        return None;
    }
    let (0x03, bits, _) = der(after)? else { return None };
    let (&0, point) = bits.split_first()? else { return None };
    Some(point)
}

/// The base URL of a node from its registered network address: `https://HOST:PORT` for
/// `HOST:PORT` (or an `https://` address as it is); an `http://` address as it is, if its
/// host is loopback (`127.0.0.0/8`, `::1`, `localhost`), else [`TlsError::PlainNotLoopback`].
pub fn node_base_url(address: &str) -> Result<String, TlsError> {
    if let Some(rest) = address.strip_prefix("http://") {
        let authority = rest.split('/').next().unwrap_or_default();
        return if is_loopback(authority) {
            Ok(address.trim_end_matches('/').to_string())
        } else {
            Err(TlsError::PlainNotLoopback(address.to_string()))
        };
    }
    let rest = address.strip_prefix("https://").unwrap_or(address);
    Ok(format!("https://{}", rest.trim_end_matches('/')))
}

/// Whether `HOST:PORT` (or `HOST`) names this machine.
pub fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests;

//! A TLS-terminating proxy in front of the test PostgreSQL: it answers the client's SSLRequest,
//! completes the TLS handshake with a certificate made for the test, and forwards the decrypted
//! stream to the real server. So the client's TLS code (sslmode, sslrootcert) is tested for real.

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// The PostgreSQL SSLRequest code.
const SSL_REQUEST: u32 = 80_877_103;

/// A test certificate authority and a server certificate it signed.
pub struct TestPki {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The server's TLS configuration.
    pub server: Arc<rustls::ServerConfig>,
}

impl TestPki {
    /// A CA and a server certificate valid for `names`.
    pub fn new(names: &[&str]) -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let leaf = CertificateParams::new(names).unwrap().signed_by(&leaf_key, &issuer).unwrap();
        let chain = vec![CertificateDer::from(leaf.der().to_vec()), CertificateDer::from(ca_cert.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        Self { ca_pem: ca_cert.pem(), server: Arc::new(server) }
    }
}

/// A running proxy.
pub struct TlsProxy {
    /// Its address.
    pub addr: SocketAddr,
    /// Completed TLS handshakes.
    pub handshakes: Arc<AtomicUsize>,
    /// Connections forwarded in plain text.
    pub plain: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsProxy {
    /// Starts a proxy to `upstream`; `tls: None` makes it refuse TLS (answer 'N') like a server without SSL.
    pub async fn start(upstream: SocketAddr, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let plain = Arc::new(AtomicUsize::new(0));
        let (h, p) = (handshakes.clone(), plain.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (tls, h, p) = (tls.clone(), h.clone(), p.clone());
                tokio::spawn(async move {
                    let _ = serve(client, upstream, tls, h, p).await;
                });
            }
        });
        Self { addr, handshakes, plain, task }
    }
}

async fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    handshakes: Arc<AtomicUsize>,
    plain: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let mut first = [0u8; 8];
    client.read_exact(&mut first).await?;
    let is_ssl_request = u32::from_be_bytes([first[0], first[1], first[2], first[3]]) == 8
        && u32::from_be_bytes([first[4], first[5], first[6], first[7]]) == SSL_REQUEST;
    let mut server = TcpStream::connect(upstream).await?;
    match (is_ssl_request, tls) {
        (true, Some(config)) => {
            client.write_all(b"S").await?;
            let mut stream = TlsAcceptor::from(config).accept(client).await?;
            handshakes.fetch_add(1, Ordering::SeqCst);
            tokio::io::copy_bidirectional(&mut stream, &mut server).await?;
        }
        (true, None) => {
            client.write_all(b"N").await?;
            plain.fetch_add(1, Ordering::SeqCst);
            tokio::io::copy_bidirectional(&mut client, &mut server).await?;
        }
        (false, _) => {
            plain.fetch_add(1, Ordering::SeqCst);
            server.write_all(&first).await?;
            tokio::io::copy_bidirectional(&mut client, &mut server).await?;
        }
    }
    Ok(())
}

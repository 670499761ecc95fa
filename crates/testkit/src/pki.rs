//! Certificates and credentials of a throwaway control plane: a CA, the API server's serving
//! certificate for loopback, the service-account signing key and an admin token.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};

use crate::Error;

/// Files and secrets written by [`Pki::create`].
pub struct Pki {
    /// CA certificate (PEM) that signed the serving certificate.
    pub ca_cert: PathBuf,
    /// The CA certificate's PEM text, for kubeconfigs.
    pub ca_pem: String,
    /// Serving certificate of kube-apiserver.
    pub server_cert: PathBuf,
    /// Key of the serving certificate.
    pub server_key: PathBuf,
    /// Key that signs service-account tokens.
    pub service_account_key: PathBuf,
    /// Public half of `service_account_key`, which verifies them.
    pub service_account_public_key: PathBuf,
    /// Static token file granting the admin token `system:masters`.
    pub token_file: PathBuf,
    /// The admin bearer token.
    pub admin_token: String,
}

fn rcgen_err(what: &str) -> impl FnOnce(rcgen::Error) -> Error + '_ {
    move |e| Error::Pki(format!("{what}: {e}"))
}

impl Pki {
    /// Writes a fresh set into `dir`.
    pub fn create(dir: &Path) -> Result<Self, Error> {
        let ca_key = KeyPair::generate().map_err(rcgen_err("generating the CA key"))?;
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(rcgen_err("CA params"))?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "superset-operator-testkit-ca");
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(rcgen_err("signing the CA"))?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().map_err(rcgen_err("generating the server key"))?;
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "kubernetes".to_owned()])
                .map_err(rcgen_err("server params"))?;
        server_params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .map_err(rcgen_err("signing the server certificate"))?;

        let service_account_key =
            KeyPair::generate().map_err(rcgen_err("generating the service-account key"))?;
        let admin_token = random_token();

        let pki = Self {
            ca_cert: dir.join("ca.crt"),
            ca_pem: ca_cert.pem(),
            server_cert: dir.join("apiserver.crt"),
            server_key: dir.join("apiserver.key"),
            service_account_key: dir.join("service-account.key"),
            service_account_public_key: dir.join("service-account.pub"),
            token_file: dir.join("tokens.csv"),
            admin_token,
        };
        write(&pki.ca_cert, &pki.ca_pem)?;
        write(&pki.server_cert, &server_cert.pem())?;
        write(&pki.server_key, &server_key.serialize_pem())?;
        write(
            &pki.service_account_key,
            &service_account_key.serialize_pem(),
        )?;
        write(
            &pki.service_account_public_key,
            &service_account_key.public_key_pem(),
        )?;
        write(
            &pki.token_file,
            &format!("{},admin,admin,system:masters\n", pki.admin_token),
        )?;
        Ok(pki)
    }
}

fn write(path: &Path, contents: &str) -> Result<(), Error> {
    std::fs::write(path, contents).map_err(|source| Error::Io {
        what: format!("writing {}", path.display()),
        source,
    })
}

/// 32 hex characters from the kernel's random source.
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    if let Ok(mut file) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = file.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

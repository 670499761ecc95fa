//! Certificates and credentials of a throwaway control plane: a CA, the API server's serving
//! certificate for loopback (and the node tier's addresses), the service-account signing key
//! and an admin token. The CA stays in memory, so the node tier can sign its components'
//! certificates with it.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

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
    dir: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

/// What a certificate signed by [`Pki::sign`] says about its holder.
pub struct CertificateSpec<'a> {
    /// File names in the PKI directory: `<name>.crt` and `<name>.key`.
    pub name: &'a str,
    /// The subject's common name: the user name for the API server and kubelet.
    pub common_name: &'a str,
    /// The subject's organisations: the groups for the API server.
    pub organizations: &'a [&'a str],
    /// DNS names the holder serves on (empty for a client certificate).
    pub dns_names: &'a [&'a str],
    /// IP addresses the holder serves on.
    pub ips: &'a [IpAddr],
    /// Whether the holder serves TLS (server auth) or only presents it (client auth).
    pub server: bool,
}

/// Paths of a signed certificate and its key.
#[derive(Clone, Debug)]
pub struct CertificateFiles {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

fn rcgen_err(what: &str) -> impl FnOnce(rcgen::Error) -> Error + '_ {
    move |e| Error::Pki(format!("{what}: {e}"))
}

impl Pki {
    /// Writes a fresh set into `dir`; the API server's certificate is valid for loopback and
    /// `extra_ips`.
    pub fn create(dir: &Path, extra_ips: &[IpAddr]) -> Result<Self, Error> {
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
        // Pods reach the API server as `kubernetes.default.svc` on the first Service address.
        let mut server_params = CertificateParams::new(vec![
            "localhost".to_owned(),
            "kubernetes".to_owned(),
            "kubernetes.default".to_owned(),
            "kubernetes.default.svc".to_owned(),
            "kubernetes.default.svc.cluster.local".to_owned(),
        ])
        .map_err(rcgen_err("server params"))?;
        server_params.subject_alt_names.extend(
            std::iter::once(IpAddr::V4(Ipv4Addr::LOCALHOST))
                .chain(extra_ips.iter().copied())
                .map(SanType::IpAddress),
        );
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
            dir: dir.to_owned(),
            issuer,
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

    /// Signs a certificate for a component with the CA and writes it and its key.
    pub fn sign(&self, spec: &CertificateSpec<'_>) -> Result<CertificateFiles, Error> {
        let what = format!("the {} certificate", spec.name);
        let key = KeyPair::generate().map_err(rcgen_err(&what))?;
        let dns_names: Vec<String> = spec.dns_names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(dns_names).map_err(rcgen_err(&what))?;
        params
            .subject_alt_names
            .extend(spec.ips.iter().copied().map(SanType::IpAddress));
        params
            .distinguished_name
            .push(DnType::CommonName, spec.common_name);
        for organization in spec.organizations {
            params
                .distinguished_name
                .push(DnType::OrganizationName, *organization);
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![if spec.server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(rcgen_err(&what))?;
        let files = CertificateFiles {
            cert: self.dir.join(format!("{}.crt", spec.name)),
            key: self.dir.join(format!("{}.key", spec.name)),
        };
        write(&files.cert, &cert.pem())?;
        write(&files.key, &key.serialize_pem())?;
        Ok(files)
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

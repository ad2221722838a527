//! Throwaway certificate authorities made with the `openssl` CLI.

use std::fs;
use std::path::{Path, PathBuf};

use super::run;

/// A CA and a server certificate it signed.
#[derive(Debug)]
pub struct Pki {
    pub ca_pem: String,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    /// Make a CA and a server certificate for `subject_alt_name` (e.g. `IP:127.0.0.1`).
    pub fn generate(dir: &Path, subject_alt_name: &str) -> Self {
        fs::create_dir_all(dir).unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca_args = vec!["req", "-x509"];
        ca_args.extend(ec);
        ca_args.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Herald Test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        run("openssl", &ca_args, dir);
        let mut csr_args = vec!["req"];
        csr_args.extend(ec);
        csr_args.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=herald-test-server",
        ]);
        run("openssl", &csr_args, dir);
        fs::write(
            dir.join("server.ext"),
            format!(
                "subjectAltName={subject_alt_name}\n\
                 basicConstraints=CA:FALSE\n\
                 keyUsage=digitalSignature\n\
                 extendedKeyUsage=serverAuth\n"
            ),
        )
        .unwrap();
        run(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
            dir,
        );
        Self {
            ca_pem: fs::read_to_string(dir.join("ca.pem")).unwrap(),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        }
    }
}

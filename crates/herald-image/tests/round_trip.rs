//! Byte-exactness as a property: over generated manifests (LF or CRLF, a leading `---` or not,
//! every quote style, comments with and without multi-byte characters, block scalars and other
//! documents around, Docker Hub spelled three ways), setting a new tag changes only the image
//! line, and setting the old tag back gives the original bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use herald_image::{Intent, Repository, apply};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Manifest {
    crlf: bool,
    leading_separator: bool,
    config_map_first: bool,
    quote: &'static str,
    comment: &'static str,
    name: &'static str,
    tag: String,
}

impl Manifest {
    fn render(&self, tag: &str) -> String {
        let mut text = String::new();
        if self.leading_separator {
            text.push_str("---\n");
        }
        if self.config_map_first {
            text.push_str("kind: ConfigMap\ndata:\n  script: |\n    image: nginx:0.1 stays\n  note: >-\n    folded\n    text é\n---\n");
        }
        let q = self.quote;
        text.push_str(&format!(
            "kind: Deployment # ünïcode comment\nspec:\n  template:\n    spec:\n\n      containers:\n        - name: web\n          image: {q}{}:{tag}{q}{}\n          args: [\"a\", 'b', c]\n",
            self.name, self.comment
        ));
        if self.crlf {
            text = text.replace('\n', "\r\n");
        }
        text
    }
}

fn manifests() -> impl Strategy<Value = Manifest> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::sample::select(vec!["", "'", "\""]),
        prop::sample::select(vec!["", " # pinned", "   # é ☕", "\t# tab"]),
        prop::sample::select(vec![
            "nginx",
            "docker.io/library/nginx",
            "index.docker.io/nginx",
        ]),
        "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}",
    )
        .prop_map(
            |(crlf, leading_separator, config_map_first, quote, comment, name, tag)| Manifest {
                crlf,
                leading_separator,
                config_map_first,
                quote,
                comment,
                name,
                tag,
            },
        )
}

fn set(bytes: &[u8], tag: &str) -> herald_image::Edited {
    let intent = Intent::Tag {
        repository: Repository::parse("nginx").unwrap(),
        tag: tag.to_owned(),
    };
    apply(bytes, &[intent]).unwrap()
}

proptest! {
    #[test]
    fn a_new_tag_and_back_is_the_original(manifest in manifests(), new_tag in "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}-rc") {
        let original = manifest.render(&manifest.tag);
        let forward = set(original.as_bytes(), &new_tag);
        prop_assert_eq!(forward.changes.len(), 1);
        prop_assert_eq!(String::from_utf8(forward.bytes.clone()).unwrap(), manifest.render(&new_tag));
        let back = set(&forward.bytes, &manifest.tag);
        prop_assert_eq!(String::from_utf8(back.bytes).unwrap(), original);
    }
}

//! Where images are written in a parsed file: containers' `image:`, Kustomizations' `images:`
//! entries, and scalars carrying a setter marker. The edit and the scan both read these, so
//! what the scan reports is exactly what an edit would touch.

use super::marker::{Marker, marker_after};
use super::path::{Segment, YamlPath};
use super::source::{Mapping, Node, Parsed, Scalar};
use crate::reference::{Reference, Repository};

/// Sequences whose items are containers, wherever they sit (Deployments, CronJobs, bare Pods,
/// and custom kinds that embed a pod template).
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];
const KUSTOMIZATION: &str = "Kustomization";

/// A container's `image:` holding a reference.
#[derive(Debug)]
pub(crate) struct ContainerImage<'p> {
    pub(crate) document: usize,
    pub(crate) path: YamlPath,
    pub(crate) scalar: &'p Scalar,
    pub(crate) reference: Reference,
}

/// An entry of a Kustomization's `images:` list.
#[derive(Debug)]
pub(crate) struct KustomizeImage<'p> {
    pub(crate) document: usize,
    pub(crate) path: YamlPath,
    pub(crate) entry: &'p Mapping,
    /// The repositories its `name` and `newName` name.
    pub(crate) repositories: Vec<Repository>,
    pub(crate) new_tag: Option<&'p Node>,
    /// A `digest` wins over `newTag` in kustomize, so setting the tag would change nothing.
    pub(crate) pinned_by_digest: bool,
}

/// A scalar followed by a setter marker.
#[derive(Debug)]
pub(crate) struct MarkedScalar<'p> {
    pub(crate) document: usize,
    pub(crate) path: YamlPath,
    pub(crate) scalar: &'p Scalar,
    pub(crate) marker: Marker,
}

#[derive(Debug, Default)]
pub(crate) struct Targets<'p> {
    pub(crate) container_images: Vec<ContainerImage<'p>>,
    pub(crate) kustomize_images: Vec<KustomizeImage<'p>>,
    pub(crate) marked: Vec<MarkedScalar<'p>>,
}

/// Every target in the file. `source` is the text `parsed` was read from (markers are
/// comments, which only the text has).
pub(crate) fn find<'p>(source: &str, parsed: &'p Parsed) -> Targets<'p> {
    let mut targets = Targets::default();
    for (document, root) in parsed.documents.iter().enumerate() {
        let mut walker = Walker {
            source,
            document,
            path: Vec::new(),
            targets: &mut targets,
        };
        walker.walk(root);
        kustomize_images(document, root, &mut targets.kustomize_images);
    }
    targets
}

struct Walker<'s, 'p, 't> {
    source: &'s str,
    document: usize,
    path: Vec<PathStep<'p>>,
    targets: &'t mut Targets<'p>,
}

/// A path step borrowed from the tree, made owned only for a target.
#[derive(Clone, Copy)]
enum PathStep<'p> {
    Key(&'p str),
    Index(usize),
}

impl<'p> Walker<'_, 'p, '_> {
    fn walk(&mut self, node: &'p Node) {
        match node {
            Node::Scalar(scalar) => self.scalar(scalar),
            Node::Sequence(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.path.push(PathStep::Index(index));
                    self.walk(item);
                    self.path.pop();
                }
            }
            Node::Mapping(mapping) => {
                for (key, value) in &mapping.entries {
                    self.walk(key);
                    // Only scalar keys make paths; a value under a complex key is still read
                    // for markers, under a placeholder step.
                    let step = key.as_scalar().map_or("?", |key| key.value.as_str());
                    self.path.push(PathStep::Key(step));
                    self.walk(value);
                    self.path.pop();
                }
            }
            Node::Alias => {}
        }
    }

    fn scalar(&mut self, scalar: &'p Scalar) {
        if let Some(marker) = marker_after(self.source, scalar.span.end) {
            self.targets.marked.push(MarkedScalar {
                document: self.document,
                path: self.owned_path(),
                scalar,
                marker,
            });
        }
        if self.is_container_image() {
            if let Ok(reference) = Reference::parse(&scalar.value) {
                self.targets.container_images.push(ContainerImage {
                    document: self.document,
                    path: self.owned_path(),
                    scalar,
                    reference,
                });
            }
        }
    }

    /// `...<containers|initContainers|ephemeralContainers>[i].image`.
    fn is_container_image(&self) -> bool {
        matches!(
            self.path.as_slice(),
            [.., PathStep::Key(list), PathStep::Index(_), PathStep::Key("image")]
                if CONTAINER_LISTS.contains(list)
        )
    }

    fn owned_path(&self) -> YamlPath {
        YamlPath(
            self.path
                .iter()
                .map(|step| match step {
                    PathStep::Key(key) => Segment::Key((*key).to_owned()),
                    PathStep::Index(index) => Segment::Index(*index),
                })
                .collect(),
        )
    }
}

/// `images:` at the root of a kustomization file (whose `kind` is `Kustomization` or absent),
/// and `spec.images` of a Flux Kustomization, which has the same entries.
fn kustomize_images<'p>(document: usize, root: &'p Node, out: &mut Vec<KustomizeImage<'p>>) {
    let kind = root.get_str("kind");
    let mut lists = Vec::new();
    if kind.is_none_or(|kind| kind == KUSTOMIZATION) {
        lists.push((vec!["images"], root.get("images")));
    }
    if kind == Some(KUSTOMIZATION) {
        lists.push((
            vec!["spec", "images"],
            root.get("spec").and_then(|spec| spec.get("images")),
        ));
    }
    for (keys, list) in lists {
        let Some(Node::Sequence(entries)) = list else {
            continue;
        };
        for (index, entry) in entries.iter().enumerate() {
            let Node::Mapping(mapping) = entry else {
                continue;
            };
            let mut path: Vec<Segment> =
                keys.iter().map(|k| Segment::Key((*k).to_owned())).collect();
            path.push(Segment::Index(index));
            out.push(KustomizeImage {
                document,
                path: YamlPath(path),
                entry: mapping,
                repositories: ["name", "newName"]
                    .iter()
                    .filter_map(|key| entry.get_str(key))
                    .filter_map(|name| Repository::parse(name).ok())
                    .collect(),
                new_tag: mapping.get("newTag"),
                pinned_by_digest: mapping.get("digest").is_some(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::source::parse;
    use super::*;

    fn repository(text: &str) -> Repository {
        Repository::parse(text).unwrap()
    }

    #[test]
    fn container_images_in_every_pod_shape() {
        let source = "\
kind: CronJob
spec:
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
            - name: init
              image: busybox:1.36
          containers:
            - name: app
              image: ghcr.io/org/app:1.0 # {\"$imagepolicy\": \"ns:app\"}
            - name: not-a-reference
              image: \"{{ .Values.image }}\"
---
kind: Pod
spec:
  ephemeralContainers:
    - image: debug
  image: not-in-a-container-list:1.0
metadata:
  annotations:
    image: also-not:1.0
";
        let parsed = parse(source).unwrap();
        let targets = find(source, &parsed);
        let found: Vec<_> = targets
            .container_images
            .iter()
            .map(|t| {
                (
                    t.document,
                    t.path.to_string(),
                    t.reference.repository().clone(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (
                    0,
                    "spec.jobTemplate.spec.template.spec.initContainers[0].image".into(),
                    repository("busybox")
                ),
                (
                    0,
                    "spec.jobTemplate.spec.template.spec.containers[0].image".into(),
                    repository("ghcr.io/org/app")
                ),
                (
                    1,
                    "spec.ephemeralContainers[0].image".into(),
                    repository("debug")
                ),
            ]
        );
        assert_eq!(targets.marked.len(), 1);
        assert_eq!(
            targets.marked[0].path.to_string(),
            "spec.jobTemplate.spec.template.spec.containers[0].image"
        );
    }

    #[test]
    fn kustomization_images_with_and_without_kind() {
        let source = "\
images:
  - name: nginx
    newTag: 1.0
  - name: old/name
    newName: ghcr.io/org/app
    digest: sha256:abc
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
spec:
  images:
    - name: redis
---
kind: Deployment
images:
  - name: not-a-kustomization
";
        let parsed = parse(source).unwrap();
        let targets = find(source, &parsed);
        let found: Vec<_> = targets
            .kustomize_images
            .iter()
            .map(|t| {
                (
                    t.document,
                    t.path.to_string(),
                    t.repositories.len(),
                    t.new_tag.is_some(),
                    t.pinned_by_digest,
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (0, "images[0]".into(), 1, true, false),
                (0, "images[1]".into(), 2, false, true),
                (1, "spec.images[0]".into(), 1, false, false),
            ]
        );
        assert_eq!(
            targets.kustomize_images[1].repositories[1],
            repository("ghcr.io/org/app")
        );
    }
}

//! herald-kube

#!/usr/bin/env bash
# Check the Helm chart in deploy/chart with real Helm, and check what it renders.
#
# There is no `helm` CLI to be had from the package registries this project can reach, but the
# PyPI package `helm-sdkpy` ships the Helm v4 Go library (helm.sh/helm/v4 v4.3.0) built as a C
# shared library. This script downloads that wheel once (pinned version and SHA-256), keeps only
# the library under ${HERALD_CACHE:-$HOME/.cache/herald}, and calls it from Python (ctypes):
#
#   1. `helm lint` of the chart (Helm's own linter; warnings count as failures, like --strict).
#   2. `helm install` of the chart for a few sets of values, with the memory release driver,
#      against a small fake Kubernetes API served by this script on 127.0.0.1 (discovery answers,
#      404 for every existing-object lookup, and every create echoed back and recorded). The
#      rendering, the CRD installation from crds/, the kubeVersion check and the ordering are
#      Helm's own; the fake API validates nothing, so this is `helm install --dry-run`, not a
#      test against a real API server.
#   3. Checks on what Helm rendered and sent: every object has apiVersion, kind and a valid
#      metadata.name and the standard labels; the controller's ClusterRole grants exactly the
#      intended rights and nothing with "*"; `herald-action` is bound to nothing; the Deployment
#      runs `herald run` with the expected arguments, probes, security context and resources;
#      the Service exposes http 8080 and metrics 9090; NOTES tells where hooks are served; the
#      web dashboard is off by default (no `--ui`) and ui.enabled adds `--ui` and a NOTES section
#      saying it needs an authenticating proxy; the
#      event store: the defaults run 1 replica on a SQLite file on the `data` volume, PostgreSQL
#      (store.url or store.existingSecret) runs 2 or more and mounts no volume; and
#      deploy/chart/crds/herald.dev.yaml is byte-for-byte deploy/crds/herald.dev.yaml (a copy:
#      refresh it with `cp deploy/crds/herald.dev.yaml deploy/chart/crds/`) and is what Helm
#      installed.
#   4. Monitoring, off by default: no ServiceMonitor and no dashboard ConfigMap unless asked for;
#      with serviceMonitor.enabled, one ServiceMonitor selecting the Service by its labels on a
#      port the Service has, with the values' interval, labels, namespace and relabelings; with
#      grafanaDashboard.enabled, a ConfigMap with the sidecar's label holding
#      deploy/chart/dashboards/herald.json. That dashboard is held to README.md's metrics table
#      (between <!-- metrics:begin --> and <!-- metrics:end -->): every metric its queries use is
#      in the table (histogram series by their family name) and every counter and histogram of the
#      table is in a panel; its queries use the data source, namespace and job variables, and
#      every quantile is histogram_quantile over `sum by (le, ...)` of a bucket rate.
#   5. Values Helm must refuse (the template's `fail`), with a message saying what to set: more
#      than one replica on SQLite (each pod would keep its own event store), and a store.url that
#      is neither PostgreSQL nor SQLite.
#
# With the helm CLI at hand, the same chart is checked by
#   helm lint --strict deploy/chart && helm template herald deploy/chart -n herald --include-crds
#
# Needs: python3 with PyYAML (Debian python3-yaml) and pip (to fetch the wheel once), x86_64.
# Exits non-zero on any failure; the last line is "chart: N passed, M failed".
# Usage: scripts/check-chart.sh [--render DIR]   (--render: also write what Helm rendered for each
# set of values, CRDs excluded, with its NOTES, to DIR/<values>.yaml)
set -euo pipefail

RENDER_DIR=""
if [ "${1:-}" = --render ] && [ -n "${2:-}" ]; then
  mkdir -p "$2"
  RENDER_DIR="$(cd "$2" && pwd)"
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--render DIR]" >&2
  exit 2
fi
cd "$(dirname "$0")/.."

CHART=deploy/chart
CRDS=deploy/crds/herald.dev.yaml
CACHE="${HERALD_CACHE:-$HOME/.cache/herald}"
SDK_VERSION=0.1.32
SDK_WHEEL=helm_sdkpy-${SDK_VERSION}-py3-none-any.whl
SDK_WHEEL_SHA256=bcf5bf73cacc373bebedfb9c988969aa12a9eda86a140deba658fbf28eb789c5
LIB_DIR="$CACHE/helm-sdkpy-$SDK_VERSION"
LIB="$LIB_DIR/libhelm_sdkpy.so"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'check-chart: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  log "installing Debian packages: $*"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@"
}

# A python3 that has PyYAML: the one on PATH, else Debian's (installing python3-yaml if needed).
PY=python3
if ! "$PY" -c 'import yaml' 2>/dev/null; then
  PY=/usr/bin/python3
  "$PY" -c 'import yaml' 2>/dev/null || apt_install python3 python3-yaml
fi

fetch_helm_library() {
  [ "$(uname -m)" = x86_64 ] || die "the Helm library wheel ships linux-amd64 only (this is $(uname -m))"
  local tmp pip=("$PY" -m pip)
  tmp="$(mktemp -d)"
  if ! "${pip[@]}" --version >/dev/null 2>&1; then
    [ -x /usr/bin/python3 ] && /usr/bin/python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
    pip=(/usr/bin/python3 -m pip)
  fi
  log "downloading helm-sdkpy $SDK_VERSION (Helm v4 Go library) into $LIB_DIR"
  # The wheel is pure "py3-none-any" plus the Go library; it declares Python >= 3.12 for its
  # Python wrapper, which this script does not use, hence --python-version.
  "${pip[@]}" download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    -d "$tmp" "helm-sdkpy==$SDK_VERSION"
  echo "$SDK_WHEEL_SHA256  $tmp/$SDK_WHEEL" | sha256sum -c --quiet - \
    || die "$SDK_WHEEL does not have the pinned SHA-256"
  mkdir -p "$LIB_DIR"
  # Extracted beside its final name and then renamed: an interrupted run leaves no half library.
  "$PY" - "$tmp/$SDK_WHEEL" "$LIB.partial" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, open(sys.argv[2], "wb") as out:
    out.write(wheel.read("helm_sdkpy/_lib/linux-amd64/libhelm_sdkpy.so"))
EOF
  mv "$LIB.partial" "$LIB"
  rm -rf "$tmp"
}

[ -s "$LIB" ] || fetch_helm_library

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/cache" "$WORK/config" "$WORK/data"

# HELM_DRIVER is read by the Go runtime from the process's initial environment, so it is set
# here rather than from Python.
HELM_DRIVER=memory HELM_CACHE_HOME="$WORK/cache" HELM_CONFIG_HOME="$WORK/config" \
HELM_DATA_HOME="$WORK/data" KUBECONFIG="$WORK/kubeconfig" \
  "$PY" - "$LIB" "$CHART" "$CRDS" "$WORK" "$RENDER_DIR" <<'PY'
import ctypes
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

LIB, CHART, CRDS, WORK, RENDER_DIR = sys.argv[1:6]

# ---------------------------------------------------------------- results

passed, failed = 0, 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok    {what}")
    else:
        failed += 1
        print(f"FAIL  {what}")
    return ok


# ---------------------------------------------------------------- the Helm library

lib = ctypes.CDLL(LIB)
lib.helm_sdkpy_config_create.argtypes = [ctypes.c_char_p] * 4 + [ctypes.POINTER(ctypes.c_ulonglong)]
lib.helm_sdkpy_config_create.restype = ctypes.c_int
lib.helm_sdkpy_config_destroy.argtypes = [ctypes.c_ulonglong]
lib.helm_sdkpy_lint.argtypes = [ctypes.c_ulonglong, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
lib.helm_sdkpy_lint.restype = ctypes.c_int
lib.helm_sdkpy_install.argtypes = [ctypes.c_ulonglong] + [ctypes.c_char_p] * 5 + [ctypes.POINTER(ctypes.c_void_p)]
lib.helm_sdkpy_install.restype = ctypes.c_int
lib.helm_sdkpy_last_error.restype = ctypes.c_void_p
lib.helm_sdkpy_free.argtypes = [ctypes.c_void_p]


def take_string(ptr):
    if not ptr:
        return ""
    text = ctypes.string_at(ptr).decode()
    lib.helm_sdkpy_free(ptr)
    return text


def last_error():
    # The calling thread's error slot: owned by the library, valid until the next call, never freed.
    ptr = lib.helm_sdkpy_last_error()
    return ctypes.string_at(ptr).decode() if ptr else "unknown error"


def helm_config(namespace, kubeconfig):
    handle = ctypes.c_ulonglong()
    rc = lib.helm_sdkpy_config_create(namespace.encode(), kubeconfig.encode(), None, b"{}", ctypes.byref(handle))
    if rc != 0:
        raise RuntimeError(f"helm configuration: {last_error()}")
    return handle.value


def helm_lint(chart):
    handle = helm_config("default", "")
    out = ctypes.c_void_p()
    rc = lib.helm_sdkpy_lint(handle, chart.encode(), ctypes.byref(out))
    lib.helm_sdkpy_config_destroy(handle)
    if rc != 0:
        raise RuntimeError(f"helm lint: {last_error()}")
    return json.loads(take_string(out.value))


def helm_install(release, namespace, chart, values, kubeconfig):
    handle = helm_config(namespace, kubeconfig)
    options = {
        "create_namespace": False,
        "wait": False,
        "timeout_seconds": 30,
        "server_side_apply": "false",
        "disable_openapi_validation": True,
    }
    out = ctypes.c_void_p()
    rc = lib.helm_sdkpy_install(
        handle, release.encode(), chart.encode(), json.dumps(values).encode(), b"",
        json.dumps(options).encode(), ctypes.byref(out),
    )
    lib.helm_sdkpy_config_destroy(handle)
    if rc != 0:
        raise RuntimeError(last_error())
    return json.loads(take_string(out.value))


# ---------------------------------------------------------------- a fake API server

# What the fake API's discovery offers: (resource, kind, namespaced) per group version. A chart
# object of any other kind makes Helm fail with "no matches for kind".
DISCOVERY = {
    "v1": [
        ("serviceaccounts", "ServiceAccount", True),
        ("services", "Service", True),
        ("secrets", "Secret", True),
        ("configmaps", "ConfigMap", True),
        ("namespaces", "Namespace", False),
        ("pods", "Pod", True),
    ],
    "apps/v1": [("deployments", "Deployment", True)],
    "rbac.authorization.k8s.io/v1": [
        ("clusterroles", "ClusterRole", False),
        ("clusterrolebindings", "ClusterRoleBinding", False),
        ("roles", "Role", True),
        ("rolebindings", "RoleBinding", True),
    ],
    "apiextensions.k8s.io/v1": [("customresourcedefinitions", "CustomResourceDefinition", False)],
    # The Prometheus Operator's, for serviceMonitor.enabled.
    "monitoring.coreos.com/v1": [("servicemonitors", "ServiceMonitor", True)],
}


class FakeApi:
    """Answers discovery, says 404 to every lookup, and records and echoes every create."""

    def __init__(self, kube_version):
        self.kube_version = kube_version
        self.created = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self.reply(*api.get(self.path.split("?")[0]))

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                api.created.append((self.path.split("?")[0], body))
                meta = body.setdefault("metadata", {})
                meta["uid"] = f"00000000-0000-0000-0000-{len(api.created):012d}"
                meta["resourceVersion"] = str(len(api.created))
                self.reply(201, body)

            def do_PUT(self):
                self.reply(*not_found())

            do_PATCH = do_PUT
            do_DELETE = do_PUT

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def get(self, path):
        if path == "/version":
            major, minor = self.kube_version.lstrip("v").split(".")[:2]
            return 200, {"major": major, "minor": minor, "gitVersion": self.kube_version, "platform": "linux/amd64"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
        if path == "/apis":
            groups = []
            for gv in DISCOVERY:
                if "/" in gv:
                    group, version = gv.split("/")
                    ref = {"groupVersion": gv, "version": version}
                    groups.append({"name": group, "versions": [ref], "preferredVersion": ref})
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        for prefix in ("/api/", "/apis/"):
            gv = path[len(prefix):] if path.startswith(prefix) else None
            if gv in DISCOVERY:
                return 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [
                    {"name": r, "singularName": "", "namespaced": ns, "kind": k,
                     "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
                    for r, k, ns in DISCOVERY[gv]]}
        return not_found()

    def kubeconfig(self, path, namespace):
        port = self.server.server_address[1]
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "fake", "user": {"token": "fake"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}],
        }
        with open(path, "w") as f:
            json.dump(config, f)
        return path

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def not_found():
    return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                 "message": "not found"}


# ---------------------------------------------------------------- expectations

with open(os.path.join(CHART, "Chart.yaml")) as f:
    CHART_META = yaml.safe_load(f)
with open(os.path.join(CHART, "values.yaml")) as f:
    DEFAULTS = yaml.safe_load(f)

HERALD_RESOURCES = ["gitrepos", "clustergitrepos", "scheduletriggers", "webhooktriggers", "actions",
                    "clusteractions", "runs"]


def expected_cluster_rights():
    rights = set()
    for r in HERALD_RESOURCES:
        rights |= {("herald.dev", r, v) for v in ("get", "list", "watch", "patch", "update")}
        rights |= {("herald.dev", f"{r}/status", v) for v in ("patch", "update")}
        rights.add(("herald.dev", f"{r}/finalizers", "update"))
    rights |= {("herald.dev", "runs", v) for v in ("create", "delete")}
    # ImageUpdates own nothing, so no finalizers.
    rights |= {("herald.dev", "imageupdates", v) for v in ("get", "list", "watch", "patch", "update")}
    rights |= {("herald.dev", "imageupdates/status", v) for v in ("patch", "update")}
    # Notifiers are read, and only their status written.
    rights |= {("herald.dev", "notifiers", v) for v in ("get", "list", "watch")}
    rights.add(("herald.dev", "notifiers/status", "patch"))
    rights |= {("batch", "jobs", v) for v in ("get", "list", "watch", "create", "delete")}
    rights |= {("", "pods", v) for v in ("get", "list", "watch")}
    rights.add(("", "pods/log", "get"))
    rights |= {("", "secrets", v) for v in ("get", "list", "watch", "create")}
    rights |= {(g, "events", v) for g in ("", "events.k8s.io") for v in ("create", "patch")}
    rights |= {("tekton.dev", r, v) for r in ("customruns", "runs") for v in ("get", "list", "watch")}
    rights |= {("tekton.dev", f"{r}/status", "patch") for r in ("customruns", "runs")}
    rights |= {(g, r, v) for g, r in (("kustomize.toolkit.fluxcd.io", "kustomizations"),
                                      ("helm.toolkit.fluxcd.io", "helmreleases"))
               for v in ("get", "list", "watch")}
    return rights


def rights_of(rules):
    return {(g, r, v) for rule in rules or [] for g in rule.get("apiGroups", [])
            for r in rule.get("resources", []) for v in rule.get("verbs", [])}


def mebibytes(quantity):
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    m = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(quantity))
    return float(m.group(1)) * units.get(m.group(2), 1) / 2**20 if m else None


DNS_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
NAMESPACED = {"ServiceAccount", "Service", "Deployment", "Role", "RoleBinding", "ServiceMonitor", "ConfigMap"}


def canonical(obj):
    """JSON text with sorted keys, and 1.0 written as 1 (YAML `1.0` and Go's JSON `1` are one number)."""

    def norm(x):
        if isinstance(x, dict):
            return {k: norm(v) for k, v in x.items()}
        if isinstance(x, list):
            return [norm(v) for v in x]
        if isinstance(x, float) and x.is_integer():
            return int(x)
        return x

    return json.dumps(norm(obj), sort_keys=True)


def dig(obj, *path, default=None):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def check_release(name, release, namespace, values, want_replicas, rendered, created, notes):
    """The checks on one rendered release; `values` are the overrides given to Helm."""
    merged = json.loads(json.dumps(DEFAULTS))
    for key, value in values.items():
        if isinstance(value, dict):
            merged.setdefault(key, {}).update(value)
        else:
            merged[key] = value
    p = f"[{name}]"
    docs = [d for d in rendered if d is not None]

    bad = {"apiVersion, kind and metadata.name": [], "a DNS name": [], "a namespace": [], "the standard labels": []}
    for d in docs:
        what = f"{d.get('kind')}/{dig(d, 'metadata', 'name')}"
        name_ = str(dig(d, "metadata", "name", default=""))
        if not (d.get("apiVersion") and d.get("kind") and name_):
            bad["apiVersion, kind and metadata.name"].append(what)
        if not (DNS_NAME.fullmatch(name_) and len(name_) <= (63 if d.get("kind") == "Service" else 253)):
            bad["a DNS name"].append(what)
        if d.get("kind") in NAMESPACED and not dig(d, "metadata", "namespace"):
            bad["a namespace"].append(what)
        labels = dig(d, "metadata", "labels", default={}) or {}
        if not (all(labels.get(f"app.kubernetes.io/{k}") for k in ("name", "instance", "version", "managed-by"))
                and labels.get("app.kubernetes.io/managed-by") == "Helm"
                and labels.get("app.kubernetes.io/instance") == release):
            bad["the standard labels"].append(what)
    for what, offenders in bad.items():
        check(not offenders, f"{p} every object has {what}" + (f" (not: {', '.join(offenders)})" if offenders else ""))

    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    sent = [(path, body) for path, body in created if body.get("kind") != "CustomResourceDefinition"]
    check(len(sent) == len(docs), f"{p} Helm created every rendered object ({len(docs)})")

    # The controller's identity and the Jobs' default one.
    controller_sa = merged["serviceAccount"]["name"] or None
    deployments = by_kind.get("Deployment", [])
    if not check(len(deployments) == 1, f"{p} one Deployment"):
        return
    dep = deployments[0]
    pod = dig(dep, "spec", "template", "spec", default={})
    sa_name = pod.get("serviceAccountName")
    check(controller_sa is None or sa_name == controller_sa, f"{p} the Deployment runs as serviceAccount {sa_name}")
    accounts = {(dig(a, "metadata", "namespace"), dig(a, "metadata", "name")) for a in by_kind.get("ServiceAccount", [])}
    check((namespace, sa_name) in accounts, f"{p} the controller's ServiceAccount is created")
    action_namespaces = set()
    if merged["actionServiceAccount"]["create"]:
        action_namespaces = {namespace, *merged["actionServiceAccount"]["namespaces"]}
    check({ns for ns, n in accounts if n == "herald-action"} == action_namespaces,
          f"{p} ServiceAccount herald-action in exactly {sorted(action_namespaces) or 'no namespace'}")

    # RBAC: exactly the intended rights, no "*", bound to the controller only.
    roles = by_kind.get("ClusterRole", [])
    if check(len(roles) == 1, f"{p} one ClusterRole"):
        rules = roles[0].get("rules", [])
        stars = [r for r in rules for f in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs")
                 if any("*" in str(x) for x in r.get(f, []))]
        check(not stars, f"{p} ClusterRole: no '*' in any apiGroups, resources or verbs")
        check(all(not r.get("nonResourceURLs") for r in rules), f"{p} ClusterRole: no nonResourceURLs")
        got, want = rights_of(rules), expected_cluster_rights()
        check(got == want, f"{p} ClusterRole grants exactly the intended rights"
              + (f" (extra: {sorted(got - want)}, missing: {sorted(want - got)})" if got != want else ""))
    ns_roles = by_kind.get("Role", [])
    if check(len(ns_roles) == 1, f"{p} one Role"):
        check(dig(ns_roles[0], "metadata", "namespace") == namespace, f"{p} Role is in the release namespace")
        check(rights_of(ns_roles[0].get("rules")) == {("coordination.k8s.io", "leases", v) for v in ("get", "create", "update")},
              f"{p} Role grants leases get/create/update only")
    bindings = by_kind.get("ClusterRoleBinding", []) + by_kind.get("RoleBinding", [])
    check(len(bindings) == 2, f"{p} one ClusterRoleBinding and one RoleBinding")
    role_names = {("ClusterRole", dig(r, "metadata", "name")) for r in roles} | {("Role", dig(r, "metadata", "name")) for r in ns_roles}
    for b in bindings:
        what = f"{b['kind']}/{dig(b, 'metadata', 'name')}"
        check((dig(b, "roleRef", "kind"), dig(b, "roleRef", "name")) in role_names, f"{p} {what} refers to the chart's role")
        check(b.get("subjects") == [{"kind": "ServiceAccount", "name": sa_name, "namespace": namespace}],
              f"{p} {what} binds the controller's ServiceAccount only")

    # The controller.
    replicas = dig(dep, "spec", "replicas")
    check(replicas == want_replicas == merged["replicas"], f"{p} replicas: {want_replicas}"
          + ("" if replicas == want_replicas == merged["replicas"] else f" (rendered {replicas}, values {merged['replicas']})"))
    selector = dig(dep, "spec", "selector", "matchLabels", default={})
    pod_labels = dig(dep, "spec", "template", "metadata", "labels", default={})
    check(selector and all(pod_labels.get(k) == v for k, v in selector.items()), f"{p} the selector matches the pod labels")
    containers = pod.get("containers", [])
    if not check(len(containers) == 1, f"{p} one container"):
        return
    c = containers[0]
    image = f"{merged['image']['repository']}:{merged['image']['tag'] or CHART_META['appVersion']}"
    check(c.get("image") == image, f"{p} image {image}")
    check(c.get("imagePullPolicy") == merged["image"]["pullPolicy"], f"{p} imagePullPolicy {merged['image']['pullPolicy']}")
    args = c.get("args", [])
    want_args = ["run", "--namespace", namespace, "--listen", "0.0.0.0:8080", "--metrics-listen", "0.0.0.0:9090"]
    ui = bool(merged["ui"]["enabled"])
    if ui:
        want_args.append("--ui")
    check(args[:len(want_args)] == want_args and args[len(want_args):] == merged["extraArgs"],
          f"{p} the container runs `herald {' '.join(args)}`")
    check(("--ui" in args) == ui, f"{p} the web dashboard is {'on (--ui)' if ui else 'off (no --ui)'}, as ui.enabled says")
    env = {e["name"]: e for e in c.get("env", [])}
    check(dig(env, "HERALD_CLONER_IMAGE", "value") == image, f"{p} HERALD_CLONER_IMAGE is the same image")
    for e in merged["extraEnv"]:
        check(env.get(e["name"]) == e, f"{p} extra env {e['name']}")
    # Links and traces: set only when asked for (no empty variables, which would turn traces on).
    external = merged.get("externalUrl") or None
    check(dig(env, "HERALD_EXTERNAL_URL", "value") == external, f"{p} HERALD_EXTERNAL_URL {external}")
    otlp = dig(merged, "tracing", "otlpEndpoint") or None
    check(dig(env, "OTEL_EXPORTER_OTLP_ENDPOINT", "value") == otlp, f"{p} OTEL_EXPORTER_OTLP_ENDPOINT {otlp}")
    if otlp:
        check(dig(env, "OTEL_EXPORTER_OTLP_PROTOCOL", "value") == merged["tracing"]["otlpProtocol"]
              and dig(env, "OTEL_SERVICE_NAME", "value") == merged["tracing"]["serviceName"],
              f"{p} the OTLP protocol and service name")
    else:
        check(not any(k.startswith("OTEL_") for k in env), f"{p} no OTEL_ variable without an endpoint")

    # The event store: PostgreSQL (store.url postgres://, or a Secret, taken to hold a PostgreSQL
    # URL) for any number of replicas; else a SQLite file on the `data` volume, and one replica.
    store = merged["store"]
    url = str(store.get("url") or "")
    postgres = bool(store.get("existingSecret")) or url.startswith(("postgres://", "postgresql://"))
    if store.get("existingSecret"):
        want_env = {"name": "HERALD_STORE", "valueFrom": {"secretKeyRef": {
            "name": store["existingSecret"], "key": store.get("existingSecretKey", DEFAULTS["store"]["existingSecretKey"])}}}
    else:
        want_env = {"name": "HERALD_STORE", "value": url or "/var/lib/herald/herald.db"}
    shown = want_env.get("value") or f"from Secret {store['existingSecret']} key {dig(want_env, 'valueFrom', 'secretKeyRef', 'key')}"
    check(env.get("HERALD_STORE") == want_env, f"{p} HERALD_STORE {shown}"
          + ("" if env.get("HERALD_STORE") == want_env else f" (got {env.get('HERALD_STORE')})"))
    mounts = {m["name"]: m.get("mountPath") for m in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    # Shared secrets arrive as files from a mounted Secret, never as values in the environment.
    for key, volume, var, folder in (("flux", "flux-secret", "HERALD_FLUX_SECRET_FILE", "flux"),
                                     ("apiToken", "api-token", "HERALD_API_TOKEN_FILE", "api-token")):
        secret_name, secret_key = dig(merged, key, "secretName"), dig(merged, key, "secretKey")
        if secret_name:
            path = f"/var/run/herald/{folder}/{secret_key}"
            check(dig(env, var, "value") == path and mounts.get(volume) == f"/var/run/herald/{folder}"
                  and dig(volumes, volume, "secret", "secretName") == secret_name
                  and dig(volumes, volume, "secret", "items") == [{"key": secret_key, "path": secret_key}],
                  f"{p} {var} is {path}, key {secret_key} of Secret {secret_name} mounted read-only")
        else:
            check(var not in env and volume not in mounts, f"{p} no {var} without {key}.secretName")
    if postgres:
        check("data" not in mounts and "data" not in volumes, f"{p} PostgreSQL store: no `data` volume")
    else:
        claim = dig(store, "sqlite", "existingClaim")
        data = volumes.get("data", {})
        check(mounts.get("data") == "/var/lib/herald"
              and (dig(data, "persistentVolumeClaim", "claimName") == claim if claim else "emptyDir" in data),
              f"{p} SQLite store: the `data` volume at /var/lib/herald, "
              + (f"PersistentVolumeClaim {claim}" if claim else "an emptyDir"))
        check(replicas == 1, f"{p} SQLite store: exactly one replica (each pod has its own file)")
    ports = {pt["name"]: pt["containerPort"] for pt in c.get("ports", [])}
    check(ports == {"http": 8080, "metrics": 9090}, f"{p} container ports http 8080, metrics 9090")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = dig(c, probe, "httpGet", default={})
        check(get.get("path") == path and ports.get(get.get("port"), get.get("port")) == 8080,
              f"{p} {probe} GET {path} on 8080")
    sc = c.get("securityContext", {})
    check(sc.get("runAsNonRoot") is True and sc.get("readOnlyRootFilesystem") is True
          and sc.get("allowPrivilegeEscalation") is False and dig(sc, "capabilities", "drop") == ["ALL"]
          and not dig(sc, "capabilities", "add") and not sc.get("privileged")
          and dig(sc, "seccompProfile", "type") == "RuntimeDefault",
          f"{p} container securityContext: non-root, read-only root, no escalation, drop ALL, RuntimeDefault")
    check(dig(pod, "securityContext", "runAsNonRoot") is True, f"{p} pod securityContext: runAsNonRoot")
    check(not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC"), f"{p} no host namespaces")
    res = c.get("resources", {})
    req, lim = mebibytes(dig(res, "requests", "memory")), mebibytes(dig(res, "limits", "memory"))
    check(dig(res, "requests", "cpu") and req and lim and 40 <= req <= lim,
          f"{p} resources: cpu request, memory request >= 40Mi (RSS target) and <= limit ({req}Mi / {lim}Mi)")
    annotations = dig(dep, "spec", "template", "metadata", "annotations", default={}) or {}
    scrape = merged["metrics"]["scrapeAnnotations"]
    check((annotations.get("prometheus.io/scrape") == "true" and annotations.get("prometheus.io/port") == "9090")
          if scrape else "prometheus.io/scrape" not in annotations,
          f"{p} Prometheus scrape annotations {'present' if scrape else 'absent'}")
    for key, value in merged["podAnnotations"].items():
        check(annotations.get(key) == value, f"{p} pod annotation {key}")

    # The Service.
    services = by_kind.get("Service", [])
    if check(len(services) == 1, f"{p} one Service"):
        svc = services[0]
        sports = {pt["name"]: (pt["port"], pt["targetPort"]) for pt in dig(svc, "spec", "ports", default=[])}
        check(sports == {"http": (merged["service"]["httpPort"], "http"), "metrics": (merged["service"]["metricsPort"], "metrics")},
              f"{p} Service ports http {merged['service']['httpPort']}, metrics {merged['service']['metricsPort']}")
        sel = dig(svc, "spec", "selector", default={})
        check(sel and all(pod_labels.get(k) == v for k, v in sel.items()), f"{p} the Service selects the controller's pods")

    check_monitoring(p, values, merged, namespace, by_kind, services[0] if len(services) == 1 else None)

    check("/hooks/{namespace}/{trigger}[/{source}]" in notes, f"{p} NOTES tell where hooks are served")
    check(("/ui/" in notes and "authenticating proxy" in notes) == ui,
          f"{p} NOTES " + ("tell where the web dashboard is and that it needs an authenticating proxy" if ui
                           else "say nothing of the web dashboard"))


def check_monitoring(p, values, merged, namespace, by_kind, svc):
    """The ServiceMonitor and the dashboard ConfigMap: absent unless `values` (the overrides, not the
    defaults: both are off by default) enable them, else as the values say."""
    sm_values = merged["serviceMonitor"]
    monitors = by_kind.get("ServiceMonitor", [])
    if not dig(values, "serviceMonitor", "enabled"):
        check(not monitors, f"{p} no ServiceMonitor (off by default)"
              + (f" (rendered {len(monitors)})" if monitors else ""))
    elif check(len(monitors) == 1, f"{p} exactly one ServiceMonitor" + (f" (rendered {len(monitors)})" if len(monitors) != 1 else "")):
        sm = monitors[0]
        want_ns = sm_values["namespace"] or namespace
        check(dig(sm, "apiVersion") == "monitoring.coreos.com/v1" and dig(sm, "metadata", "namespace") == want_ns,
              f"{p} ServiceMonitor monitoring.coreos.com/v1 in namespace {want_ns}")
        labels = dig(sm, "metadata", "labels", default={}) or {}
        missing = {k: v for k, v in sm_values["labels"].items() if labels.get(k) != v}
        check(not missing, f"{p} ServiceMonitor carries the labels of serviceMonitor.labels {sm_values['labels']}"
              + (f" (missing: {missing})" if missing else ""))
        match = dig(sm, "spec", "selector", "matchLabels", default={}) or {}
        svc_labels = dig(svc, "metadata", "labels", default={}) or {}
        check(bool(match) and not dig(sm, "spec", "selector", "matchExpressions")
              and all(svc_labels.get(k) == v for k, v in match.items()),
              f"{p} the ServiceMonitor's selector {match} matches the Service's labels")
        check(dig(sm, "spec", "namespaceSelector", "matchNames") == [dig(svc, "metadata", "namespace")],
              f"{p} the ServiceMonitor looks for the Service in {dig(svc, 'metadata', 'namespace')} only")
        endpoints = dig(sm, "spec", "endpoints", default=[]) or []
        if check(len(endpoints) == 1, f"{p} the ServiceMonitor has one endpoint"):
            ep = endpoints[0]
            svc_ports = {pt.get("name"): pt for pt in dig(svc, "spec", "ports", default=[])}
            check(ep.get("port") in svc_ports and svc_ports[ep["port"]].get("targetPort") == "metrics",
                  f"{p} the ServiceMonitor's endpoint port {ep.get('port')!r} is a Service port, the one onto the container's metrics port")
            check(ep.get("path") == "/metrics", f"{p} the ServiceMonitor scrapes /metrics")
            for key in ("interval", "scrapeTimeout"):
                want = sm_values[key] or None
                shown = want or "unset (Prometheus' own)"
                check(ep.get(key) == want, f"{p} the ServiceMonitor's {key} is {shown}"
                      + ("" if ep.get(key) == want else f" (rendered {ep.get(key)})"))
            for key in ("relabelings", "metricRelabelings"):
                want = sm_values[key] or None
                check(ep.get(key) == want, f"{p} the ServiceMonitor's {key} are serviceMonitor.{key}"
                      + ("" if ep.get(key) == want else f" (rendered {ep.get(key)})"))

    gd_values = merged["grafanaDashboard"]
    config_maps = by_kind.get("ConfigMap", [])
    if not dig(values, "grafanaDashboard", "enabled"):
        check(not config_maps, f"{p} no dashboard ConfigMap (off by default)"
              + (f" (rendered {len(config_maps)})" if config_maps else ""))
    elif check(len(config_maps) == 1, f"{p} exactly one ConfigMap, the dashboard's"):
        cm = config_maps[0]
        want_ns = gd_values["namespace"] or namespace
        check(dig(cm, "metadata", "namespace") == want_ns, f"{p} the dashboard ConfigMap is in namespace {want_ns}")
        labels = dig(cm, "metadata", "labels", default={}) or {}
        key, value = gd_values["labelKey"], str(gd_values["labelValue"])
        check(labels.get(key) == value, f"{p} the dashboard ConfigMap has the sidecar's label {key}: {value!r}"
              + ("" if labels.get(key) == value else f" (labels: {labels})"))
        missing = {k: v for k, v in {**gd_values["labels"], **gd_values["annotations"]}.items()
                   if labels.get(k) != v and dig(cm, "metadata", "annotations", k) != v}
        check(not missing, f"{p} the dashboard ConfigMap has the extra labels and annotations"
              + (f" (missing: {missing})" if missing else ""))
        data = cm.get("data") or {}
        if check(list(data) == ["herald.json"], f"{p} the dashboard ConfigMap holds herald.json alone (got {list(data)})"):
            try:
                shipped = json.loads(data["herald.json"])
            except ValueError as e:
                check(False, f"{p} the dashboard ConfigMap's herald.json is JSON: {e}")
            else:
                check(shipped == DASHBOARD, f"{p} the dashboard ConfigMap's herald.json parses and is {DASHBOARD_FILE}")


def metrics_table(path):
    """README's metrics table, {name: type}, from between its metrics:begin and metrics:end markers."""
    with open(path) as f:
        text = f.read()
    m = re.search(r"<!-- metrics:begin -->(.*?)<!-- metrics:end -->", text, re.S)
    if not m:
        return {}
    return {name: kind for name, kind in re.findall(r"^\|\s*`(\w+)`\s*\|\s*(\w+)\s*\|", m.group(1), re.M)}


def dashboard_panels(panels):
    for panel in panels or []:
        yield panel
        yield from dashboard_panels(panel.get("panels"))


def check_dashboard(dash, table):
    """The dashboard against README's metrics table, and the shape of its queries."""
    what = DASHBOARD_FILE
    check(bool(table) and all(k in ("counter", "gauge", "histogram") for k in table.values()),
          f"README.md's metrics table is read: {len(table)} metrics, each a counter, gauge or histogram")
    check(isinstance(dash.get("schemaVersion"), int) and dash["schemaVersion"] >= 39 and dash.get("uid") and dash.get("title"),
          f"{what}: a dashboard with uid, title and schemaVersion >= 39 (got {dash.get('schemaVersion')})")
    variables = {v.get("name"): v for v in dig(dash, "templating", "list", default=[]) or []}
    check(dig(variables, "datasource", "type") == "datasource" and dig(variables, "datasource", "query") == "prometheus",
          f"{what}: a `datasource` variable of type datasource, prometheus")
    check(all(dig(variables, n, "type") == "query" for n in ("namespace", "job")), f"{what}: `namespace` and `job` query variables")
    panels = [pn for pn in dashboard_panels(dash.get("panels")) if pn.get("type") != "row"]
    ids = [pn.get("id") for pn in dashboard_panels(dash.get("panels"))]
    check(len(ids) == len(set(ids)) and None not in ids, f"{what}: every panel has its own id")
    ds = {"type": "prometheus", "uid": "${datasource}"}
    off = [pn.get("title") for pn in panels if pn.get("datasource") != ds
           or any(t.get("datasource") != ds for t in pn.get("targets") or [])]
    check(not off, f"{what}: every panel and query uses the ${{datasource}} variable" + (f" (not: {off})" if off else ""))
    exprs = [t.get("expr", "") for pn in panels for t in pn.get("targets") or []]
    check(len(exprs) >= len(table) and all(exprs), f"{what}: {len(exprs)} queries in {len(panels)} panels, none empty")
    queries = [dig(v, "query", "query", default=v.get("query")) for n, v in variables.items() if n != "datasource"]

    # Names: every one a metric of the table, or a histogram's series (_bucket, _sum, _count).
    def family(name):
        if name in table:
            return name
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        return base if base != name and table.get(base) == "histogram" else None

    used = {n for e in exprs for n in re.findall(r"\bherald_\w+", e)}
    unknown = sorted(n for n in used | {n for q in queries for n in re.findall(r"\bherald_\w+", str(q))} if not family(n))
    check(bool(used) and not unknown, f"{what}: every metric its queries use is in README.md's metrics table"
          + (f" (not in it: {unknown})" if unknown else ""))
    families = {family(n) for n in used}
    uncovered = sorted(n for n, k in table.items() if k in ("counter", "histogram") and n not in families)
    check(not uncovered, f"{what}: every counter and histogram of README.md's metrics table is in a panel"
          + (f" (in none: {uncovered})" if uncovered else ""))
    # Every series selected for the chosen namespace and job.
    unscoped = sorted({e for e in exprs for sel in re.findall(r"\bherald_\w+(\{[^}]*\})?", e)
                       if 'namespace=~"$namespace"' not in sel or 'job=~"$job"' not in sel})
    check(not unscoped, f"{what}: every series is selected by namespace=~\"$namespace\" and job=~\"$job\""
          + (f" (not in: {unscoped})" if unscoped else ""))
    # Quantiles: histogram_quantile(q, sum by (le, ...) (rate(X_bucket{...}[$__rate_interval]))), and buckets
    # nowhere else.
    quantile = re.compile(r"histogram_quantile\((0(\.\d+)?|1), sum by \(le(, \w+)*\) \(rate\(herald_\w+_bucket\{[^}]*\}\[\$__rate_interval\]\)\)\)")
    bad = [e for e in exprs if ("histogram_quantile" in e or "_bucket" in e)
           and not (len(quantile.findall(e)) == e.count("histogram_quantile") == e.count("_bucket"))]
    check(not bad, f"{what}: every quantile is histogram_quantile over sum by (le, ...) of a _bucket rate over $__rate_interval"
          + (f" (not: {bad})" if bad else ""))
    rates = re.findall(r"\b(?:rate|increase)\(\w+\{[^}]*\}\[([^\]]*)\]", " ".join(exprs))
    check(rates and set(rates) == {"$__rate_interval"}, f"{what}: every rate is over $__rate_interval (got {sorted(set(rates))})")


# ---------------------------------------------------------------- run

with open(CRDS, "rb") as f:
    crds_bytes = f.read()
chart_crds = os.path.join(CHART, "crds", "herald.dev.yaml")
copy_bytes = open(chart_crds, "rb").read() if os.path.exists(chart_crds) else None
check(copy_bytes == crds_bytes, f"{chart_crds} is identical to {CRDS}"
      + ("" if copy_bytes == crds_bytes else f" (refresh: cp {CRDS} {CHART}/crds/)"))
extra = sorted(set(os.listdir(os.path.join(CHART, "crds"))) - {"herald.dev.yaml"}) if os.path.isdir(os.path.join(CHART, "crds")) else []
check(not extra, f"{CHART}/crds holds nothing else" + (f" (found {extra})" if extra else ""))
want_crds = [d for d in yaml.safe_load_all(crds_bytes) if d]
check(len(want_crds) == 9, f"{CRDS} holds the nine CRDs")

DASHBOARD_FILE = os.path.join(CHART, "dashboards", "herald.json")
try:
    with open(DASHBOARD_FILE) as f:
        DASHBOARD = json.load(f)
except (OSError, ValueError) as e:
    DASHBOARD = None
    check(False, f"{DASHBOARD_FILE} is JSON: {e}")
else:
    check(True, f"{DASHBOARD_FILE} is JSON")
    check_dashboard(DASHBOARD, metrics_table("README.md"))

lint = helm_lint(CHART)
problems = [m for m in lint.get("Messages") or [] if m.get("Severity", 0) >= 2]
for m in problems:
    print(f"      helm lint: {['', 'INFO', 'WARNING', 'ERROR'][min(m['Severity'], 3)]} in {m.get('Path')}")
check(not problems and not lint.get("Errors"), "helm lint --strict (Helm v4 library): no warnings or errors")

# (name, release, namespace, values, Kubernetes version, the replicas it must run)
SCENARIOS = [
    ("defaults", "herald", "herald", {}, "v1.30.0", 1),
    ("defaults on Kubernetes 1.20", "herald", "herald", {}, "v1.20.2", 1),
    ("overrides", "ci", "platform", {
        "replicas": 3,
        "store": {"url": "postgresql://herald@db.example:5432/herald?sslmode=require"},
        "image": {"repository": "registry.example/herald", "tag": "1.2.3", "pullPolicy": "Always"},
        "serviceAccount": {"name": "herald-controller", "annotations": {"example.com/role": "x"}},
        "actionServiceAccount": {"create": True, "namespaces": ["team-a", "platform"]},
        "metrics": {"scrapeAnnotations": False},
        "extraArgs": ["--log-format", "text"],
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.example:3128"}],
        "podAnnotations": {"example.com/team": "gitops"},
        "service": {"httpPort": 80, "metricsPort": 9100},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Exists"}],
        "flux": {"secretName": "flux-hmac"},
        "apiToken": {"secretName": "herald-api", "secretKey": "bearer"},
        "externalUrl": "https://herald.example.com",
        "tracing": {"otlpEndpoint": "http://otel-collector.observability:4317", "otlpProtocol": "grpc"},
    }, "v1.30.0", 3),
    ("no herald-action ServiceAccount", "herald", "herald",
     {"actionServiceAccount": {"create": False}, "fullnameOverride": "gitops-herald"}, "v1.30.0", 1),
    ("2 replicas on PostgreSQL", "herald", "herald",
     {"replicas": 2, "store": {"url": "postgres://herald@postgres.herald.svc:5432/herald"}}, "v1.30.0", 2),
    ("2 replicas on a store Secret", "herald", "herald",
     {"replicas": 2, "store": {"existingSecret": "herald-store", "existingSecretKey": "dsn"}}, "v1.30.0", 2),
    ("SQLite URL on a claim", "herald", "herald",
     {"store": {"url": "sqlite:///var/lib/herald/events.db", "sqlite": {"existingClaim": "herald-data"}}},
     "v1.30.0", 1),
    ("web dashboard on", "herald", "herald", {"ui": {"enabled": True}}, "v1.30.0", 1),
    ("ServiceMonitor and dashboard on", "herald", "herald",
     {"serviceMonitor": {"enabled": True}, "grafanaDashboard": {"enabled": True}}, "v1.30.0", 1),
    ("ServiceMonitor and dashboard with overrides", "ci", "platform", {
        "service": {"metricsPort": 9100},
        "serviceMonitor": {
            "enabled": True, "namespace": "monitoring", "labels": {"release": "prometheus"},
            "interval": "15s", "scrapeTimeout": "",
            "relabelings": [{"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}],
            "metricRelabelings": [{"action": "drop", "sourceLabels": ["__name__"], "regex": "herald_store_.*"}],
        },
        "grafanaDashboard": {"enabled": True, "namespace": "grafana", "labelKey": "grafana.io/dashboard",
                             "labelValue": "herald", "labels": {"example.com/team": "platform"},
                             "annotations": {"grafana_folder": "Herald"}},
    }, "v1.30.0", 1),
]

# (name, values, what Helm's error must say): values the chart must refuse to render.
MULTI_REPLICA_SQLITE = ["PostgreSQL", "own file", "store.url", "postgres://", "store.existingSecret", "replicas: 1"]
REFUSALS = [
    ("2 replicas on the default SQLite store", {"replicas": 2}, ["replicas: 2 needs a PostgreSQL event store"] + MULTI_REPLICA_SQLITE),
    ("3 replicas on a sqlite: URL", {"replicas": 3, "store": {"url": "sqlite:/var/lib/herald/herald.db"}},
     ["replicas: 3 needs a PostgreSQL event store"] + MULTI_REPLICA_SQLITE),
    ("a store.url neither PostgreSQL nor SQLite", {"store": {"url": "mysql://db/herald"}},
     ['store.url "mysql://db/herald"', "postgres://", "sqlite:"]),
]

for name, release, namespace, values, kube_version, want_replicas in SCENARIOS:
    api = FakeApi(kube_version)
    try:
        result = helm_install(release, namespace, CHART, values,
                              api.kubeconfig(os.path.join(WORK, "kubeconfig"), namespace))
    except RuntimeError as e:
        check(False, f"[{name}] helm install (rendering) succeeds: {e}")
        continue
    finally:
        api.close()
    check(True, f"[{name}] helm install (rendering) of release {release} in {namespace} on {kube_version}")
    try:
        rendered = list(yaml.safe_load_all(result.get("manifest", "")))
    except yaml.YAMLError as e:
        check(False, f"[{name}] the rendered manifest is YAML: {e}")
        continue
    check(True, f"[{name}] the rendered manifest is YAML ({len([d for d in rendered if d])} objects)")
    if RENDER_DIR:
        with open(os.path.join(RENDER_DIR, re.sub(r"[^a-z0-9.]+", "-", name.lower()) + ".yaml"), "w") as f:
            notes = dig(result, "info", "notes", default="")
            f.write("# NOTES.txt:\n" + "".join(f"#   {line}\n" for line in notes.splitlines()))
            f.write(result.get("manifest", ""))
    sent_crds = [body for path, body in api.created if body.get("kind") == "CustomResourceDefinition"]
    for body in sent_crds:
        for key in ("uid", "resourceVersion"):
            body["metadata"].pop(key, None)
    check(sorted(canonical(c) for c in sent_crds) == sorted(canonical(c) for c in want_crds),
          f"[{name}] Helm installed exactly the CRDs of {CRDS}")
    check_release(name, release, namespace, values, want_replicas, rendered, api.created,
                  dig(result, "info", "notes", default=""))

for name, values, wanted in REFUSALS:
    api = FakeApi("v1.30.0")
    try:
        helm_install("herald", "herald", CHART, values, api.kubeconfig(os.path.join(WORK, "kubeconfig"), "herald"))
        error = None
    except RuntimeError as e:
        error = str(e)
    finally:
        api.close()
    if not check(error is not None, f"[refused: {name}] Helm refuses to render {json.dumps(values)}"
                 + ("" if error is not None else ": it rendered")):
        continue
    missing = [w for w in wanted if w not in error]
    check(not missing, f"[refused: {name}] the error says what to set: {error}"
          + (f" (missing: {missing})" if missing else ""))
    objects = [body.get("kind") for path, body in api.created if body.get("kind") != "CustomResourceDefinition"]
    check(not objects, f"[refused: {name}] nothing but CRDs was sent to the API" + (f" (sent {objects})" if objects else ""))

print(f"chart: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY

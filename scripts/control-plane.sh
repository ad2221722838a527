#!/usr/bin/env bash
# A real Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager v1.20.2) built
# only from Debian bookworm packages, for Herald's cluster tests and for trying Herald by hand.
#
#   control-plane.sh build               build the binaries once into the cache (about 5 min cold)
#   control-plane.sh bin-dir             print the directory holding the binaries
#   control-plane.sh start [--dir DIR]   start a cluster in the background, print `export KUBECONFIG=...`
#   control-plane.sh stop  [--dir DIR]   stop the cluster started in DIR
#   control-plane.sh run    --dir DIR    for test harnesses: start, print `ready KUBECONFIG`, then stay
#                                        in the foreground until stdin closes or a signal arrives, and
#                                        stop the cluster and remove its files
#
# Environment: HERALD_CACHE (default ~/.cache/herald), HERALD_K8S_BIN (use binaries from there).
# No kubelet or scheduler runs: Pods stay Pending unless something sets their status.
set -euo pipefail

K8S_VERSION=v1.20.2
CACHE=${HERALD_CACHE:-$HOME/.cache/herald}
BUILD_ROOT=$CACHE/k8s-$K8S_VERSION
BIN=${HERALD_K8S_BIN:-$BUILD_ROOT/bin}
BINARIES=(etcd kube-apiserver kube-controller-manager)

say() { printf 'control-plane: %s\n' "$*"; }
die() { printf 'control-plane: error: %s\n' "$*" >&2; exit 1; }

have_binaries() {
  local b
  for b in "${BINARIES[@]}"; do [ -x "$1/$b" ] || return 1; done
  "$1/kube-apiserver" --version 2>/dev/null | grep -qF "$K8S_VERSION"
}

# ---------------------------------------------------------------------------------------------
# build

# A private apt state reusing the machine's own Debian sources plus their source (deb-src)
# entries, so the build changes nothing on the system and needs no root.
setup_private_apt() {
  local apt=$1
  mkdir -p "$apt"/{lists/partial,cache/archives/partial,parts}
  : > "$apt/sources.list"
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    sed 's/^Types: deb$/Types: deb deb-src/' "$f" > "$apt/parts/$(basename "$f")"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] || continue
    sed -n 's/^deb \(.*\)/deb \1\ndeb-src \1/p' "$f" >> "$apt/sources.list"
  done
  {
    echo "Dir::Etc::SourceList \"$apt/sources.list\";"
    echo "Dir::Etc::SourceParts \"$apt/parts\";"
    echo "Dir::State::Lists \"$apt/lists\";"
    echo "Dir::Cache \"$apt/cache\";"
    # As root apt downloads as the `_apt` user, which cannot write into a private cache dir.
    [ "$(id -u)" -ne 0 ] || echo 'APT::Sandbox::User "root";'
  } > "$apt/apt.conf"
}

build() {
  if have_binaries "$BUILD_ROOT/bin"; then
    say "binaries present in $BUILD_ROOT/bin"
    return
  fi
  mkdir -p "$CACHE"
  # Two builds at once would only waste time; the second waits and then finds the cache.
  exec 9>"$CACHE/.k8s-build.lock"
  flock 9
  if have_binaries "$BUILD_ROOT/bin"; then
    say "binaries present in $BUILD_ROOT/bin"
    return
  fi

  local t0=$SECONDS
  # Trees left by a build that was killed outright; the lock says none is running now.
  rm -rf "$CACHE"/.k8s-build.*/
  # Built next to the cache (same filesystem) so the final rename is atomic.
  W=$(mktemp -d "$CACHE/.k8s-build.XXXXXX")
  log=$W/build.log
  trap 'rc=$?; [ $rc -eq 0 ] || { say "build failed; end of its log:"; tail -n 30 "$log"; } >&2; rm -rf "$W"' EXIT
  trap 'exit 130' INT TERM HUP
  mkdir -p "$W"/{debs,root,src,gopath/src/k8s.io,out/bin}

  say "fetching package lists (private apt state)"
  setup_private_apt "$W/apt"
  export APT_CONFIG=$W/apt/apt.conf
  apt-get -qq update >>"$log" 2>&1

  say "downloading Go 1.19, etcd, rsync, reflect2 (.debs, unpacked, not installed)"
  (cd "$W/debs" && apt-get -qq download golang-1.19-go golang-1.19-src etcd-server rsync libpopt0 \
    golang-github-modern-go-reflect2-dev >>"$log" 2>&1)
  local d
  for d in "$W"/debs/*.deb; do dpkg-deb -x "$d" "$W/root"; done

  say "downloading the kubernetes source package"
  (cd "$W/src" && apt-get -qq source --download-only kubernetes >>"$log" 2>&1 &&
    tar xzf kubernetes_*.orig.tar.gz)
  local k
  k=$(find "$W/src" -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)
  [ -n "$k" ] || die "kubernetes source tree not found"

  # Kubernetes 1.20 vendors reflect2 1.0.1, which crashes under Go >= 1.18 on the first
  # custom-object write ("fatal error: fault"); Debian's 1.0.2 works.
  local r=$k/vendor/github.com/modern-go/reflect2
  rm -f "$r"/*.go "$r"/*.s
  cp "$W"/root/usr/share/gocode/src/github.com/modern-go/reflect2/*.{go,s} "$r"/
  ln -sfn "$k" "$W/gopath/src/k8s.io/kubernetes"

  export GOROOT=$W/root/usr/lib/go-1.19 GOPATH=$W/gopath GOCACHE=$W/gocache GO111MODULE=off
  export CGO_ENABLED=0 GOTOOLCHAIN=local GOPROXY=off GOFLAGS=
  local libs
  libs=$(find "$W/root/usr/lib" -maxdepth 1 -type d -name '*-linux-gnu*' | tr '\n' ':')
  export PATH=$GOROOT/bin:$W/root/usr/bin:$PATH LD_LIBRARY_PATH=${libs}${LD_LIBRARY_PATH:-}
  cd "$W/gopath/src/k8s.io/kubernetes"

  say "generating OpenAPI definitions (make gen_openapi)"
  (unset GOPATH; make gen_openapi >>"$log" 2>&1)

  local v=k8s.io/kubernetes/vendor/k8s.io
  local ldflags="-s -w -X $v/component-base/version.gitVersion=$K8S_VERSION"
  ldflags+=" -X $v/component-base/version.gitMajor=1 -X $v/component-base/version.gitMinor=20"
  ldflags+=" -X $v/component-base/version.gitTreeState=clean"
  ldflags+=" -X $v/client-go/pkg/version.gitVersion=$K8S_VERSION"
  local c
  for c in kube-apiserver kube-controller-manager; do
    say "go build $c"
    go build -ldflags "$ldflags" -o "$W/out/bin/$c" "./cmd/$c" >>"$log" 2>&1
  done
  cp "$W/root/usr/bin/etcd" "$W/out/bin/etcd"
  cd /
  have_binaries "$W/out/bin" || die "built binaries do not report $K8S_VERSION"

  rm -rf "$BUILD_ROOT"
  mv -T "$W/out" "$BUILD_ROOT"
  say "built in $((SECONDS - t0)) s: $BUILD_ROOT/bin ($(du -sh "$BUILD_ROOT/bin" | cut -f1))"
}

# ---------------------------------------------------------------------------------------------
# start / stop / run

# A loopback port nobody listens on, other than the ports given as arguments. Ports come from
# below the kernel's ephemeral range, so outgoing connections do not take them before the bind.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    case " $* " in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}

gen_pki() {
  local pki=$1
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 7 -subj /CN=herald-test-ca
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc,IP:10.0.0.1\n' > san.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt \
      -days 7 -extfile san.ext
    # Service-account signing keys: the token controller and the Job controller's Pods need them.
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
  ) >/dev/null 2>&1 || die "openssl failed"
}

# Is the process in $1/$2.pid alive and still the binary we started (not a reused PID)?
pid_alive() {
  local f=$1/$2.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$3"
}

# Only Herald's own files are removed, never DIR itself with whatever else a user put there.
clean_dir() {
  rm -rf "${1:?}"/{pki,etcd} "$1"/{etcd,apiserver,kcm}.{log,pid} "$1/kubeconfig"
}

# In `run`, readable stdin means it closed: the harness is gone, so stop starting.
check_lifeline() {
  [ -z "${LIFELINE:-}" ] || ! read -r -t 0 || die "stdin closed while starting"
}

start_cluster() {
  local d=$1
  have_binaries "$BIN" || die "Kubernetes binaries missing in $BIN; run scripts/control-plane.sh build"
  command -v openssl >/dev/null || die "openssl not found"
  command -v curl >/dev/null || die "curl not found"
  mkdir -p "$d"
  clean_dir "$d"
  gen_pki "$d/pki"
  local pki=$d/pki token eport pport aport
  token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  echo "$token,admin,admin,system:masters" > "$pki/tokens.csv"
  eport=$(free_port); pport=$(free_port "$eport"); aport=$(free_port "$eport" "$pport")
  check_lifeline

  "$BIN/etcd" --name default --data-dir "$d/etcd" \
    --listen-client-urls "http://127.0.0.1:$eport" --advertise-client-urls "http://127.0.0.1:$eport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "default=http://127.0.0.1:$pport" </dev/null >"$d/etcd.log" 2>&1 &
  echo $! > "$d/etcd.pid"

  # Admission plugins that need parts this cluster lacks (storage, webhooks, quotas) are off.
  "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$eport" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$aport" --insecure-port=0 \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" --token-auth-file="$pki/tokens.csv" --authorization-mode=RBAC \
    --service-cluster-ip-range=10.0.0.0/24 --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --allow-privileged=true --enable-admission-plugins=NamespaceLifecycle,ServiceAccount \
    --disable-admission-plugins=StorageObjectInUseProtection,DefaultStorageClass,DefaultTolerationSeconds,PersistentVolumeClaimResize,RuntimeClass,CertificateApproval,CertificateSigning,CertificateSubjectRestriction,DefaultIngressClass,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ResourceQuota,Priority,TaintNodesByCondition \
    </dev/null >"$d/apiserver.log" 2>&1 &
  echo $! > "$d/apiserver.pid"

  cat > "$d/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: herald-dev, cluster: {server: "https://127.0.0.1:$aport", certificate-authority: "$pki/ca.crt"}}]
users: [{name: admin, user: {token: "$token"}}]
contexts: [{name: herald-dev, context: {cluster: herald-dev, user: admin, namespace: default}}]
current-context: herald-dev
EOF

  local ready="" deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if curl -sf --max-time 1 --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" \
      "https://127.0.0.1:$aport/readyz" >/dev/null 2>&1; then
      ready=1; break
    fi
    check_lifeline
    pid_alive "$d" etcd etcd || { tail -n 20 "$d/etcd.log" >&2; die "etcd exited"; }
    pid_alive "$d" apiserver kube-apiserver || { tail -n 20 "$d/apiserver.log" >&2; die "kube-apiserver exited"; }
    sleep 0.2
  done
  [ -n "$ready" ] || { tail -n 20 "$d/apiserver.log" >&2; die "kube-apiserver not ready after 60 s"; }

  # The controllers we skip need nodes, clouds or volumes, none of which exist here.
  "$BIN/kube-controller-manager" --kubeconfig="$d/kubeconfig" --leader-elect=false --port=0 --secure-port=0 \
    --controllers='*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-route,-service,-persistentvolume-binder,-attachdetach,-pvc-protection,-pv-protection,-ttl' \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --use-service-account-credentials=false </dev/null >"$d/kcm.log" 2>&1 &
  echo $! > "$d/kcm.pid"
}

# $2 = grace seconds before SIGKILL (0: kill at once, for throwaway test clusters).
stop_cluster() {
  local d=$1 grace=${2:-10} p pat pids=() i
  for p in kcm:kube-controller-manager apiserver:kube-apiserver etcd:etcd; do
    pat=${p#*:}; p=${p%%:*}
    if pid_alive "$d" "$p" "$pat"; then pids+=("$(cat "$d/$p.pid")"); fi
  done
  if [ ${#pids[@]} -gt 0 ]; then
    if [ "$grace" -gt 0 ]; then
      kill -TERM "${pids[@]}" 2>/dev/null || true
      for i in $(seq 1 $((grace * 10))); do
        kill -0 "${pids[@]}" 2>/dev/null || break
        sleep 0.1
      done
    fi
    kill -KILL "${pids[@]}" 2>/dev/null || true
    # Reaps them when they are our children (`run`), so nothing is left even as a zombie.
    wait "${pids[@]}" 2>/dev/null || true
  fi
  rm -f "$d"/{etcd,apiserver,kcm}.pid
}

# Sets DIR, made absolute (the kubeconfig and pid files are used from anywhere).
parse_dir() {
  DIR=$CACHE/dev-cluster
  while [ $# -gt 0 ]; do
    case $1 in
      --dir) DIR=${2:?--dir needs a value}; shift 2 ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  case $DIR in /*) ;; *) DIR=$PWD/$DIR ;; esac
}

cmd=${1:-}
[ $# -eq 0 ] || shift
case $cmd in
  build) build ;;
  bin-dir) echo "$BIN" ;;
  start)
    parse_dir "$@"
    if pid_alive "$DIR" apiserver kube-apiserver; then
      say "already running in $DIR"
    else
      say "starting etcd, kube-apiserver, kube-controller-manager in $DIR"
      # A failed start stops whatever it had started.
      trap '[ -n "${STARTED:-}" ] || stop_cluster "$DIR" 0' EXIT
      start_cluster "$DIR"
      STARTED=1
      say "ready; stop with: $0 stop --dir $DIR"
    fi
    echo "export KUBECONFIG=$DIR/kubeconfig"
    ;;
  stop)
    parse_dir "$@"
    stop_cluster "$DIR" 10
    say "stopped"
    ;;
  run)
    exec 2>&1
    parse_dir "$@"
    # Whatever way this ends (stdin closed because the harness exited, a signal, a failed start),
    # nothing of the cluster is left behind.
    trap 'stop_cluster "$DIR" 0; clean_dir "$DIR"; rmdir "$DIR" 2>/dev/null || true' EXIT
    trap 'exit 143' TERM INT HUP
    trap 'exit 141' PIPE
    LIFELINE=1
    start_cluster "$DIR"
    echo "ready $DIR/kubeconfig"
    # The harness may stop reading; later output must not fail with a broken pipe.
    exec >/dev/null 2>&1
    while read -r _; do :; done
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    [ -z "$cmd" ] || exit 2
    ;;
esac

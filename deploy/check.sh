#!/usr/bin/env bash
# Validate every deployment artefact offline, installing missing tools first (idempotent).
#
#   deploy/check.sh [all|prometheus|alertmanager|grafana|k8s|compose]...   (default: all)
#   NCRS_CHECK_NO_INSTALL=1 deploy/check.sh   # never install; a missing tool fails its check
#
# What runs, and where each tool comes from:
#   prometheus    promtool check config / check rules / test rules   Debian `prometheus`
#   alertmanager  amtool check-config + routing table tests           Debian `prometheus-alertmanager`
#   grafana       generator output up to date; every panel's PromQL parses (promtool)
#   k8s           kustomize build | kubeconform -strict, with schemas made offline from the
#                 PyPI `kubernetes-validate` wheel (kubeconform downloads schemas from the
#                 internet by default), then `kubernetes-validate --strict` as a second opinion.
#                 kustomize and kubeconform are built from the Go module proxy
#                 (sigs.k8s.io/kustomize/kustomize/v5@v5.7.1, github.com/yannh/kubeconform@v0.8.0);
#                 `kubectl kustomize` is used only when there is no kustomize binary.
#   compose       `docker compose config` (plugin) or `docker-compose config` (Debian
#                 `docker-compose` 1.29: the Compose v2/v5 Go modules cannot be `go install`ed)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${NCRS_PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PY" ]] || PY="$(command -v python3)"
K8S_VERSION="${NCRS_K8S_VERSION:-1.33.0}"
KUSTOMIZE_VERSION=v5.7.1
KUBECONFORM_VERSION=v0.8.0
GOBIN_DIR="$(go env GOPATH 2> /dev/null || echo "$HOME/go")/bin"
export PATH="$PATH:$GOBIN_DIR"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

say() { printf '==> %s\n' "$*"; }
fail() {
    printf 'deploy/check.sh: %s\n' "$*" >&2
    exit 1
}
may_install() { [[ "${NCRS_CHECK_NO_INSTALL:-}" != "1" ]]; }

apt_install() { # apt_install BINARY PACKAGE
    command -v "$1" > /dev/null && return 0
    may_install || fail "$1 not found (apt-get install $2)"
    local sudo=()
    ((EUID == 0)) || sudo=(sudo -n)
    say "installing Debian package $2 (for $1)"
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2"; then
        "${sudo[@]}" apt-get update -qq
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2"
    fi
}

go_install() { # go_install BINARY MODULE@VERSION
    command -v "$1" > /dev/null && return 0
    may_install || fail "$1 not found (go install $2)"
    command -v go > /dev/null || fail "$1 not found and no Go toolchain to build $2"
    say "building $2 from the Go module proxy"
    GOTOOLCHAIN=local GOFLAGS=-mod=mod go install "$2"
}

pip_install() { # pip_install IMPORT_NAME REQUIREMENT
    "$PY" -c "import $1" 2> /dev/null && return 0
    may_install || fail "python module $1 not found (pip install $2)"
    say "installing $2 into $PY"
    local constraints=()
    [[ -f constraints.txt ]] && constraints=(-c constraints.txt)
    "$PY" -m pip install -q "${constraints[@]}" "$2"
}

check_prometheus() {
    apt_install promtool prometheus
    say "promtool check config (rules resolved against the repository copy)"
    sed "s#/etc/prometheus/rules/#$ROOT/deploy/prometheus/rules/#" deploy/prometheus/prometheus.yml > "$WORK/prometheus.yml"
    promtool check config "$WORK/prometheus.yml"
    say "promtool check rules"
    promtool check rules deploy/prometheus/rules/*.yml
    say "promtool test rules"
    promtool test rules deploy/prometheus/tests/*.test.yml
}

check_alertmanager() {
    apt_install amtool prometheus-alertmanager
    local config=deploy/alertmanager/alertmanager.yml
    say "amtool check-config"
    amtool check-config "$config"
    say "amtool routing table"
    # labels => expected receivers (comma-separated, in routing order)
    local -a cases=(
        "alertname=NcrsRapeBreachRaised severity=S1 queue=fcr|control-room,fcr"
        "alertname=NcrsRecordingBreachesAboveBaseline severity=S2 queue=omu|omu"
        "alertname=NcrsWorkQueueBacklogGrowing severity=S3 queue=victim_care|victim-care"
        "alertname=NcrsWorkQueueBacklogGrowing severity=S3 queue=ppu|ppu"
        "alertname=NcrsWorkQueueBacklogGrowing severity=S3 queue=control_room|control-room"
        "alertname=NcrsWorkQueueBacklogGrowing severity=S4 queue=data_quality|omu"
        "alertname=NcrsWorkerDown severity=S2 queue=platform|platform"
        "alertname=NcrsSourceStale severity=S2 queue=platform|platform"
        "alertname=Unlabelled|platform"
    )
    local case labels want
    for case in "${cases[@]}"; do
        labels="${case%|*}"
        want="${case#*|}"
        # shellcheck disable=SC2086 # labels are deliberately split into arguments
        amtool config routes test --config.file="$config" --verify.receivers="$want" $labels > /dev/null 2>&1 ||
            fail "routing: {$labels} should go to $want, got $(amtool config routes test --config.file="$config" $labels 2> /dev/null)"
    done
    echo "  ${#cases[@]} routing cases as expected"
}

check_grafana() {
    apt_install promtool prometheus
    say "dashboards up to date with deploy/grafana/generate.py"
    "$PY" deploy/grafana/generate.py --out "$WORK/grafana" > /dev/null
    diff -r "$WORK/grafana/provisioning/dashboards/json" deploy/grafana/provisioning/dashboards/json
    diff "$WORK/grafana/panel_queries.json" deploy/grafana/panel_queries.json
    say "every panel query parses (promtool check rules)"
    "$PY" - "$WORK/panels.rules.yml" << 'EOF'
import json, sys
import yaml
queries = json.load(open("deploy/grafana/panel_queries.json", encoding="utf-8"))
rules = [{"record": f"panel:q{i}", "expr": q["expr"]} for i, q in enumerate(queries)]
yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}, open(sys.argv[1], "w"))
EOF
    promtool check rules "$WORK/panels.rules.yml"
}

check_k8s() {
    pip_install kubernetes_validate kubernetes-validate
    say "render the kustomize base"
    if ! command -v kustomize > /dev/null && command -v kubectl > /dev/null &&
        kubectl kustomize deploy/k8s > "$WORK/k8s.yaml" 2> /dev/null; then
        echo "  rendered with kubectl kustomize"
    else
        go_install kustomize "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
        kustomize build deploy/k8s > "$WORK/k8s.yaml"
        echo "  rendered with kustomize $(kustomize version)"
    fi
    go_install kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
    say "kubeconform -strict (Kubernetes $K8S_VERSION schemas, offline)"
    "$PY" deploy/k8s/standalone_schemas.py "$WORK/k8s.yaml" "$WORK/schemas" "$K8S_VERSION"
    kubeconform -strict -summary -kubernetes-version "$K8S_VERSION" -schema-location "$WORK/schemas" "$WORK/k8s.yaml"
    say "kubernetes-validate --strict"
    "$PY" -m kubernetes_validate --quiet --strict -k "$K8S_VERSION" "$WORK/k8s.yaml"
}

check_compose() {
    local -a compose
    if docker compose version > /dev/null 2>&1; then
        compose=(docker compose)
    else
        apt_install docker-compose docker-compose
        compose=(docker-compose)
    fi
    say "${compose[*]} config (all profiles)"
    # The required Grafana password must be set for the file to render; any value checks syntax.
    GRAFANA_ADMIN_PASSWORD="${GRAFANA_ADMIN_PASSWORD:-check-only}" "${compose[@]}" --profile feed config -q
    say "${compose[*]} refuses to start without GRAFANA_ADMIN_PASSWORD"
    if env -u GRAFANA_ADMIN_PASSWORD "${compose[@]}" --env-file /dev/null config -q > /dev/null 2>&1; then
        fail "docker-compose.yml renders without GRAFANA_ADMIN_PASSWORD: it must be required"
    fi
}

targets=("$@")
((${#targets[@]})) || targets=(all)
[[ "${targets[*]}" == "all" ]] && targets=(prometheus alertmanager grafana k8s compose)
for target in "${targets[@]}"; do
    case "$target" in
        prometheus | alertmanager | grafana | k8s | compose) "check_$target" ;;
        *) fail "unknown check '$target' (prometheus, alertmanager, grafana, k8s, compose, all)" ;;
    esac
done
say "deploy checks passed: ${targets[*]}"

"""Write self-contained Kubernetes JSON schemas for kubeconform from the kubernetes-validate wheel.

kubeconform downloads schemas from the internet by default, which CI cannot reach. The PyPI
package `kubernetes-validate` ships the official schemas, but each refers to a shared
`/api/_definitions.json` that kubeconform cannot resolve; this script inlines those definitions
into one standalone file per kind used by our manifests, in kubeconform's default layout
(`<dir>/v<version>-standalone-strict/<kind>-<group>-<version>.json`).

Usage: python standalone_schemas.py RENDERED.yaml OUT_DIR [K8S_VERSION]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import kubernetes_validate
import yaml

REF_PREFIX = '"/api/_definitions.json#/$defs/'


def schema_name(api_version: str, kind: str) -> str:
    """kubeconform's file name: `statefulset-apps-v1.json`, `configmap-v1.json`."""
    group, _, version = api_version.rpartition("/")
    group_part = f"-{group.split('.')[0].lower()}" if group else ""
    return f"{kind.lower()}{group_part}-{version.lower()}.json"


def main(argv: list[str]) -> int:
    """Write one standalone strict schema per kind found in the rendered manifests."""
    rendered, out = Path(argv[1]), Path(argv[2])
    version = argv[3] if len(argv) > 3 else "1.33.0"
    source = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    source /= f"v{version}-local-strict"
    defs_text = (source / "_definitions.json").read_text(encoding="utf-8")
    defs = json.loads(defs_text.replace(REF_PREFIX, '"#/$defs/'))["$defs"]
    target = out / f"v{version}-standalone-strict"
    target.mkdir(parents=True, exist_ok=True)
    docs = [d for d in yaml.safe_load_all(rendered.read_text(encoding="utf-8")) if d]
    for name in sorted({schema_name(d["apiVersion"], d["kind"]) for d in docs}):
        text = (source / name).read_text(encoding="utf-8").replace(REF_PREFIX, '"#/$defs/')
        schema = json.loads(text)
        schema["$defs"] = defs
        (target / name).write_text(json.dumps(schema), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

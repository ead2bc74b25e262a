#!/usr/bin/env bash
# Throwaway TLS material for a secured local broker: a CA, a broker certificate for
# 127.0.0.1/localhost, a client certificate for mutual TLS, and an unrelated "rogue" CA with its
# own client certificate (to prove an untrusted certificate is refused). Test use only.
#
# Usage: make-certs.sh OUT_DIR [STORE_PASSWORD]
#
# Writes to OUT_DIR:
#   ca.crt                    the CA that signed broker and client certificates (PEM)
#   broker.p12                broker key + chain, PKCS12, password STORE_PASSWORD
#   client.crt, client.key    client certificate and unencrypted key (PEM) for mutual TLS
#   rogue-ca.crt              a CA nobody trusts
#   rogue-client.crt/.key     a client certificate signed by the rogue CA
set -euo pipefail

OUT="${1:?usage: make-certs.sh OUT_DIR [STORE_PASSWORD]}"
PASS="${2:-ncrs-test-store}"
DAYS=2
mkdir -p "$OUT"
cd "$OUT"

ca() {  # ca NAME CN
    openssl req -x509 -newkey rsa:2048 -nodes -days "$DAYS" -sha256 \
        -keyout "$1.key" -out "$1.crt" -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        2>/dev/null
}

leaf() {  # leaf NAME CN CA EXT...
    local name="$1" cn="$2" ca_name="$3"
    shift 3
    openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$cn" \
        2>/dev/null
    printf '%s\n' "$@" > "$name.ext"
    openssl x509 -req -in "$name.csr" -CA "$ca_name.crt" -CAkey "$ca_name.key" -CAcreateserial \
        -days "$DAYS" -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}

ca ca "ncrs-test-ca"
ca rogue-ca "ncrs-rogue-ca"
leaf broker "localhost" ca \
    "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth,clientAuth"
leaf client "ncrs-monitor" ca "extendedKeyUsage=clientAuth"
leaf rogue-client "ncrs-monitor" rogue-ca "extendedKeyUsage=clientAuth"
openssl pkcs12 -export -in broker.crt -inkey broker.key -certfile ca.crt -name broker \
    -out broker.p12 -passout "pass:$PASS"
chmod 600 ./*.key broker.p12
echo "$OUT"

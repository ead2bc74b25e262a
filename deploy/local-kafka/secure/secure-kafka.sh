#!/usr/bin/env bash
# A second local broker with the listeners production uses: SASL_SSL (SCRAM-SHA-512) and SSL
# with client certificates required (mutual TLS), beside a PLAINTEXT listener that kafka.sh
# needs for its readiness check. Certificates come from make-certs.sh; the SCRAM user is added
# when the storage is formatted. Test and demo use only: the keys are throwaway.
#
# Usage: secure-kafka.sh start | stop | status | logs [-f] [LINES]
#
# Environment:
#   NCRS_KAFKA_DIR               run directory (required: keep it apart from the shared broker)
#   NCRS_KAFKA_PORT              PLAINTEXT port                         default 29092
#   NCRS_KAFKA_CONTROLLER_PORT   KRaft controller port                  default 29093
#   NCRS_KAFKA_SASL_SSL_PORT     SASL_SSL (SCRAM-SHA-512) port          default 29094
#   NCRS_KAFKA_SSL_PORT          SSL, client certificate required       default 29095
#   NCRS_KAFKA_SCRAM_USER        SCRAM user created at format time      default ncrs
#   NCRS_KAFKA_SCRAM_PASSWORD    its password (no spaces or commas)     required for start
#   NCRS_KAFKA_CERT_DIR          output of make-certs.sh                default $NCRS_KAFKA_DIR/certs
#   NCRS_KAFKA_STORE_PASSWORD    password of broker.p12                 default ncrs-test-store
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${NCRS_KAFKA_DIR:?set NCRS_KAFKA_DIR to a run directory of its own}"
export NCRS_KAFKA_PORT="${NCRS_KAFKA_PORT:-29092}"
export NCRS_KAFKA_CONTROLLER_PORT="${NCRS_KAFKA_CONTROLLER_PORT:-29093}"
SASL_SSL_PORT="${NCRS_KAFKA_SASL_SSL_PORT:-29094}"
SSL_PORT="${NCRS_KAFKA_SSL_PORT:-29095}"
USER="${NCRS_KAFKA_SCRAM_USER:-ncrs}"
CERTS="${NCRS_KAFKA_CERT_DIR:-$NCRS_KAFKA_DIR/certs}"
STORE_PASSWORD="${NCRS_KAFKA_STORE_PASSWORD:-ncrs-test-store}"

start() {
    : "${NCRS_KAFKA_SCRAM_PASSWORD:?set NCRS_KAFKA_SCRAM_PASSWORD}"
    mkdir -p "$NCRS_KAFKA_DIR"
    [[ -f "$CERTS/broker.p12" ]] || "$HERE/make-certs.sh" "$CERTS" "$STORE_PASSWORD" >/dev/null
    local props="$NCRS_KAFKA_DIR/secure.properties"
    cat > "$props" <<PROPS
listeners=PLAINTEXT://127.0.0.1:$NCRS_KAFKA_PORT,SASL_SSL://127.0.0.1:$SASL_SSL_PORT,SSL://127.0.0.1:$SSL_PORT,CONTROLLER://127.0.0.1:$NCRS_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$NCRS_KAFKA_PORT,SASL_SSL://127.0.0.1:$SASL_SSL_PORT,SSL://127.0.0.1:$SSL_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$CERTS/broker.p12
ssl.keystore.password=$STORE_PASSWORD
ssl.truststore.type=PEM
ssl.truststore.location=$CERTS/ca.crt
ssl.endpoint.identification.algorithm=https
listener.name.ssl.ssl.client.auth=required
listener.name.sasl_ssl.ssl.client.auth=none
PROPS
    export NCRS_KAFKA_EXTRA_PROPS="$props"
    export NCRS_KAFKA_FORMAT_ARGS="--add-scram SCRAM-SHA-512=[name=$USER,password=$NCRS_KAFKA_SCRAM_PASSWORD]"
    "$HERE/../kafka.sh" start
    echo "sasl_ssl: 127.0.0.1:$SASL_SSL_PORT"
    echo "ssl: 127.0.0.1:$SSL_PORT"
    echo "ca: $CERTS/ca.crt"
}

case "${1:-}" in
    start) start ;;
    stop | status | logs) exec "$HERE/../kafka.sh" "$@" ;;
    *) echo "usage: secure-kafka.sh start | stop | status | logs [-f] [LINES]" >&2; exit 2 ;;
esac

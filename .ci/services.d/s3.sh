# Sourced by .ci/run before the tests: an S3-compatible server on loopback
# (moto's server mode, from PyPI) for covet-backup's S3 sink tests.
# Idempotent: quick when moto is installed and the server already answers.

COVET_S3_PORT="${COVET_S3_PORT:-9000}"
COVET_S3_URL="http://127.0.0.1:${COVET_S3_PORT}"

s3_up() { curl -fsS -o /dev/null --max-time 2 "${COVET_S3_URL}/"; }

if ! s3_up 2>/dev/null; then
  if ! python3 -c 'import moto.server, flask, werkzeug' >/dev/null 2>&1; then
    log "installing moto[server] from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check 'moto[server]'
  fi
  log "starting moto on ${COVET_S3_URL}"
  nohup python3 -m moto.server -H 127.0.0.1 -p "${COVET_S3_PORT}" \
    >/var/tmp/covet-moto.log 2>&1 </dev/null &
  wait_for "S3 (moto)" s3_up
fi

export COVET_S3_URL
export COVET_S3_BUCKET="${COVET_S3_BUCKET:-covet-test}"
# moto accepts any credentials; object_store needs some, and the region.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-covet-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-covet-test-secret}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ENDPOINT_URL="${COVET_S3_URL}"
export AWS_ALLOW_HTTP=true
# The tests' bucket; creating an existing bucket is harmless in moto.
curl -fsS -o /dev/null -X PUT "${COVET_S3_URL}/${COVET_S3_BUCKET}" \
  || { log "could not create bucket ${COVET_S3_BUCKET}"; return 1; }

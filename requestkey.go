package connecthub

// MaxRequestKey bounds an Idempotency-Key: enough for a UUID, a hash or a
// client's own request id, small enough to index.
const MaxRequestKey = 255

// RequestKeyField is the name errors give a bad Idempotency-Key: the HTTP
// header that carries it; RequestKeyInvalid is their code.
const (
	RequestKeyField   = "Idempotency-Key"
	RequestKeyInvalid = "invalid_idempotency_key"
)

// CheckRequestKey checks the Idempotency-Key of a run-now request: 1 to
// MaxRequestKey printable ASCII characters (a space only inside), as the
// HTTP header can carry it. Empty means no key and is not checked here.
func CheckRequestKey(key string) error {
	if len(key) > MaxRequestKey {
		return FieldError(RequestKeyField, RequestKeyInvalid, "%s must be at most %d characters", RequestKeyField, MaxRequestKey)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c > 0x7e {
			return FieldError(RequestKeyField, RequestKeyInvalid, "%s must be printable ASCII", RequestKeyField)
		}
	}
	if key != "" && (key[0] == ' ' || key[len(key)-1] == ' ') {
		return FieldError(RequestKeyField, RequestKeyInvalid, "%s must not start or end with a space", RequestKeyField)
	}
	return nil
}

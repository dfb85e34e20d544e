package didi

import (
	"crypto/md5"
	"encoding/hex"
	"sort"
	"strings"
)

// Sign returns the Didi open-platform signature of a request's parameters:
//
//  1. take every parameter of the request (client_id, access_token,
//     company_id, timestamp and the call's own), leaving out "sign" itself;
//  2. add sign_key=<signKey> (it is never sent, only signed; a "sign_key"
//     entry in params is ignored);
//  3. sort the keys in ascending byte order;
//  4. join them as key=value pairs with "&", values as they are (not
//     URL-encoded; empty values included);
//  5. return the MD5 of that string as 32 lower-case hex digits.
//
// For example, {"client_id": "c1", "timestamp": "1700000000"} with sign key
// "k" signs "client_id=c1&sign_key=k&timestamp=1700000000". Sign is a pure
// function: it neither changes params nor depends on anything else.
func Sign(params map[string]string, signKey string) string {
	keys := make([]string, 0, len(params)+1)
	for k := range params {
		if k != "sign" && k != "sign_key" {
			keys = append(keys, k)
		}
	}
	keys = append(keys, "sign_key")
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		v := params[k]
		if k == "sign_key" {
			v = signKey
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	sum := md5.Sum([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

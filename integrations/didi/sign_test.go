package didi

import (
	"maps"
	"testing"
)

// TestSignVectors pins the algorithm: each want is the MD5 of the string in
// the comment, computed independently (md5sum).
func TestSignVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		params  map[string]string
		signKey string
		want    string
	}{
		{
			// client_id=c1&sign_key=k&timestamp=1700000000
			name:    "sign_key sorts among the parameters",
			params:  map[string]string{"timestamp": "1700000000", "client_id": "c1"},
			signKey: "k",
			want:    "42e4e854102e45efc4a0fe565e0a8370",
		},
		{
			// sign_key=
			name: "nothing at all",
			want: "f278074de3016e51ed6c67c47b697cc6",
		},
		{
			// access_token=at-1&client_id=c1&company_id=1125&employee_number=E001&sign_key=s3cr3t&timestamp=1700000000
			name: "a Member/detail call; sign itself is left out",
			params: map[string]string{
				"client_id": "c1", "access_token": "at-1", "company_id": "1125",
				"timestamp": "1700000000", "employee_number": "E001", "sign": "stale",
			},
			signKey: "s3cr3t",
			want:    "40fb10f2b5548f342f867e0178163143",
		},
		{
			// a=&b=2&sign_key=k
			name:    "empty values are signed",
			params:  map[string]string{"b": "2", "a": ""},
			signKey: "k",
			want:    "224b8852bf65cce219be1242030d090b",
		},
		{
			// data={"legal_entity_id":"LE2"}&member_id=M1&name=上海甲科技有限公司&sign_key=k
			name:    "JSON and UTF-8 values are signed raw, not URL-encoded",
			params:  map[string]string{"member_id": "M1", "data": `{"legal_entity_id":"LE2"}`, "name": "上海甲科技有限公司"},
			signKey: "k",
			want:    "45706c3e773ac83f94331e0bcbf0bfa1",
		},
		{
			// A=1&_=2&a=3&sign_key=k
			name:    "keys sort by byte",
			params:  map[string]string{"a": "3", "_": "2", "A": "1"},
			signKey: "k",
			want:    "0f97617db71f1e02b12cde39c95b906e",
		},
		{
			// client_id=c1&sign_key=k&timestamp=1700000000
			name:    "a sign_key parameter is ignored",
			params:  map[string]string{"timestamp": "1700000000", "client_id": "c1", "sign_key": "other"},
			signKey: "k",
			want:    "42e4e854102e45efc4a0fe565e0a8370",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := maps.Clone(tt.params)
			if got := Sign(tt.params, tt.signKey); got != tt.want {
				t.Errorf("Sign = %s, want %s", got, tt.want)
			}
			if !maps.Equal(before, tt.params) {
				t.Errorf("Sign changed its input: %v, was %v", tt.params, before)
			}
		})
	}
}

func TestSignDependsOnEveryInput(t *testing.T) {
	t.Parallel()
	base := map[string]string{"client_id": "c1", "timestamp": "1700000000"}
	ref := Sign(base, "k")
	variants := map[string]string{
		"other key":   Sign(base, "k2"),
		"other value": Sign(map[string]string{"client_id": "c2", "timestamp": "1700000000"}, "k"),
		"extra param": Sign(map[string]string{"client_id": "c1", "timestamp": "1700000000", "x": ""}, "k"),
	}
	for name, got := range variants {
		if got == ref {
			t.Errorf("%s: signature unchanged", name)
		}
	}
}

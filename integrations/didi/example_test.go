package didi_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/connecthub/connecthub/integrations/didi"
)

// The signature of a request's parameters, as the API expects it in "sign".
func ExampleSign() {
	params := map[string]string{
		"client_id": "c1",
		"timestamp": "1700000000",
	}
	// md5("client_id=c1&sign_key=k&timestamp=1700000000")
	fmt.Println(didi.Sign(params, "k"))
	// Output: 42e4e854102e45efc4a0fe565e0a8370
}

// Moving a member to another legal entity. The client authorizes on first
// use and signs every call.
func ExampleClient_MemberEdit() {
	c, err := didi.New(didi.Config{
		ClientID:     "your-client-id",
		ClientSecret: "your-client-secret",
		SignKey:      "your-sign-key",
		Phone:        "13800000000",
		CompanyID:    "1125900000000001",
		Timeout:      20 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	m, err := c.MemberDetail(ctx, didi.MemberQuery{EmployeeNumber: "E001"})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.MemberEdit(ctx, m.ID, map[string]any{"legal_entity_id": "1125911111111111"}); err != nil {
		log.Fatal(err)
	}
}

package didi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// LegalEntity is a legal entity (法人主体) of the company: the body that
// invoices for a member's rides.
type LegalEntity struct {
	// ID is the Didi id (legal_entity_id).
	ID string
	// Name is the registered name, e.g. "上海甲科技有限公司".
	Name string
	// OutLegalEntityID is the company's own code for it, when set.
	OutLegalEntityID string
}

// UnmarshalJSON reads a legal entity whose ids may be strings or numbers.
func (e *LegalEntity) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("a legal entity must be an object: %w", err)
	}
	*e = LegalEntity{
		ID:               first(m, "legal_entity_id", "id"),
		Name:             first(m, "name"),
		OutLegalEntityID: first(m, "out_legal_entity_id"),
	}
	return nil
}

// LegalEntityList is a page of legal entities.
type LegalEntityList struct {
	// Total is the number of entities matching the query, over all pages.
	Total int
	// Records are this page's entities.
	Records []LegalEntity
}

// UnmarshalJSON reads {"total": n, "records": […]} or a bare array.
func (l *LegalEntityList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var recs []LegalEntity
		if err := json.Unmarshal(b, &recs); err != nil {
			return err
		}
		*l = LegalEntityList{Total: len(recs), Records: recs}
		return nil
	}
	var v struct {
		Total   json.RawMessage `json:"total"`
		Records []LegalEntity   `json:"records"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	total, ok := parseInt(v.Total)
	if !ok {
		total = int64(len(v.Records))
	}
	*l = LegalEntityList{Total: int(total), Records: v.Records}
	return nil
}

// Member is a member (员工) of the company.
type Member struct {
	// ID is the Didi member id (member_id).
	ID string
	// EmployeeNumber is the company's employee number (employee_number),
	// the 工号 that links it to the OA.
	EmployeeNumber string
	// Name is the member's name (realname).
	Name string
	// Phone and Email are the member's contacts.
	Phone string
	Email string
	// LegalEntityID is the legal entity the member's rides are billed to.
	LegalEntityID string
	// Raw is the member object as answered, for the fields not above.
	Raw json.RawMessage
}

// UnmarshalJSON reads a member whose ids may be strings or numbers.
func (m *Member) UnmarshalJSON(b []byte) error {
	var f map[string]json.RawMessage
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("a member must be an object: %w", err)
	}
	*m = Member{
		ID:             first(f, "member_id", "id"),
		EmployeeNumber: first(f, "employee_number"),
		Name:           first(f, "realname", "name"),
		Phone:          first(f, "phone"),
		Email:          first(f, "email"),
		LegalEntityID:  first(f, "legal_entity_id"),
		Raw:            append(json.RawMessage(nil), b...),
	}
	return nil
}

// MemberQuery names one member; set exactly one field.
type MemberQuery struct {
	MemberID       string
	EmployeeNumber string
	Phone          string
}

// params returns the query's parameter.
func (q MemberQuery) params() (map[string]string, error) {
	p := make(map[string]string, 1)
	for _, f := range []struct{ key, value string }{
		{"member_id", q.MemberID},
		{"employee_number", q.EmployeeNumber},
		{"phone", q.Phone},
	} {
		if v := strings.TrimSpace(f.value); v != "" {
			p[f.key] = v
		}
	}
	if len(p) != 1 {
		return nil, errors.New("set exactly one of member id, employee number and phone")
	}
	return p, nil
}

// LegalEntityGet lists legal entities (GET /river/LegalEntity/get). params
// holds the call's own parameters, e.g. {"name": "上海甲科技有限公司",
// "offset": "0", "length": "100"}; nil lists the first page of all.
func (c *Client) LegalEntityGet(ctx context.Context, params map[string]string) (*LegalEntityList, error) {
	var out LegalEntityList
	if err := c.Call(ctx, http.MethodGet, LegalEntityGetPath, params, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// MemberDetail returns one member (GET /river/Member/detail) by member id,
// employee number or phone. A member that does not exist is an *APIError
// with the errno Didi uses for it.
func (c *Client) MemberDetail(ctx context.Context, q MemberQuery) (*Member, error) {
	params, err := q.params()
	if err != nil {
		return nil, fmt.Errorf("didi: GET %s: %w", MemberDetailPath, err)
	}
	var out Member
	if err := c.Call(ctx, http.MethodGet, MemberDetailPath, params, &out); err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, fmt.Errorf("didi: GET %s: the answer has no member", MemberDetailPath)
	}
	return &out, nil
}

// MemberEdit changes a member's fields (POST /river/Member/edit), e.g.
// {"legal_entity_id": "1125…"}. The fields are sent as the JSON string
// parameter "data", as the API expects.
func (c *Client) MemberEdit(ctx context.Context, memberID string, fields map[string]any) error {
	op := "didi: POST " + MemberEditPath
	if strings.TrimSpace(memberID) == "" {
		return fmt.Errorf("%s: the member id is required", op)
	}
	if len(fields) == 0 {
		return fmt.Errorf("%s: no fields to change", op)
	}
	data, err := json.Marshal(fields)
	if err != nil {
		return fmt.Errorf("%s: encoding the fields: %w", op, err)
	}
	return c.Call(ctx, http.MethodPost, MemberEditPath,
		map[string]string{"member_id": strings.TrimSpace(memberID), "data": string(data)}, nil)
}

// first returns the text of the first of keys that m holds as a string or
// number.
func first(m map[string]json.RawMessage, keys ...string) string {
	for _, k := range keys {
		raw := bytes.TrimSpace(m[k])
		if len(raw) == 0 {
			continue
		}
		if raw[0] == '"' {
			var s string
			if json.Unmarshal(raw, &s) == nil && strings.TrimSpace(s) != "" {
				return strings.TrimSpace(s)
			}
			continue
		}
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String()
		}
	}
	return ""
}

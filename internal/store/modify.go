package store

import (
	"github.com/connecthub/connecthub"
)

// InTx runs a function in one write transaction of a driver and commits
// it, or rolls it back when the function fails. Tx is the driver's own
// transaction handle. The error it returns is mapped by the driver, except
// that Modify hands back the caller's own error as it was.
type InTx[Tx any] func(fn func(tx Tx) error) error

// TxValue runs fn in one transaction of inTx and returns what fn returned
// once it has committed; the zero value and the error otherwise. It is the
// frame of the driver methods whose rule returns a value.
func TxValue[Tx, T any](inTx InTx[Tx], fn func(tx Tx) (T, error)) (T, error) {
	var out, zero T
	err := inTx(func(tx Tx) (err error) {
		out, err = fn(tx)
		return err
	})
	if err != nil {
		return zero, err
	}
	return out, nil
}

// Modify is the read-modify-write rule every Update method of the contract
// follows (JobUpdate, UserUpdate, ChannelUpdate, AlertRuleUpdate), written
// once so that the drivers cannot drift: in one transaction it reads the
// record (read returns KindNotFound when there is none, and locks the row
// where the dialect can, so that concurrent updates take turns and none is
// lost), lets the caller's fn change it, and hands the result to write,
// which refuses what may not change and stores the rest. When fn fails
// nothing is written and fn's error reaches the caller unchanged, not
// mapped as a database failure.
func Modify[Tx, T any](inTx InTx[Tx], read func(Tx) (T, error), fn func(T) error, write func(Tx, T) (T, error)) (T, error) {
	var (
		out, zero T
		fnErr     error
	)
	err := inTx(func(tx Tx) error {
		v, err := read(tx)
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			fnErr = err
			return err
		}
		out, err = write(tx, v)
		return err
	})
	if fnErr != nil {
		return zero, fnErr
	}
	if err != nil {
		return zero, err
	}
	return out, nil
}

// UpdateChannel is ChannelUpdate's rule: the caller's update may change
// everything but the name (KindInvalid), the result is checked as a new
// channel is (PrepareChannel), and write stores it with its encoded SMTP
// settings. HasSecret of the result tells whether a secret token is kept.
func UpdateChannel[Tx any](inTx InTx[Tx], name string, update func(*connecthub.Channel) error,
	read func(Tx) (*connecthub.Channel, error), write func(tx Tx, c *connecthub.Channel, smtp *string) error) (*connecthub.Channel, error) {
	return Modify(inTx, read, update, func(tx Tx, c *connecthub.Channel) (*connecthub.Channel, error) {
		if c.Name != name {
			return nil, ChannelRenamed()
		}
		smtp, err := PrepareChannel(c)
		if err != nil {
			return nil, err
		}
		if err := write(tx, c, smtp); err != nil {
			return nil, err
		}
		c.HasSecret = c.SecretToken != ""
		return c, nil
	})
}

// UpdateAlertRule is AlertRuleUpdate's rule: the caller's update may not
// change the id (KindInvalid), and the result is checked as a new rule is
// (PrepareAlertRule) before write stores it with its channels.
func UpdateAlertRule[Tx any](inTx InTx[Tx], id string, update func(*connecthub.AlertRule) error,
	read func(Tx) (*connecthub.AlertRule, error), write func(Tx, *connecthub.AlertRule) error) (*connecthub.AlertRule, error) {
	return Modify(inTx, read, update, func(tx Tx, r *connecthub.AlertRule) (*connecthub.AlertRule, error) {
		if r.ID != id {
			return nil, RuleChanged()
		}
		if err := PrepareAlertRule(r); err != nil {
			return nil, err
		}
		return r, write(tx, r)
	})
}

package store

import (
	"time"

	"github.com/connecthub/connecthub"
)

// The rules of JobsFire once a job's compare-and-set has applied: which
// slots get a run, and what the job's concurrency policy does to them. The
// drivers read which slots are taken and whether the job is busy (in bulk,
// as suits their database), call DecideFire, and write what it returns.

// Messages JobsFire writes on the runs it skips or replaces.
const (
	SkippedMessage  = "skipped: the job still has a queued or running run (concurrency forbid)"
	ReplacedMessage = "replaced by a newer run (concurrency replace)"
)

// FireSlot identifies a cron slot: a job and a time at the store's
// precision (microseconds).
type FireSlot struct {
	Job string
	At  int64 // unix microseconds
}

// SlotOf returns the slot of a job at t.
func SlotOf(job string, t time.Time) FireSlot { return FireSlot{job, t.UnixMicro()} }

// DecideFire decides the runs of one fire whose compare-and-set applied,
// slot by slot in order, so that a job's earlier slots count for its later
// ones:
//   - a slot in taken (it already has a cron run) is a duplicate and gets
//     nothing; a slot DecideFire fills is added to taken;
//   - under allow, every other slot gets a QUEUED run;
//   - under forbid (or ""), a slot of a busy job (one with a QUEUED or
//     RUNNING run, counting the runs this fire queued) gets a SKIPPED run,
//     finished at f.Now;
//   - under replace, a slot of a busy job gets a QUEUED run and everything
//     active before it is canceled: the job's runs in the database (replace
//     is true: the driver cancels its QUEUED runs and requests the cancel of
//     its RUNNING ones, with ReplacedMessage, before it inserts), and this
//     fire's own earlier runs, which DecideFire turns CANCELED.
//
// rows are the fire's prepared runs (PrepareFires); busy says whether the
// job had a QUEUED or RUNNING run before the fire. DecideFire counts into
// res, gives ids to the runs it keeps, and returns them in slot order: the
// rows to insert.
func DecideFire(f *JobFireParams, rows []*connecthub.Run, taken map[FireSlot]bool, busy bool, ids *IDGen, res *JobFireResult) (write []*connecthub.Run, replace bool, err error) {
	var mine []*connecthub.Run // this fire's QUEUED runs so far
	for _, row := range rows {
		key := SlotOf(row.JobID, row.ScheduledFor)
		if taken[key] {
			res.Duplicates++
			continue
		}
		taken[key] = true
		if f.Concurrency != connecthub.ConcurrencyAllow && busy {
			if f.Concurrency == connecthub.ConcurrencyReplace {
				replace = true
				for _, m := range mine {
					m.Status = connecthub.StatusCanceled
					m.FinishedAt = &f.Now
					m.Error = connecthub.ReasonCanceled
					m.Message = ReplacedMessage
					m.UpdatedAt = f.Now
				}
				mine = mine[:0]
			} else {
				row.Status = connecthub.StatusSkipped
				row.FinishedAt = &f.Now
				row.Message = SkippedMessage
			}
		}
		if row.ID == "" {
			if row.ID, err = ids.Next(row.CreatedAt); err != nil {
				return nil, false, err
			}
		}
		if row.Status == connecthub.StatusQueued {
			busy = true
			mine = append(mine, row)
			res.Inserted++
		} else {
			res.Skipped++
		}
		res.RunIDs = append(res.RunIDs, row.ID)
		write = append(write, row)
	}
	return write, replace, nil
}

// FireEffects is what a JobsFire call did besides its results, for the
// driver's notifications: whether it queued a run, and whether it asked a
// running run to cancel (the replace policy).
type FireEffects struct {
	Inserted, CancelRequested bool
}

// Topics are the topics a driver publishes after the call: TopicRuns when
// a run was queued, TopicCancel when a cancel was asked.
func (e FireEffects) Topics() []Topic {
	var t []Topic
	if e.Inserted {
		t = append(t, TopicRuns)
	}
	if e.CancelRequested {
		t = append(t, TopicCancel)
	}
	return t
}

// Fire is JobsFire's frame, written once: an empty call writes nothing;
// every fire is checked before anything is written (PrepareFires: a bad
// element fails the call); write applies them in one transaction (the
// compare-and-set, DecideFire, the SQL), filling results; on success the
// ids of the runs written are handed back (FireHandBack).
func Fire(fires []JobFireParams, write func(rows [][]*connecthub.Run, results []JobFireResult) (FireEffects, error)) ([]JobFireResult, FireEffects, error) {
	results := make([]JobFireResult, len(fires))
	if len(fires) == 0 {
		return results, FireEffects{}, nil
	}
	rows, err := PrepareFires(fires)
	if err != nil {
		return nil, FireEffects{}, err
	}
	eff, err := write(rows, results)
	if err != nil {
		return nil, FireEffects{}, err
	}
	FireHandBack(fires, rows, results)
	return results, eff, nil
}

// FireHandBack copies the ids of the runs JobsFire wrote (rows, from
// PrepareFires) back to the caller's runs of the fires that applied, as
// RunInsert does.
func FireHandBack(fires []JobFireParams, rows [][]*connecthub.Run, results []JobFireResult) {
	for i, f := range fires {
		if results[i].Applied {
			for j, r := range f.Runs {
				r.ID = rows[i][j].ID
			}
		}
	}
}

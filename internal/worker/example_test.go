package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/maintenance"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
	"github.com/connecthub/connecthub/internal/worker"
)

// Example wires the in-process worker pool the way `connecthub serve` does:
// a LocalSource over the store and the keyring, a Worker over the source,
// and maintenance's Rescuer for the leases of dead workers. Stop the worker
// before closing the source and the store.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "connecthub-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "connecthub.db"), sqlitestore.Options{})
	if err != nil {
		panic(err)
	}
	defer st.Close()
	key, _ := secret.GenerateKey()
	keys, _ := secret.Parse(key, "fernet.key")
	quiet := slog.New(slog.DiscardHandler)

	reg := handler.NewRegistry()
	done := make(chan struct{})
	_ = reg.Add(handler.Spec{Name: "hello", Func: func(ctx context.Context, t *handler.Task) (*handler.Result, error) {
		defer close(done)
		t.Log.Info("saying hello")
		return &handler.Result{Message: "said hello"}, nil
	}})

	src := worker.NewLocalSource(st, keys, "node-1", []string{connecthub.DefaultQueue}, 30*time.Second, nil)
	defer src.Close()
	w, err := worker.New(worker.Config{Source: src, Registry: reg, Node: "node-1", Logger: quiet})
	if err != nil {
		panic(err)
	}
	rescuer := maintenance.NewRescuer(maintenance.RescuerConfig{Store: st, LeaseTTL: 30 * time.Second, Logger: quiet})
	if err := w.Start(ctx); err != nil {
		panic(err)
	}
	if err := rescuer.Start(ctx); err != nil {
		panic(err)
	}

	now := time.Now()
	job := &connecthub.Job{ID: "example.hello", Enabled: true, Timezone: "UTC", Handler: "hello",
		PublicCfg: []byte(`{}`), MaxAttempts: 1, Concurrency: connecthub.ConcurrencyForbid,
		Misfire: connecthub.MisfireOnce, Queue: connecthub.DefaultQueue, CreatedAt: now, UpdatedAt: now}
	if err := st.JobCreate(ctx, job); err != nil {
		panic(err)
	}
	run := connecthub.NewRun(job, connecthub.TriggerManual, now, now, "example")
	if err := st.RunInsert(ctx, []*connecthub.Run{run}); err != nil {
		panic(err)
	}
	<-done

	// Stop drains: the run's outcome is recorded before Stop returns.
	shutdown, cancel := context.WithTimeout(ctx, 25*time.Second)
	defer cancel()
	if err := w.Stop(shutdown); err != nil {
		panic(err)
	}
	_ = rescuer.Stop(shutdown)

	got, err := st.RunGet(ctx, run.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(got.Status, got.Message)
	// Output: SUCCESS said hello
}

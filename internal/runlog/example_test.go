package runlog_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/connecthub/connecthub/internal/runlog"
)

// Example shows the life of one run's log: the worker creates a Capture with
// the run's secrets, hands the logger to the handler, closes the Capture when
// the handler returns and stores the message.
func Example() {
	// The Sink would append to the run's row; here it keeps the log in memory.
	var stored strings.Builder
	sink := runlog.SinkFunc(func(_ context.Context, runID, chunk string) error {
		stored.WriteString(chunk)
		return nil
	})
	capture := runlog.New(runlog.Config{
		RunID:   "01JDX7Q3M2",
		Sink:    sink,
		Secrets: []string{"s3cr3t"},
		Now:     func() time.Time { return time.Date(2026, 11, 24, 6, 43, 21, 123e6, time.UTC) },
	})

	// The handler logs as usual; secret values never reach the Sink.
	logger := capture.Logger()
	logger.Info("calling API", "url", "https://api.example.com/v1?token=s3cr3t")
	logger.WithGroup("http").Warn("slow response", "status", 200, "elapsed", 2*time.Second)

	// A subprocess's stderr: WARNING lines count as warnings.
	stderr := capture.StderrWriter()
	io.WriteString(stderr, "WARNING: disk almost full\nexit 0\n")

	if err := capture.Close(context.Background()); err != nil {
		fmt.Println("storing the log:", err)
	}
	fmt.Print(stored.String())
	fmt.Println("---")
	fmt.Println(capture.Message("synced 42 members"))
	// Output:
	// 2026-11-24T06:43:21.123Z INFO calling API url="https://api.example.com/v1?token=******"
	// 2026-11-24T06:43:21.123Z WARN slow response http.status=200 http.elapsed=2s
	// 2026-11-24T06:43:21.123Z WARN WARNING: disk almost full
	// 2026-11-24T06:43:21.123Z INFO exit 0
	// ---
	// synced 42 members
	//
	// Warnings (2):
	// slow response http.status=200 http.elapsed=2s
	// WARNING: disk almost full
}

func ExampleMasker() {
	m := runlog.NewMasker([]string{`pa"ss word`})
	fmt.Println(m.Mask(`raw: pa"ss word`))
	fmt.Println(m.Mask(`json: {"password":"pa\"ss word"}`))
	fmt.Println(m.Mask(`url: https://example.com/login?p=pa%22ss+word`))
	// Output:
	// raw: ******
	// json: {"password":"******"}
	// url: https://example.com/login?p=******
}

func ExampleMessage() {
	fmt.Println(runlog.Message("exported 3 forms", []string{"form 7 has no 工号 field"}))
	// Output:
	// exported 3 forms
	//
	// Warnings (1):
	// form 7 has no 工号 field
}

func ExampleCapture_Writer() {
	var stored strings.Builder
	capture := runlog.New(runlog.Config{
		RunID: "01JDX7Q3M2",
		Sink: runlog.SinkFunc(func(_ context.Context, _, chunk string) error {
			stored.WriteString(chunk)
			return nil
		}),
		Now: func() time.Time { return time.Date(2026, 11, 24, 6, 43, 21, 0, time.UTC) },
	})
	// Typically cmd.Stdout = capture.Writer(slog.LevelInfo); partial lines
	// are joined across writes.
	stdout := capture.Writer(slog.LevelInfo)
	io.WriteString(stdout, "downloading ")
	io.WriteString(stdout, "report.csv\r\ndone")
	capture.Close(context.Background()) // records the unterminated "done"
	fmt.Print(stored.String())
	// Output:
	// 2026-11-24T06:43:21.000Z INFO downloading report.csv
	// 2026-11-24T06:43:21.000Z INFO done
}

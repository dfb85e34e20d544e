// Package shell provides the built-in "shell" handler, which runs a command
// on the host: the escape hatch for jobs that are a script.
//
// Its public_cfg is
//
//	{"command": "sh", "args": ["-c", "backup.sh"], "dir": "/srv/backup", "env": {"MODE": "full"}}
//
// Because it runs arbitrary commands with the server's privileges, the
// handler is registered only when CONNECTHUB_ENABLE_SHELL=true (see
// handlers/builtin).
//
// # Environment
//
// The command does not inherit the server's environment, which holds
// CONNECTHUB_ADMIN_TOKEN, the database URL and other credentials that a job
// author must not be able to print. It gets only the server's PATH, HOME,
// LANG and TZ (when set; HOME is the user's home directory when commands run
// as another user), then the "env" of public_cfg, then every secret of the
// job as a variable named by its key, then the run's identity:
// CONNECTHUB_RUN_ID, CONNECTHUB_JOB_ID, CONNECTHUB_ATTEMPT and
// CONNECTHUB_SCHEDULED_FOR (RFC 3339, UTC; empty for a run with no scheduled
// time). A later source overrides an earlier one, so the identity cannot be
// faked by env. A command that may run twice (a retry, or a run rescued from
// a dead worker) can use them as idempotency keys.
//
// On Linux the server also makes itself non-dumpable before it starts the
// first command, so that a command running as the same user cannot read the
// server's environment or memory through /proc/PID/environ or /proc/PID/mem.
// Files the server's user can read (its data directory, with the key file
// and the generated admin token) stay readable to commands running as that
// user: set Options.User (CONNECTHUB_SHELL_USER) to run them as another one.
//
// # Output
//
// Standard output and standard error are streamed to the run log line by
// line while the command runs. Error lines that start with "WARNING" are
// logged at WARN level, so they are summarised in the run's message. Lines
// longer than 64 KiB are split. The command's standard input is empty.
//
// # Termination
//
// The command runs in its own process group, which the run owns: when the
// run's context is cancelled (timeout, cancel request, shutdown deadline) the
// whole group is killed with SIGKILL, and when the command exits, whatever it
// left running in the group (a forgotten "&") is killed too. A process that
// left the group (setsid, a double fork into a daemon) and keeps the output
// open is not waited for longer than a few seconds.
//
// On Linux the group also dies with the process that started it, even when
// that process is killed with SIGKILL and cannot clean up: the command is
// started by a small supervisor (this binary again, see supervise_linux.go)
// that leads the group and gets a parent-death signal; when the server dies
// it kills the whole group, so no command of a dead server keeps running
// while its run is rescued and started again elsewhere.
//
// A non-zero exit fails the run with "exit status N"; a command that cannot
// be started (not found, not executable, no such dir) fails it permanently.
package shell

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/connecthub/connecthub/handler"
)

// Name is the handler name jobs put in their "handler" field.
const Name = "shell"

// InheritedEnv are the only variables of the server's environment that a
// command sees.
var InheritedEnv = []string{"PATH", "HOME", "LANG", "TZ"}

// The variables that carry the run's identity to the command.
const (
	EnvRunID        = "CONNECTHUB_RUN_ID"
	EnvJobID        = "CONNECTHUB_JOB_ID"
	EnvAttempt      = "CONNECTHUB_ATTEMPT"
	EnvScheduledFor = "CONNECTHUB_SCHEDULED_FOR"
)

// MaxLineBytes is the longest line logged as one record; a longer line is
// logged in pieces of this size, so a command printing megabytes without a
// newline cannot exhaust memory.
const MaxLineBytes = 64 << 10

// defaultOutputGrace is how long the handler waits, once the command has
// exited and its process group is killed, for the last output to be read.
// Only a process that escaped the group can hold the pipes that long.
const defaultOutputGrace = 3 * time.Second

//go:embed schema.json
var schema []byte

// Options configure the handler.
type Options struct {
	// User, when set, is the user name (or numeric ID) the commands run as,
	// with that user's primary and supplementary groups and home
	// directory. The server must run as root to switch to another user.
	User string
}

// Spec returns the shell handler's spec, running commands as the server's
// user.
func Spec() handler.Spec {
	spec, err := SpecWithOptions(Options{})
	if err != nil {
		panic(err) // no user to look up: cannot fail
	}
	return spec
}

// SpecWithOptions returns the shell handler's spec configured by o. It fails
// when o.User does not exist or cannot be switched to, so that a bad setting
// stops the server at start rather than failing every run.
func SpecWithOptions(o Options) (handler.Spec, error) {
	r := &runner{outputGrace: defaultOutputGrace}
	if o.User != "" {
		acct, err := LookupUser(o.User)
		if err != nil {
			return handler.Spec{}, err
		}
		r.user = acct
	}
	return handler.Spec{
		Name:         Name,
		Description:  "Runs a command on the host; secrets are exported as environment variables and the output goes to the run log.",
		ConfigSchema: schema,
		Func:         r.run,
		Translations: map[string]handler.Text{
			"zh-CN": {
				Description: "在主机上运行一条命令；密钥以环境变量传入，输出写入运行日志。",
				Fields: map[string]string{
					"command": "要运行的程序：在 PATH 中查找的名字，或一个路径。它不经过 shell 运行：需要管道和重定向时，用 \"sh\" 并把 args 设为 [\"-c\", \"...\"]。必填。",
					"args":    "程序的参数，例如 [\"-c\", \"./backup.sh --full\"]。",
					"dir":     "工作目录，默认是服务器的工作目录；相对路径相对于服务器的工作目录。",
					"env":     "额外的环境变量，例如 {\"MODE\": \"full\"}。它们覆盖 PATH、HOME、LANG 和 TZ；密钥覆盖它们；CONNECTHUB_ 开头的运行变量覆盖两者。凭据请放在 secret_cfg 中，不要放在这里。",
				},
			},
		},
	}, nil
}

// config is public_cfg as written.
type config struct {
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Dir     string            `json:"dir"`
	Env     map[string]string `json:"env"`
}

// runner runs commands; its fields let tests shorten the output grace.
type runner struct {
	outputGrace time.Duration
	user        *Account // nil: the server's user
}

func (r *runner) run(ctx context.Context, t *handler.Task) (*handler.Result, error) {
	var cfg config
	if err := t.Decode(&cfg); err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.Command) == "" {
		return nil, handler.Permanent(errors.New("command is required"))
	}
	for i, a := range cfg.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, handler.Permanent(fmt.Errorf("args[%d] contains a NUL byte", i))
		}
	}
	env, err := environ(cfg.Env, t.Secrets, identity(t), r.user)
	if err != nil {
		return nil, handler.Permanent(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := t.Logger()

	path := cfg.Command
	// A bare name is looked up in the server's PATH, as exec.Command does;
	// a path is used as it is.
	if !strings.ContainsRune(path, os.PathSeparator) {
		if path, err = exec.LookPath(cfg.Command); err != nil {
			return nil, startError(err)
		}
	}
	// The read ends are ours; the write ends go to the command as its
	// stdout and stderr, so exec starts no copying goroutines and Wait does
	// not wait for the output: the handler decides how long to wait for it.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating the stdout pipe: %w", err)
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		outW.Close()
		return nil, fmt.Errorf("creating the stderr pipe: %w", err)
	}
	defer errR.Close()
	proc, err := start(launch{
		path: path, args: append([]string{cfg.Command}, cfg.Args...), dir: cfg.Dir, env: env,
		stdout: outW, stderr: errW, user: r.user,
	})
	// The command holds its own copies of the write ends now; closing ours
	// lets the readers see end of file once the command's are gone.
	outW.Close()
	errW.Close()
	if err != nil {
		return nil, startError(err)
	}

	var pumps sync.WaitGroup
	pumps.Go(func() { pump(outR, func(line string) { log.Info(line) }) })
	pumps.Go(func() { pump(errR, func(line string) { logStderr(log, line) }) })
	pumpsDone := make(chan struct{})
	go func() { pumps.Wait(); close(pumpsDone) }()

	cancelled, exitErr := proc.wait(ctx)

	grace := time.NewTimer(r.outputGrace)
	select {
	case <-pumpsDone:
		grace.Stop()
	case <-grace.C:
		outR.Close()
		errR.Close()
		<-pumpsDone
		log.Warn(fmt.Sprintf("stopped reading the output %s after the command exited: a process that left its process group still holds it open", r.outputGrace))
	}

	if cancelled {
		return nil, ctx.Err()
	}
	var notStarted *startFailure
	if errors.As(exitErr, &notStarted) {
		return nil, startError(notStarted.err)
	}
	if exitErr != nil {
		return nil, exitErr
	}
	return &handler.Result{Message: "exit 0"}, nil
}

// startError classifies a failure to start: a missing or non-executable
// command or a missing directory is a configuration error no retry fixes;
// anything else (out of processes, out of memory) may pass.
func startError(err error) error {
	err = fmt.Errorf("starting the command: %w", err)
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, exec.ErrDot) ||
		errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, errors.ErrUnsupported) {
		return handler.Permanent(err)
	}
	return err
}

// identity returns the variables that name the task's run.
func identity(t *handler.Task) map[string]string {
	scheduled := ""
	if !t.ScheduledFor.IsZero() {
		scheduled = t.ScheduledFor.UTC().Format(time.RFC3339Nano)
	}
	return map[string]string{
		EnvRunID:        t.RunID,
		EnvJobID:        t.JobID,
		EnvAttempt:      strconv.Itoa(t.Attempt),
		EnvScheduledFor: scheduled,
	}
}

// environ builds the command's environment: the inherited variables, then
// public_cfg's env, then the secrets, then the run's identity.
func environ(public, secrets, ids map[string]string, user *Account) ([]string, error) {
	vars := make(map[string]string, len(InheritedEnv)+len(public)+len(secrets)+len(ids))
	for _, k := range InheritedEnv {
		if v, ok := os.LookupEnv(k); ok {
			vars[k] = v
		}
	}
	if user != nil && user.Home != "" {
		vars["HOME"] = user.Home
	}
	for _, k := range slices.Sorted(maps.Keys(public)) {
		if err := checkEnvName(k); err != nil {
			return nil, fmt.Errorf("env: %q %w", k, err)
		}
		if strings.IndexByte(public[k], 0) >= 0 {
			return nil, fmt.Errorf("env.%s: the value contains a NUL byte", k)
		}
		vars[k] = public[k]
	}
	for _, k := range slices.Sorted(maps.Keys(secrets)) {
		if err := checkEnvName(k); err != nil {
			return nil, fmt.Errorf("secret %q cannot be exported: the name %w", k, err)
		}
		// Name the key, never the value.
		if strings.IndexByte(secrets[k], 0) >= 0 {
			return nil, fmt.Errorf("secret %q cannot be exported: its value contains a NUL byte", k)
		}
		vars[k] = secrets[k]
	}
	maps.Copy(vars, ids)
	env := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env, nil
}

// checkEnvName rejects what cannot be an environment variable's name.
func checkEnvName(k string) error {
	switch {
	case k == "":
		return errors.New("is empty")
	case strings.ContainsAny(k, "=\x00"):
		return errors.New(`contains "=" or a NUL byte`)
	}
	return nil
}

// logStderr logs one line of standard error, at WARN level when it starts
// with "WARNING" (Python's logging, many CLIs), so that it is summarised in
// the run's message.
func logStderr(log *slog.Logger, line string) {
	level := slog.LevelInfo
	if strings.HasPrefix(line, "WARNING") {
		level = slog.LevelWarn
	}
	log.LogAttrs(context.Background(), level, line, slog.String("stream", "stderr"))
}

// pump reads r until end of file or error and calls emit with each line as
// soon as it is complete, without its line ending. A line longer than
// MaxLineBytes is emitted in pieces, and a final line without a newline is
// emitted too.
func pump(r io.Reader, emit func(string)) {
	br := bufio.NewReaderSize(r, MaxLineBytes)
	split := false // the previous piece was a cut, not a whole line
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case len(line) == 0:
		case split && len(line) == 1 && line[0] == '\n':
			// The newline that ends a line already emitted in pieces.
		default:
			emit(trimEOL(line))
		}
		split = errors.Is(err, bufio.ErrBufferFull)
		if err != nil && !split {
			return
		}
	}
}

func trimEOL(b []byte) string {
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r")
}

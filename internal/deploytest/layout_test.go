package deploytest

import (
	"reflect"
	"strings"
	"testing"
)

// runtimeStage parses a Containerfile or Dockerfile and returns the
// instructions of its last stage (the image that runs) that make the
// runtime layout, keyed by instruction, continuation lines joined and
// whitespace normalised. COPY is reduced to its options and destination:
// the sources differ by design (a build stage here, a staged context
// there).
func runtimeStage(t *testing.T, text string) map[string][]string {
	t.Helper()
	var lines []string
	var cur strings.Builder
	for _, l := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(l)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		lines = append(lines, strings.Join(strings.Fields(cur.String()), " "))
		cur.Reset()
	}
	last := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.ToUpper(l), "FROM ") {
			last = i
		}
	}
	if last < 0 {
		t.Fatal("no FROM")
	}
	stage := map[string][]string{}
	for _, l := range lines[last+1:] {
		instr, rest, _ := strings.Cut(l, " ")
		instr = strings.ToUpper(instr)
		switch instr {
		case "ARG", "LABEL", "RUN":
			continue // build-time only
		case "COPY":
			f := strings.Fields(rest)
			var opts []string
			for _, o := range f[:len(f)-1] {
				if strings.HasPrefix(o, "--") && !strings.HasPrefix(o, "--from=") {
					opts = append(opts, o)
				}
			}
			rest = strings.TrimSpace(strings.Join(opts, " ") + " " + f[len(f)-1])
		}
		stage[instr] = append(stage[instr], rest)
	}
	return stage
}

// TestContainerfileMatchesDockerfile keeps the two image recipes of
// deploy/ in step: the multi-stage Dockerfile (machines with a registry)
// and the Containerfile around a local binary (make image) give the same
// runtime: the binary at /connecthub, /data owned by 65532 as the volume
// and data directory, the same user, port, stop signal, health check,
// entrypoint and command. The Containerfile's own copies (passwd, CA
// certificates, /tmp) are what the distroless base brings.
func TestContainerfileMatchesDockerfile(t *testing.T) {
	t.Parallel()
	docker := runtimeStage(t, deployFile(t, "Dockerfile"))
	local := runtimeStage(t, deployFile(t, "Containerfile"))
	if !strings.Contains(deployFile(t, "Dockerfile"), "FROM gcr.io/distroless/static-debian12:nonroot") {
		t.Error("deploy/Dockerfile no longer runs on distroless static:nonroot; check what the Containerfile must copy")
	}
	if got, want := local["COPY"], []string{"/", "/connecthub", "--chown=65532:65532 /data"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Containerfile COPY destinations = %q, want %q", got, want)
	}
	if got, want := docker["COPY"], []string{"/connecthub", "--chown=65532:65532 /data"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Dockerfile runtime COPY destinations = %q, want %q", got, want)
	}
	for _, instr := range []string{"ENV", "VOLUME", "USER", "EXPOSE", "STOPSIGNAL", "HEALTHCHECK", "ENTRYPOINT", "CMD"} {
		if len(docker[instr]) == 0 {
			t.Errorf("the Dockerfile's runtime stage has no %s", instr)
		}
		if !reflect.DeepEqual(docker[instr], local[instr]) {
			t.Errorf("%s differs:\n Dockerfile    %q\n Containerfile %q", instr, docker[instr], local[instr])
		}
	}
	for instr := range local {
		if _, ok := docker[instr]; !ok {
			t.Errorf("the Containerfile has %s, the Dockerfile's runtime stage has not", instr)
		}
	}
}

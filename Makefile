# dispatcher: see README.md. `make run` runs one instance with embedded Redis
# in sandbox mode; `make test` runs every test against a real redis-server
# and, for the ops page, a headless Chromium (both installed when missing).
GO       ?= go
BIN      := bin/dispatcher
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
# the one version source (internal/version); `go build` and `go install`
# without these flags fall back to what Go records in the binary
VERPKG   := github.com/dispatcher-bot/dispatcher/internal/version
LDFLAGS  := -s -w -X $(VERPKG).version=$(VERSION) -X $(VERPKG).commit=$(COMMIT)
PKGS     := ./...

.PHONY: all build run test test-inner test-kube test-image test-short lint smoke fuzz bench chaos clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/dispatcher

run: build
	./$(BIN) serve

## test: vet, then every test under -race against a real redis-server (with
## nginx and promtool installed for the deploy tests, node and npm for the grammY bot, and a headless Chromium
## for the ops page's), the Helm chart and Kubernetes manifests against the
## real types (deploy/kubetest, a module of its own), the image when a
## container runtime exists, then the smoke check and a short run of each
## fuzz target.
test:
	scripts/test-tools.sh
	scripts/with-chromium.sh scripts/with-redis.sh $(MAKE) --no-print-directory test-inner

test-inner:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(MAKE) --no-print-directory test-kube test-image
	$(GO) run ./cmd/dispatcher smoke
	$(MAKE) --no-print-directory fuzz FUZZTIME=3s

## test-kube: deploy/kubetest renders and lints the Helm chart with Helm's
## packages and decodes every object strictly (k8s.io/api, Prometheus
## Operator types); its dependencies stay out of the main go.mod.
test-kube:
	cd deploy/kubetest && $(GO) vet ./... && $(GO) test -count=1 ./...

## test-image: builds deploy/Dockerfile and runs its healthcheck, or says
## plainly why not (no container runtime).
test-image:
	DISPATCHER_IMAGE_TEST=1 $(GO) test -count=1 -v -run '^TestImage$$' ./deploy/

## test-short: fast unit tests only (no real Redis needed).
test-short:
	$(GO) test -short -count=1 $(PKGS)

## fuzz: each fuzz target for FUZZTIME, one after another, from its seed
## corpus (the webhook decoder, callback data, the log encoders, config,
## stream entries, the update scanner).
FUZZTIME ?= 10s
FUZZ := ./internal/ingest:FuzzWebhook ./internal/router:FuzzParseData \
	./internal/telemetry:FuzzNoForgery ./internal/config:FuzzFromEnv ./internal/queue:FuzzDecodeEntry \
	./internal/queue:FuzzDecodePackedEntry \
	./internal/update:FuzzScan ./internal/journal:FuzzDecodeBlocks
fuzz:
	@scripts/fuzz.sh $(GO) $(FUZZTIME) $(FUZZ)

## chaos: the fault suite (chaos/): real processes under load while leaders
## die, Redis restarts or vanishes, the Bot API fails; writes the report
## docs/RELIABILITY.md from the run. About 4 minutes on 2 cores.
chaos:
	scripts/with-redis.sh $(GO) test -count=1 -timeout 10m -v -run . ./chaos -args -report ../docs/RELIABILITY.md

lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

smoke:
	$(GO) run ./cmd/dispatcher smoke

## bench: the figures of docs/BENCHMARKS.md (ingest against the floor, end to
## end latency, asynq, failover, long polling, forward mode, memory) and its plots; about 10 minutes on
## 2 cores, not part of `make test` nor CI. BENCHFLAGS=-quick tries it out.
bench: build
	cd bench && $(GO) build -o ../bin/bench .
	./bin/bench -repo . -bin $(BIN) -out docs $(BENCHFLAGS)

clean:
	rm -rf bin

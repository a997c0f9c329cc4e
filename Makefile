# Emergency Desk. `make demo` and `make test` do all the set-up on a fresh
# Debian machine (as root they install the packages they need; otherwise
# they print the exact apt-get line).

SHELL      := /bin/bash
GO         ?= go
BIN        := bin/emergencydesk
VERSION    := $(shell sed -n 's/^ *Version *= *"\(.*\)"/\1/p' FyneApp.toml)
APP_ID     := $(shell sed -n 's/^ *ID *= *"\(.*\)"/\1/p' FyneApp.toml)
APP_NAME   := $(shell sed -n 's/^ *Name *= *"\(.*\)"/\1/p' FyneApp.toml)
TAGS       := migrated_fynedo
LDFLAGS    := -X main.version=$(VERSION)
TEST_TIMEOUT ?= 14m
BENCH      ?= .
BENCHTIME  ?= 1s
BENCH_PKGS ?= ./...
PKGS       ?= ./...

# Debian packages: Fyne's cgo build (gcc, pkg-config, GL and X11 headers),
# ALSA headers for the alarm sound, and for tests a headless desktop:
# Xvfb, a private D-Bus session and gnome-keyring's Secret Service.
DEB_PKGS := gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev \
	libxinerama-dev libxi-dev libxxf86vm-dev libasound2-dev \
	xvfb xauth dbus dbus-x11 gnome-keyring x11-utils xdotool imagemagick

# Keep Go's caches where they are when the test session swaps HOME.
GOENV := GOCACHE=$(shell $(GO) env GOCACHE) GOMODCACHE=$(shell $(GO) env GOMODCACHE) GOPATH=$(shell $(GO) env GOPATH)

# desktop-session runs its arguments in a throwaway HOME with an Xvfb
# display, a private D-Bus session and an unlocked gnome-keyring, so the
# keyring and GUI tests use the real things and touch nothing of the user's.
define desktop-session
	export $(GOENV) EMERGENCYDESK_REQUIRE_KEYRING=1 LANG=en_US.UTF-8 HOME=$$(mktemp -d) && \
	xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c \
	  'eval "$$(printf emergencydesk | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null && "$$@"' _
endef

.PHONY: all deps build headless run demo test bench chaos lint package clean

all: build

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends$$missing; \
	  else \
	    echo "missing Debian packages; run:"; echo "  sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
	@command -v $(GO) >/dev/null || { echo "Go 1.26 is required: https://go.dev/dl/"; exit 1; }

build:
	$(GO) build -tags $(TAGS) -ldflags "$(LDFLAGS)" -o $(BIN) ./app

# headless: `watch`, `diagnose`, `config` and `emulator` without the GUI
# (no Fyne/GL/audio; for servers and kiosks, and about half the memory).
headless:
	$(GO) build -tags headless -ldflags "$(LDFLAGS)" -o $(BIN)-headless ./app

run: deps build
	./$(BIN)

demo: deps build
	./$(BIN) demo

test: deps
	$(desktop-session) $(GO) test -tags $(TAGS) -timeout $(TEST_TIMEOUT) -count=1 $(PKGS)

bench: deps
	$(desktop-session) $(GO) test -tags $(TAGS) -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem -timeout 60m $(BENCH_PKGS)

chaos: deps
	$(desktop-session) $(GO) test -tags "$(TAGS) chaos" -timeout 80m -count=1 $(PKGS)

lint:
	@out=$$(gofmt -l app ui core assets); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags $(TAGS) ./...
	$(GO) vet -tags headless ./app

package: deps
	$(GO) install fyne.io/tools/cmd/fyne@v1.7.4
	$$($(GO) env GOPATH)/bin/fyne package -os linux --src ./app --exe emergencydesk \
	  --app-id "$(APP_ID)" --name "$(APP_NAME)" --app-version "$(VERSION)" --icon ../assets/icon.png --release --tags $(TAGS)
	mkdir -p dist && mv -f *.tar.xz dist/ 2>/dev/null || true

clean:
	rm -rf bin dist

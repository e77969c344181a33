# syntax=docker/dockerfile:1
# Herald: one image for every role; the command picks it (docker-compose.yml):
#   herald serve    HTTP server (+ delivery workers unless HERALD_RUN_WORKERS=false)
#   herald worker   delivery workers only
#   herald migrate  create or upgrade the schema, then exit
#   herald token create NAME, herald import …, herald demo …
#
# Standalone, with SQLite in the volume and alerts written to local outboxes:
#   docker build -t herald .
#   docker run --rm -p 8080:8080 herald demo --fixtures /usr/share/herald/fixtures
# Needs BuildKit (the default builder since Docker 23) for the cache mounts.

############################################################################
# Build
############################################################################
# rust:1 tracks the newest stable toolchain (the crate needs >= 1.85); bookworm
# matches the runtime image's glibc.
FROM rust:1-bookworm AS builder
WORKDIR /src

# Only what the compiler reads. Besides src/, these are read at COMPILE time:
#   migrations/  sqlx::migrate! embeds the SQL (src/store/*.rs)
#   templates/   askama pages, e-mails, SMS and IVR; fluent catalogues under
#                templates/i18n (fluent_templates::static_loader! in src/i18n.rs)
#   static/      refresh.js (include_str! in src/http/public.rs)
#   benches/     not built, but Cargo.toml declares [[bench]] targets and cargo
#                refuses a manifest whose declared target files are missing
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY src ./src

# Cache mounts keep the crates.io downloads and compiled dependencies between
# builds, so a source change rebuilds only Herald. The target directory is a
# cache mount and vanishes after this step: copy the binary out of it.
# The release profile keeps line tables (debug = "line-tables-only"), which
# make the binary ~5x larger; the image drops them (strip --strip-debug: about
# 100 MB -> 22 MB) and keeps the symbols, so a backtrace still names functions.
RUN --mount=type=cache,id=herald-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=herald-cargo-git,target=/usr/local/cargo/git \
    --mount=type=cache,id=herald-target,target=/src/target \
    cargo build --release --locked --bin herald \
 && install -D -m 0755 target/release/herald /out/herald \
 && strip --strip-debug /out/herald

############################################################################
# Runtime
############################################################################
# Debian slim rather than distroless: the health check needs an HTTP client
# (Herald has no health-check subcommand), and curl is also handy inside
# `docker compose exec`. Herald's own TLS (rustls) carries its webpki root set
# and does not read the system store; ca-certificates serves curl and whatever
# else an operator runs in the container.
FROM debian:bookworm-slim AS runtime

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

# Fixed uid/gid 10001, so volume ownership is predictable on every host.
RUN groupadd --system --gid 10001 herald \
 && useradd --system --uid 10001 --gid herald --home-dir /var/lib/herald \
      --no-create-home --shell /usr/sbin/nologin herald \
 && install -d -o herald -g herald -m 0750 /var/lib/herald

COPY --from=builder /out/herald /usr/local/bin/herald
# Nothing else is read at run time (templates, catalogues, migrations and
# refresh.js are compiled in), except the sample data that `herald demo` and the
# import examples in docker-compose.yml use.
COPY fixtures/addresses.csv fixtures/contacts.csv /usr/share/herald/fixtures/
COPY fixtures/outages /usr/share/herald/fixtures/outages
COPY herald.example.toml /usr/share/doc/herald/herald.example.toml

# Container defaults; docker-compose.yml sets the rest. Listen on every
# interface (the default, 127.0.0.1, is unreachable from outside the container).
# The SQLite database and the file outboxes, when used, live in the volume.
ENV HERALD_BIND=0.0.0.0:8080 \
    HERALD_DATA_DIR=/var/lib/herald \
    RUST_LOG=info

# Numeric, so runtimes that check "runs as non-root" (Kubernetes' runAsNonRoot)
# can tell without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/herald
VOLUME ["/var/lib/herald"]
EXPOSE 8080

# Ready = serving and the database answers. Only meaningful for `herald serve`:
# docker-compose.yml disables it for the worker and migrate containers, which
# listen on no port. Assumes port 8080: change it together with HERALD_BIND.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/readyz"]

# herald handles SIGTERM (docker stop): the server drains, workers finish the
# batch in hand.
ENTRYPOINT ["herald"]
CMD ["serve"]

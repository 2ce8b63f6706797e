# syntax=docker/dockerfile:1
#
# skillreg container image.
#
#   docker build -t skillreg .
#   docker run -d -p 8970:8970 -v skillreg-data:/data \
#     -e SKILLREG_PUBLIC_URL=http://registry.example.internal:8970 skillreg
#
# SKILLREG_PUBLIC_URL is the address clients use; it goes into the index's
# config.json. Without it clients are told to fetch from 0.0.0.0.
#
# The admin token is written to /data/admin.token on first start:
#   docker run --rm -v skillreg-data:/data --entrypoint cat skillreg /data/admin.token
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts.

############################ builder ############################
FROM rust:1.95-bookworm AS builder
WORKDIR /build

# The whole context minus what .dockerignore drops (target/, .git/, data).
# Copying everything rather than a fixed list keeps the build working when
# the crate grows files it embeds with include_str! (config/, index-spec/,
# examples/ ...), which may or may not exist in a given checkout.
COPY . .

# Cache mounts keep the crates.io download cache and target/ across builds;
# the binary must be copied out of target/ within the same RUN because a
# cache mount is not part of the image layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/build/target \
    cargo build --release --locked --bin skillreg \
 && install -D -m 0755 target/release/skillreg /out/skillreg

############################ runtime ############################
FROM debian:bookworm-slim

LABEL org.opencontainers.image.title="skillreg" \
      org.opencontainers.image.description="Self-hosted private registry for AI-agent skills, Claude Code plugins and cargo crates" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"

# ca-certificates: outgoing TLS (mirroring upstream registries, the client
# subcommands). Nothing else: the binary links only against glibc, and
# SQLite is bundled into it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# Fixed, non-root uid/gid so that bind-mounted data directories can be
# chowned to 10001 on the host ahead of time.
RUN groupadd --system --gid 10001 skillreg \
 && useradd --system --uid 10001 --gid 10001 \
        --home-dir /data --no-create-home --shell /usr/sbin/nologin skillreg \
 && mkdir -p /data \
 && chown skillreg:skillreg /data \
 && chmod 0700 /data

COPY --from=builder /out/skillreg /usr/local/bin/skillreg

# Declared after the chown: a named volume is initialised from the image's
# /data, so it starts out owned by skillreg.
VOLUME /data
EXPOSE 8970
USER skillreg:skillreg

# No HEALTHCHECK: the image has no curl/wget, and adding one only for that
# would grow the attack surface. Probe an HTTP endpoint from the orchestrator
# instead (e.g. the sparse index's config.json), or add a `skillreg health`
# subcommand later and use HEALTHCHECK CMD ["skillreg", "health"].
#
# The exec form makes skillreg PID 1, so it receives SIGTERM from
# `docker stop` directly and drains connections itself; give it time with
# `docker stop -t 40` (the default grace period is 10 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["skillreg"]
CMD ["serve", "--data", "/data", "--listen", "0.0.0.0:8970"]

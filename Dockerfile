# syntax=docker/dockerfile:1.7
# Multi-stage build: compile in the Rust image, run the single binary in a slim image as a non-root user.
#
#   docker build -t healthtracker .
#   docker run -p 5000:5000 -e JWT_SECRET=$(openssl rand -hex 32) -v healthtracker-data:/data healthtracker
#
# The image serves the API (`serve`); run `healthtracker worker` from the same image for separate AI
# job workers, and `healthtracker migrate` as a release step.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the registry and build artefacts between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin healthtracker \
    && cp target/release/healthtracker /usr/local/bin/healthtracker

FROM debian:bookworm-slim
# CA certificates for the AI provider (HTTPS) and MongoDB Atlas (TLS).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin healthtracker \
    && mkdir /data && chown healthtracker /data
COPY --from=build /usr/local/bin/healthtracker /usr/local/bin/healthtracker
USER healthtracker
ENV APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=5000 \
    DATABASE_URL=sqlite:///data/healthtracker.db
VOLUME ["/data"]
EXPOSE 5000
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/healthtracker"]
CMD ["serve"]

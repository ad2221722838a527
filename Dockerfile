# Herald's image: the operator (`herald run`) and the cloner init container (`herald clone`).
# Built by CI elsewhere; this machine has no container engine, so it is not built by the tests.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libssl-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p herald

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 git \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/herald /usr/local/bin/herald
# The chart runs as 65532 with a read-only root filesystem; /tmp is a volume there.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/herald"]

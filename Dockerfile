# pushpull in a container, for sweeps run as Kubernetes Indexed Jobs (`pushpull sweep
# ... --emit-job`, README "Sweeps on a cluster") and for CI runners without Rust.
#
#   docker build -t pushpull:0.1.0 .
#   docker run --rm -v "$PWD:/work" -w /work pushpull:0.1.0 run scenarios/quickstart.yaml
#
# Two stages: the release build in the Rust image, then the binary alone on distroless
# (glibc and libgcc, no shell or package manager), running as a non-root user. Checked by
# `cargo test --test sweep_shard -- --ignored docker_build` where Docker is available.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin pushpull \
    && strip target/release/pushpull

# The `nonroot` tag runs as uid/gid 65532; the emitted Job asks for the same user.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/pushpull /usr/local/bin/pushpull
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/pushpull"]
CMD ["--help"]

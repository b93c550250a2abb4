# geommm in a container: the `geommm` command as entry point, the demo as default command.
#
#   docker build -t geommm .
#   docker run --rm -v "$PWD/out:/work" geommm                  # the demo; results in ./out
#   docker run --rm -v "$PWD:/work" geommm fit --help           # any other command
#
# Dependencies come from requirements.lock (exact pins, written by scripts/lock.py from a
# venv where the tests pass), installed without resolving, so a rebuild months later
# gets the same versions; tests/test_lock.py checks the lock against pyproject.toml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /opt/geommm

# the pinned dependencies first: this layer is rebuilt only when the lock changes
COPY requirements.lock ./
RUN pip install --no-cache-dir --no-deps -r requirements.lock

COPY pyproject.toml README.md ./
COPY geommm ./geommm
RUN pip install --no-cache-dir --no-deps . \
    && pip check

# run as an ordinary user; /work is where results go (mount a folder there)
RUN useradd --create-home --uid 10001 geommm \
    && mkdir /work && chown geommm:geommm /work
USER geommm
WORKDIR /work

ENTRYPOINT ["geommm"]
CMD ["demo"]

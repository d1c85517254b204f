#!/usr/bin/env python3
"""lifeboat benchmark harness: the scenarios of BENCHMARKS.md, side by side with their baselines.

Standard library only. Run through `bench/run` (installs packages, builds lifeboat) or directly:
    python3 bench/harness.py [--quick] [--runs N] [--only B1,B4] [--keep]
Everything happens in one temporary directory (under $BENCH_DIR, else the system temp dir) with a
throwaway PostgreSQL on a free loopback port; both are removed at the end, also on failure or Ctrl-C.
Progress goes to stderr; the versions and ONE markdown table go to stdout and bench/out/results.md.
"""
import argparse
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SQL = BENCH / "sql"
OUT = BENCH / "out"
NAMES = {
    "B1": "first backup of `shop` into an empty repository",
    "B2": "daily backups, typical churn (`churn_recent.sql`)",
    "B3": "daily backups, worst-case churn (`churn_uniform.sql`)",
    "B4": "restore the latest `shop` backup into a new database",
    "B5": "verify the latest `shop` backup",
    "B6": "first backup of the files tree",
    "B7": "second backup of the unchanged tree",
    "M1": "peak RSS: B1 backup and a large `command` stream backup",
    "B8": "`list` of a repository with many small backups",
    "B9": "`prune` of about half of those backups",
    "B10": "daemon `GET /metrics` and `GET /api/status` on that repository",
    "B11": "B1 into a repository on a local S3 server (s3s-fs)",
    "B12": "`copy_to` of one B2 churn day to an S3 offsite",
    "B13": "whole mini seed-001 app (PostgreSQL, MariaDB, Redis, files) vs the seed's sequential procedure",
    "B14": "MariaDB `sbtest` (sysbench): backup and restore",
    "B15": "Redis with many keys: backup and online restore",
    "T1": "1 GiB random stream (`command` source `cat FILE`) into an empty repository",
    "T2": "~0.7 GB of duplicate-heavy text (`command` source `cat FILE`) into an empty repository",
    "B1d": "first backup of `docs`, a document-store-like database (large TOASTed text and bytea)",
}
SCENARIOS = list(NAMES)
DB_SCENARIOS = {"B1", "B2", "B3", "B4", "B5", "M1", "B11", "B12", "B13", "B1d"}
PASSWORD = "bench-password"
MIB = 1024 * 1024
QUICK_DIVISOR = 20
# Integer literals that set the size of the data in bench/sql/*.sql (row counts, the id ranges that
# foreign keys point into, rows a churn day touches); --quick divides them all by QUICK_DIVISOR.
SCALED_LITERALS = re.compile(r"\b(1500000|400000|30000|20000|15000)\b")
# B8/B9: small `command` sources backed up once for real, then copied one day back per day.
MANY_SOURCES = 20
# The lifeboat commands B8 times against `restic snapshots`, one table row each: (label, arguments).
B8_COMMANDS = [("list", ["list"]), ("status", ["status"])]
# B10: requests per endpoint and repetition against the running daemon.
B10_REQUESTS = 30
# B13/B14: the MariaDB database `sbtest`, filled by `sysbench oltp_read_write prepare` (10 tables of
# int id, int k, char(120) c, char(60) pad, secondary index on k): 130,000 rows a table are ~300 MB
# (information_schema data + index), a tenth of that with --quick.
SYSBENCH_TABLES = 10
SYSBENCH_ROWS = 130_000
SYSBENCH_ROWS_QUICK = 13_000
# The options lifeboat's mysql kind gives mariadb-dump (crates/sources/src/mysql/backup.rs DUMP_ARGS and
# conn.rs COMMON_ARGS), so that B14's floor does the same work.
MYSQL_DUMP_ARGS = ["--single-transaction", "--routines", "--triggers", "--events", "--hex-blob", "--quick",
                   "--no-tablespaces", "--skip-dump-date", "--default-character-set=utf8mb4",
                   "--max-allowed-packet=1073741824"]
# B13/B15: keys in the Redis source (strings, hashes, lists, sorted sets; 5% with a TTL).
REDIS_KEYS = 1_000_000
REDIS_KEYS_QUICK = 100_000


class Failed(Exception):
    """A command exited non-zero: the scenario is aborted and the message shows its stderr."""


class NotSupported(Exception):
    """lifeboat reported that a feature does not exist yet."""


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs)


def fmt_s(seconds):
    return f"{seconds:.2f} s"


def fmt_b(n):
    mib = n / MIB
    return f"{mib:.2f} MiB" if mib < 10 else f"{mib:.1f} MiB"


def fmt_x(ratio):
    return f"{ratio:.2f}×"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def q(path):
    return shlex.quote(str(path))


def toml_value(v):
    """A TOML value: dicts as inline tables, everything else as JSON (which TOML reads for str/int/bool)."""
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    return json.dumps(v)


def lifeboat_default_jobs():
    """lifeboat's parallel restore jobs when a postgres source sets none:
    `std::thread::available_parallelism().min(4)` (the CPUs this process may run on, at most 4)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


class Sample:
    """One timed run: wall seconds and, when measured, peak RSS of the process in bytes."""

    def __init__(self, seconds, rss=None, cpu=None):
        self.seconds, self.rss, self.cpu = seconds, rss, cpu


class Runner:
    """Runs commands in their own process group with output to log files in the temp dir."""

    def __init__(self, tmp, env):
        self.tmp, self.env, self.n = tmp, env, 0
        self.logs = tmp / "logs"
        self.logs.mkdir()

    def run(self, cmd, *, rss=False, check=True):
        """cmd: an argv list, or a string run by `bash -o pipefail -c`. Returns (Sample, rc, stdout, stderr)."""
        self.n += 1
        base = self.logs / f"{self.n:04d}"
        argv = ["bash", "-o", "pipefail", "-c", cmd] if isinstance(cmd, str) else [str(a) for a in cmd]
        shown = cmd if isinstance(cmd, str) else " ".join(q(a) for a in argv)
        timef = base.with_suffix(".time")
        if rss:
            argv = ["/usr/bin/time", "-v", "-o", str(timef)] + argv
        with open(base.with_suffix(".out"), "wb") as out, open(base.with_suffix(".err"), "wb") as err:
            t0 = time.perf_counter()
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=self.env,
                                 cwd=self.tmp, start_new_session=True)
            try:
                rc = p.wait()
            except BaseException:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
                raise
            seconds = time.perf_counter() - t0
        stdout = base.with_suffix(".out").read_text(errors="replace")
        stderr = base.with_suffix(".err").read_text(errors="replace")
        peak = cpu = None
        if rss and timef.exists():
            text = timef.read_text()
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
            peak = int(m.group(1)) * 1024 if m else None
            times = re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", text)
            cpu = sum(float(t) for t in times) if len(times) == 2 else None
        if check and rc != 0:
            tail = "\n".join(stderr.rstrip().splitlines()[-30:])
            raise Failed(f"`{shown}` exited {rc}\n{tail}")
        return Sample(seconds, peak, cpu), rc, stdout, stderr

    def out(self, cmd):
        return self.run(cmd)[2]

    def timed(self, cmd, rss=False):
        return self.run(cmd, rss=rss)[0]

    def du(self, path):
        return int(self.out(["du", "-sb", path]).split()[0])


class Postgres:
    """A throwaway cluster of the newest installed PostgreSQL, on a free loopback port."""

    def __init__(self, runner, tmp, bindir):
        self.r, self.bindir = runner, bindir
        self.dir = tmp / "pgdata"
        self.port = free_port()
        self.pre = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.started = False

    def start(self):
        self.dir.mkdir()
        if self.pre:
            shutil.chown(self.dir, "postgres", "postgres")
        self.r.run(self.pre + [self.bindir / "initdb", "-D", self.dir, "-A", "trust", "-U", "postgres"])
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.started = True
        self.r.run(self.pre + [self.bindir / "pg_ctl", "-D", self.dir, "-w", "-l", self.dir / "log", "-o", opts, "start"])

    def stop(self):
        if self.started:
            self.r.run(self.pre + [self.bindir / "pg_ctl", "-D", self.dir, "-m", "fast", "-w", "stop"], check=False)
            self.started = False

    def url(self, db):
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def psql(self, db, sql):
        return self.r.out(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql])

    def psql_file(self, db, path):
        self.r.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-f", path])

    def createdb(self, db, template=None):
        self.r.run(["createdb"] + (["-T", template] if template else []) + [db])

    def dropdb(self, db):
        self.r.run(["dropdb", "--if-exists", db])

    def counts(self, db):
        sql = ("select (select count(*) from customers), (select count(*) from products), "
               "(select count(*) from orders), (select count(*) from order_items)")
        return self.psql(db, sql).strip()


class Server:
    """A long-running server process (own process group, output to logs/NAME.log), stopped at the end."""

    def __init__(self, runner, name):
        self.r, self.name = runner, name
        self.proc = None
        self.log_file = None

    def spawn(self, argv):
        self.log_file = open(self.r.logs / f"{self.name}.log", "ab")
        self.proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=self.log_file, env=self.r.env, cwd=self.r.tmp, start_new_session=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=60):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        self.proc = None
        if self.log_file:
            self.log_file.close()
            self.log_file = None


class S3(Server):
    """s3s-fs serving a directory over the S3 API on a free loopback port (a bucket is a directory)."""

    KEY, SECRET = "benchaccess", "benchsecret-0123456789"

    def __init__(self, runner, tmp):
        super().__init__(runner, "s3s-fs")
        self.root = tmp / "s3"
        self.port = free_port()

    def start(self):
        self.root.mkdir(exist_ok=True)
        exe = shutil.which("s3s-fs") or str(Path.home() / ".cargo" / "bin" / "s3s-fs")
        if not os.access(exe, os.X_OK):
            raise Failed("s3s-fs not found (scripts/install-deps test builds it)")
        self.spawn([exe, "--host", "127.0.0.1", "--port", self.port, "--access-key", self.KEY,
                    "--secret-key", self.SECRET, self.root])
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise Failed("s3s-fs did not start")

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def bucket(self, name):
        (self.root / name).mkdir()
        return self.root / name

    def env(self):
        return {"AWS_ACCESS_KEY_ID": self.KEY, "AWS_SECRET_ACCESS_KEY": self.SECRET}


class MariaDb(Server):
    """A throwaway MariaDB (mariadb-install-db + mariadbd, as crates/sources/src/scratch/mariadb.rs starts
    it: loopback, root without password, no binlog, no doublewrite, log flushed once a second), with a
    buffer pool the bench database fits in."""

    def __init__(self, runner, tmp):
        super().__init__(runner, "mariadbd")
        self.dir = tmp / "mariadb"
        self.data = self.dir / "data"
        self.port = free_port()

    def start(self):
        self.dir.mkdir()
        user = ["--user=root"] if os.geteuid() == 0 else []
        # TMPDIR: the bootstrap keeps temporary tables there (a shared /tmp lets installs collide).
        self.r.run(f"TMPDIR={q(self.dir)} mariadb-install-db --no-defaults --datadir={q(self.data)} "
                   f"--auth-root-authentication-method=normal --skip-test-db {' '.join(user)}")
        d = self.dir
        self.spawn(["mariadbd", "--no-defaults", f"--datadir={self.data}", f"--socket={d / 'sock'}",
                    f"--pid-file={d / 'pid'}", f"--log-error={d / 'error.log'}", f"--tmpdir={d}",
                    f"--port={self.port}", "--bind-address=127.0.0.1", "--skip-name-resolve", "--skip-log-bin",
                    "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0",
                    "--innodb-buffer-pool-size=1G", "--character-set-server=utf8mb4",
                    "--collation-server=utf8mb4_general_ci", "--max-allowed-packet=1073741824",
                    "--event-scheduler=OFF"] + user)
        deadline = time.monotonic() + 60
        while True:
            _, rc, _, _ = self.r.run(self.client() + ["-e", "SELECT 1"], check=False)
            if rc == 0:
                return
            if time.monotonic() > deadline or not self.alive():
                tail = (d / "error.log").read_text(errors="replace")[-2000:] if (d / "error.log").exists() else ""
                raise Failed(f"mariadbd did not come up on port {self.port}\n{tail}")
            time.sleep(0.3)

    def conn_args(self):
        return ["-h", "127.0.0.1", "-P", str(self.port), "-u", "root"]

    def client(self, db=None):
        """`mariadb` as root over TCP, with the client options lifeboat's restore uses."""
        return (["mariadb", "--no-defaults"] + self.conn_args()
                + ["--default-character-set=utf8mb4", "--max-allowed-packet=1073741824"] + ([db] if db else []))

    def dump(self, db, seed=False):
        """`mariadb-dump` of db: with lifeboat's options, or (seed) only --single-transaction."""
        return (["mariadb-dump", "--no-defaults"] + self.conn_args()
                + (["--single-transaction"] if seed else MYSQL_DUMP_ARGS) + [db])

    def url(self, db):
        return f"mysql://root@127.0.0.1:{self.port}/{db}"

    def sql(self, sql, db=None):
        return self.r.out(self.client(db) + ["-N", "-B", "-e", sql])

    def recreate(self, db):
        self.sql(f"DROP DATABASE IF EXISTS `{db}`; CREATE DATABASE `{db}`")

    def drop(self, db):
        self.sql(f"DROP DATABASE IF EXISTS `{db}`")

    def counts(self, db):
        """Exact rows per table (count(*)), as 'table=rows' joined by commas, in name order."""
        tables = self.sql(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{db}' "
                          "ORDER BY table_name").split()
        if not tables:
            return ""
        sql = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM `{db}`.`{t}`" for t in tables)
        return ",".join("=".join(ln.split("\t")) for ln in self.sql(sql).strip().splitlines())

    def size(self, db):
        """(information_schema data + index bytes, bytes of the database's directory on disk)."""
        logical = int(float(self.sql(f"SELECT COALESCE(SUM(data_length + index_length), 0) FROM "
                                     f"information_schema.tables WHERE table_schema = '{db}'").strip()))
        return logical, self.r.du(self.data / db)


class RedisError(Exception):
    pass


class Resp:
    """A minimal RESP2 client over TCP (enough for PING/INFO/DBSIZE/FLUSHALL/SHUTDOWN)."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.sock.makefile("rb")

    def close(self):
        self.f.close()
        self.sock.close()

    def call(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(parts))
        return self._read()

    def _read(self):
        line = self.f.readline()
        if not line:
            raise RedisError("connection closed")
        kind, rest = line[:1], line[1:].rstrip(b"\r\n")
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RedisError(f"unexpected reply {line!r}")


class RedisServer(Server):
    """A redis-server on a free loopback port, no persistence (`save ""`, no AOF), data dir `dir`
    (a `dump.rdb` there is loaded at start). repl-diskless-sync-delay 0: an RDB fetched over the
    replication protocol (`redis-cli --rdb`, lifeboat) starts at once instead of after the default
    5 s wait for more replicas, which both would pay alike."""

    def __init__(self, runner, name, dir):
        super().__init__(runner, name)
        self.dir = dir
        self.port = free_port()

    def start(self):
        self.dir.mkdir(exist_ok=True)
        self.spawn(["redis-server", "--port", self.port, "--bind", "127.0.0.1", "--dir", self.dir,
                    "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no", "--daemonize", "no",
                    "--repl-diskless-sync-delay", "0", "--logfile", self.dir / "redis.log"])

    def wait_loaded(self, keys=None, timeout=3600, poll=0.005):
        """Polls until the server answers, `INFO persistence` says loading:0 and (when given) DBSIZE is
        `keys`. Returns the time.perf_counter() at which that was seen."""
        deadline = time.monotonic() + timeout
        conn = None
        try:
            while True:
                if not self.alive():
                    raise Failed(f"{self.name} exited (see logs/{self.name}.log and {self.dir / 'redis.log'})")
                if time.monotonic() > deadline:
                    raise Failed(f"{self.name}: not loaded after {timeout} s")
                try:
                    if conn is None:
                        conn = Resp(self.port)
                    info = conn.call("INFO", "persistence").decode()
                    if "loading:0" in info and (keys is None or conn.call("DBSIZE") == keys):
                        return time.perf_counter()
                except (OSError, RedisError):
                    if conn is not None:
                        conn.close()
                        conn = None
                time.sleep(poll)
        finally:
            if conn is not None:
                conn.close()

    def call(self, *args):
        conn = Resp(self.port)
        try:
            return conn.call(*args)
        finally:
            conn.close()

    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def info(self, section, field):
        text = self.call("INFO", section).decode()
        m = re.search(rf"^{re.escape(field)}:(.*?)\r?$", text, re.M)
        return m.group(1) if m else None


def redis_fill_protocol(path, n, seed):
    """RESP commands for `redis-cli --pipe` writing n keys: 70% strings (20–200 bytes), 10% each hashes
    (4 fields), lists (5 items) and sorted sets (5 members); every 20th key expires in a week."""
    r = random.Random(seed)
    pool = [r.randbytes(r.randint(10, 100)).hex().encode() for _ in range(4096)]

    def cmd(*args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(parts)

    with open(path, "wb") as f:
        out = []
        for i in range(n):
            v = pool[i % 4096]
            w = pool[(i * 7 + 13) % 4096]
            kind = i % 10
            if kind < 7:
                key = b"session:%d" % i
                out.append(cmd(b"SET", key, v))
            elif kind == 7:
                key = b"account:%d" % i
                out.append(cmd(b"HSET", key, b"name", v[:16], b"email", w[:24] + b"@example.com",
                               b"plan", b"pro" if i % 3 else b"free", b"credits", b"%d" % (i % 9973)))
            elif kind == 8:
                key = b"queue:%d" % i
                out.append(cmd(b"RPUSH", key, v[:40], w[:40], v[40:80] or b"x", w[40:80] or b"y", b"%d" % i))
            else:
                key = b"usage:%d" % i
                out.append(cmd(b"ZADD", key, b"1", v[:20], b"2", w[:20], b"3", b"%d" % i, b"4", b"m4", b"5", b"m5"))
            if i % 20 == 0:
                out.append(cmd(b"EXPIRE", key, b"604800"))
            if len(out) >= 10000:
                f.write(b"".join(out))
                out = []
        f.write(b"".join(out))


# Documents of JSON-ish text and a bytea attachment. Each value repeats a short per-row
# phrase, so TOAST's pglz packs it many times over; the phrases differ per row, so the
# dump's chunks do not all dedup.
DOCS_SQL = """
CREATE TABLE documents (id serial PRIMARY KEY, title text, body text, attachment bytea);
INSERT INTO documents (title, body, attachment)
SELECT 'doc ' || i,
       repeat('{{"id": ' || i || ', "tag": "' || md5(i::text) || '", "text": "lorem ipsum dolor"}} ', 500),
       convert_to(repeat(md5((i * 7)::text) || md5((i * 13)::text), 400), 'UTF8')
FROM generate_series(1, {rows}) AS i;
"""


def write_duplicate_text(path, size, seed):
    """About `size` bytes of text from a fixed seed: lines of words from a small vocabulary,
    in 4 MiB blocks, each block drawn several times, so that most chunks repeat."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(300)]
    block_size = 4 * MIB
    n_blocks = max(1, size // block_size)
    unique = []
    for _ in range(max(1, n_blocks // 4)):
        words = rng.choices(vocab, k=block_size // 5)
        lines = [" ".join(words[j:j + 12]) for j in range(0, len(words), 12)]
        unique.append(("\n".join(lines) + "\n").encode()[:block_size])
    with open(path, "wb") as f:
        for _ in range(n_blocks):
            f.write(rng.choice(unique))


class Lifeboat:
    """One lifeboat configuration with its own repository (app `shop` unless named, sources as given;
    app_keys: more keys of the [[app]] table, e.g. max_parallel)."""

    def __init__(self, ctx, name, sources, app="shop", app_keys=None, repo_url=None, repo_options=None,
                 copy_to=None):
        self.ctx = ctx
        self.sources = sources
        self.app = app
        self.dir = ctx.tmp / name
        self.dir.mkdir()
        self.repo = self.dir / "repo"
        self.config = self.dir / "lifeboat.toml"
        lines = ["[repository]", f"url = {json.dumps(repo_url or str(self.repo))}",
                 'password_env = "LIFEBOAT_PASSWORD"']
        if repo_options:
            lines.append("options = " + toml_value(repo_options))
        for copy in copy_to or []:
            lines += ["", "[[copy_to]]"] + [f"{k} = {toml_value(v)}" for k, v in copy.items()]
        lines += ["", "[[app]]", f"name = {json.dumps(app)}"]
        lines += [f"{k} = {toml_value(v)}" for k, v in (app_keys or {}).items()]
        for source in sources:
            lines += ["", "[[app.source]]"] + [f"{k} = {toml_value(v)}" for k, v in source.items()]
        self.config.write_text("\n".join(lines) + "\n")

    def argv(self, *args):
        return [self.ctx.lifeboat, "--config", self.config, *args]

    def init(self):
        self.ctx.r.run(self.argv("init"))

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Row:
    def __init__(self, sid, scenario, lifeboat="", baselines="", ratios="", target="", result=""):
        self.cells = [sid, scenario, lifeboat, baselines, ratios, target, result]


def verdict(checks):
    """checks: list of (label, ok). PASS when all hold, else FAIL naming the ones that did not."""
    failed = [label for label, ok in checks if not ok]
    return "PASS" if not failed else "FAIL (" + ", ".join(failed) + ")"


class Bench:
    def __init__(self, args, tmp):
        self.args, self.tmp = args, tmp
        self.quick = args.quick
        self.runs = args.runs if args.runs is not None else (1 if args.quick else 3)
        self.days = 2 if self.quick else 7
        self.stream_bytes = 512 * MIB if self.quick else 5 * 1024 * MIB
        self.many_days = 25 if self.quick else 250  # B8/B9: MANY_SOURCES backups a day
        self.lifeboat = Path(os.environ.get("LIFEBOAT_BIN", ROOT / "target" / "release" / "lifeboat"))
        # bench_fill (crates/repo/examples), built by bench/run beside the binary
        self.fill = Path(os.environ.get("LIFEBOAT_BENCH_FILL", self.lifeboat.parent / "examples" / "bench_fill"))
        if not os.access(self.lifeboat, os.X_OK):
            raise SystemExit(f"no lifeboat binary at {self.lifeboat} (run bench/run, which builds it)")
        self.bindir = newest_pg_bindir()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PG", "RESTIC_", "LIFEBOAT_"))}
        (tmp / "cache").mkdir()
        env.update(PATH=f"{self.bindir}:{env.get('PATH', '/usr/bin:/bin')}", LIFEBOAT_PASSWORD=PASSWORD,
                   RESTIC_PASSWORD=PASSWORD, XDG_CACHE_HOME=str(tmp / "cache"), PGHOST="127.0.0.1",
                   PGUSER="postgres", LC_ALL="C")
        self.r = Runner(tmp, env)
        self.pg = Postgres(self.r, tmp, self.bindir)
        env["PGPORT"] = str(self.pg.port)
        self.rows, self.notes, self.errors = [], [], []
        self.b1_rss = []          # peak RSS of lifeboat's B1 backups, for M1
        self.shop_lb = None       # a Lifeboat whose repository holds a backup of `shop` (B4, B5)
        self.shop_gz = None       # `pg_dump shop | gzip` file (B4)
        self.tree_dir = None
        self.many_lb = None       # a Lifeboat whose repository holds MANY_SOURCES × many_days backups (B8, B9)
        self.sysbench_rows = SYSBENCH_ROWS_QUICK if self.quick else SYSBENCH_ROWS
        self.redis_keys = REDIS_KEYS_QUICK if self.quick else REDIS_KEYS
        self.maria = None         # MariaDb holding `sbtest` (B13, B14)
        self.maria_counts = None  # its exact row counts
        self.redis_src = None     # RedisServer holding redis_keys keys (B13, B15)
        self.servers = []         # everything started, stopped at the end
        self.setup_failed = {}    # "mariadb"/"redis": why its setup failed (not retried by later scenarios)

    def stop_servers(self):
        for s in reversed(self.servers):
            s.stop()
        self.servers = []
        self.pg.stop()

    # ---------- data ----------

    def sql(self, name):
        """bench/sql/NAME, or its scaled-down copy in --quick mode."""
        src = SQL / name
        if not self.quick:
            return src
        dst = self.tmp / f"quick-{name}"
        if not dst.exists():
            text = SCALED_LITERALS.sub(lambda m: str(int(m.group(1)) // QUICK_DIVISOR), src.read_text())
            dst.write_text(text)
        return dst

    def load_shop(self):
        log("loading shop (setup, not measured)")
        t0 = time.perf_counter()
        self.pg.createdb("shop")
        self.pg.psql_file("shop", self.sql("shop.sql"))
        self.pg.psql("shop", "VACUUM")
        size = int(self.pg.psql("shop", "select pg_database_size('shop')"))
        log(f"shop loaded in {time.perf_counter() - t0:.0f} s, {fmt_b(size)} on disk")
        self.notes.append(f"shop database: {fmt_b(size)} on disk")
        # Warm-up (untimed): one full read of the database.
        self.r.run("pg_dump -Fc -Z0 shop > /dev/null")

    def tree(self):
        if self.tree_dir is None:
            self.tree_dir = self.tmp / "tree"
            log("generating the files tree (setup, not measured)")
            t0 = time.perf_counter()
            n, total = generate_tree(self.tree_dir, seed=20240501, quick=self.quick)
            log(f"tree: {n} entries, {fmt_b(total)} in {time.perf_counter() - t0:.0f} s")
            self.notes.append(f"files tree: {n} entries, {fmt_b(total)}")
            # Warm-up (untimed): read every file once.
            self.r.run(f"find {q(self.tree_dir)} -type f -print0 | xargs -0 cat > /dev/null")
        return self.tree_dir

    def mariadb(self):
        """The MariaDB server with `sbtest` from `sysbench oltp_read_write prepare` (setup, untimed)."""
        if "mariadb" in self.setup_failed:
            raise Failed(self.setup_failed["mariadb"])
        if self.maria is None:
            try:
                self.maria = self._mariadb()
            except Failed as e:
                self.setup_failed["mariadb"] = f"MariaDB setup: {e}"
                raise
        return self.maria

    def _mariadb(self):
        log("starting MariaDB and filling sbtest with sysbench (setup, not measured)")
        t0 = time.perf_counter()
        m = MariaDb(self.r, self.tmp)
        self.servers.append(m)
        m.start()
        m.sql("CREATE DATABASE sbtest")
        self.r.run(["sysbench", "oltp_read_write", "--db-driver=mysql", "--mysql-host=127.0.0.1",
                    f"--mysql-port={m.port}", "--mysql-user=root", "--mysql-db=sbtest",
                    f"--tables={SYSBENCH_TABLES}", f"--table-size={self.sysbench_rows}", "--threads=2",
                    "prepare"])
        m.sql("ANALYZE TABLE " + ", ".join(f"sbtest{i}" for i in range(1, SYSBENCH_TABLES + 1)), "sbtest")
        self.maria_counts = m.counts("sbtest")
        logical, disk = m.size("sbtest")
        version = m.sql("SELECT VERSION()").strip()
        log(f"sbtest: {SYSBENCH_TABLES} × {self.sysbench_rows} rows, {fmt_b(logical)} in "
            f"{time.perf_counter() - t0:.0f} s")
        self.notes.append(f"MariaDB {version} `sbtest` (sysbench oltp_read_write prepare, {SYSBENCH_TABLES} tables × "
                          f"{self.sysbench_rows} rows): {fmt_b(logical)} data + index (information_schema), "
                          f"{fmt_b(disk)} on disk (du of its directory); innodb_buffer_pool_size 1 GiB, "
                          "flush_log_at_trx_commit=0, no doublewrite, no binlog")
        # Warm-up (untimed): one full read.
        self.r.run(shlex.join(map(str, m.dump("sbtest"))) + " > /dev/null")
        return m

    def redis_source(self):
        """A redis-server holding redis_keys keys, filled with `redis-cli --pipe` (setup, untimed)."""
        if "redis" in self.setup_failed:
            raise Failed(self.setup_failed["redis"])
        if self.redis_src is None:
            try:
                self.redis_src = self._redis_source()
            except Failed as e:
                self.setup_failed["redis"] = f"Redis setup: {e}"
                raise
        return self.redis_src

    def _redis_source(self):
        log(f"starting Redis and writing {self.redis_keys} keys (setup, not measured)")
        t0 = time.perf_counter()
        rs = RedisServer(self.r, "redis-source", self.tmp / "redis-source")
        self.servers.append(rs)
        rs.start()
        rs.wait_loaded()
        fill = self.tmp / "redis-fill.resp"
        redis_fill_protocol(fill, self.redis_keys, seed=20240502)
        self.r.run(f"redis-cli -h 127.0.0.1 -p {rs.port} --pipe < {q(fill)}")
        fill.unlink()
        got = rs.call("DBSIZE")
        if got != self.redis_keys:
            raise Failed(f"redis source: DBSIZE {got} after filling, want {self.redis_keys}")
        log(f"redis: {got} keys, {rs.info('memory', 'used_memory_human')} in {time.perf_counter() - t0:.0f} s")
        self.notes.append(f"Redis {rs.info('server', 'redis_version')}: {got} keys (70% strings of 20–200 B, "
                          f"10% each hashes, lists, sorted sets; 5% with a TTL), used_memory "
                          f"{rs.info('memory', 'used_memory_human')}")
        return rs

    def db_source(self, db):
        return {"name": "db", "kind": "postgres", "url": self.pg.url(db)}

    def shop_repo(self):
        """A lifeboat repository holding a backup of `shop`: B1's last one, else a new one (untimed)."""
        if self.shop_lb is None:
            lb = Lifeboat(self, "shop-repo", [self.db_source("shop")])
            lb.init()
            self.r.run(lb.argv("backup", "shop/db"))
            self.shop_lb = lb
        return self.shop_lb

    def many_sources(self):
        keep = self.many_days // 2
        return [{"name": f"s{i:02d}", "kind": "command", "filename": f"s{i:02d}.txt",
                 "backup_command": f"echo source {i}; seq 1 1000",
                 "retention": {"strategy": "custom", "keep_daily": keep}} for i in range(1, MANY_SOURCES + 1)]

    def snapshot_count(self, repo):
        return len(os.listdir(repo / "snapshots"))

    def many_repo(self):
        """B8/B9's repository (setup, untimed): one real `lifeboat backup` of MANY_SOURCES small `command`
        sources, then bench_fill's copies of each backup, one per day back, for many_days days. Both tools
        list it once (checking the counts), which also warms their caches."""
        if self.many_lb is None:
            if not os.access(self.fill, os.X_OK):
                raise Failed(f"no bench_fill at {self.fill}: `cargo build --release -p lifeboat-repo "
                             "--example bench_fill` (bench/run builds it)")
            want = MANY_SOURCES * self.many_days
            log(f"filling a repository with {want} backups (setup, not measured)")
            t0 = time.perf_counter()
            lb = Lifeboat(self, "many", self.many_sources())
            lb.init()
            self.r.run(lb.argv("backup"))
            self.r.run([self.fill, lb.repo, str(self.many_days)])
            listed = len(json.loads(self.r.out(lb.argv("list", "--json"))))
            seen = len(json.loads(self.r.out(["restic", "-r", lb.repo, "snapshots", "--json"])))
            if listed != want or seen != want:
                raise Failed(f"filled repository: lifeboat lists {listed}, restic sees {seen}, want {want}")
            log(f"{want} backups in {time.perf_counter() - t0:.0f} s, {fmt_b(self.r.du(lb.repo))}")
            self.many_lb = lb
        return self.many_lb

    # ---------- scenarios ----------

    def b1(self):
        s = {"lifeboat": [], "floor": [], "seed": [], "restic": []}
        sizes = {}
        for i in range(self.runs):
            log(f"B1 run {i + 1}/{self.runs}")
            lb = Lifeboat(self, f"b1-{i}", [self.db_source("shop")])
            lb.init()
            s["lifeboat"].append(self.r.timed(lb.argv("backup", "shop/db"), rss=True))
            sizes["lifeboat repo"] = self.r.du(lb.repo)
            if self.shop_lb is None and i == self.runs - 1:
                self.shop_lb = lb
            else:
                lb.remove()

            s["floor"].append(self.r.timed("pg_dump -Fc -Z0 shop > /dev/null"))

            gz = self.tmp / "shop.sql.gz"
            s["seed"].append(self.r.timed(f"pg_dump shop | gzip > {q(gz)}"))
            sizes["seed gzip"] = gz.stat().st_size
            self.shop_gz = gz

            rr = self.tmp / f"b1-restic-{i}"
            self.r.run(["restic", "-q", "-r", rr, "init"])
            s["restic"].append(self.r.timed(
                f"pg_dump -Fc -Z0 shop | restic -q -r {q(rr)} backup --stdin --stdin-filename shop.pgdump"))
            sizes["restic repo"] = self.r.du(rr)
            shutil.rmtree(rr)

        self.b1_rss = [x.rss for x in s["lifeboat"] if x.rss]
        m = {k: median([x.seconds for x in v]) for k, v in s.items()}
        r = {k: m["lifeboat"] / m[k] for k in ("floor", "seed", "restic")}
        self.sample_note("B1", s)
        self.notes.append("B1 sizes: " + ", ".join(f"{k} {fmt_b(v)}" for k, v in sizes.items()))
        self.rows.append(Row(
            "B1", NAMES["B1"], fmt_s(m["lifeboat"]),
            f"floor {fmt_s(m['floor'])}; seed {fmt_s(m['seed'])}; restic {fmt_s(m['restic'])}",
            f"{fmt_x(r['floor'])} floor; {fmt_x(r['seed'])} seed; {fmt_x(r['restic'])} restic",
            "≤1.3× floor, ≤0.4× seed, ≤0.8× restic",
            verdict([("floor", r["floor"] <= 1.3), ("seed", r["seed"] <= 0.4), ("restic", r["restic"] <= 0.8)])))

    def churn(self, sid, sqlname, limit):
        db = f"shop_{sid.lower()}"
        self.pg.createdb(db, template="shop")
        try:
            lb = Lifeboat(self, sid.lower(), [self.db_source(db)])
            lb.init()
            rr = self.tmp / f"{sid.lower()}-restic"
            self.r.run(["restic", "-q", "-r", rr, "init"])
            restic_cmd = f"pg_dump -Fc -Z0 {db} | restic -q -r {q(rr)} backup --stdin --stdin-filename shop.pgdump"
            log(f"{sid} day 0")
            self.r.run(lb.argv("backup", "shop/db"))
            self.r.run(restic_cmd)
            prev, rprev = self.r.du(lb.repo), self.r.du(rr)
            growth, rgrowth, gz, times = [], [], [], []
            for day in range(1, self.days + 1):
                log(f"{sid} day {day}/{self.days}")
                self.pg.psql_file(db, self.sql(sqlname))
                times.append(self.r.timed(lb.argv("backup", "shop/db")).seconds)
                size = self.r.du(lb.repo)
                growth.append(size - prev)
                prev = size
                self.r.run(restic_cmd)
                size = self.r.du(rr)
                rgrowth.append(size - rprev)
                rprev = size
                gz.append(int(self.r.out(f"pg_dump {db} | gzip | wc -c").strip()))
            lb.remove()
            shutil.rmtree(rr)
        finally:
            self.pg.dropdb(db)
        g, rg, z = statistics.mean(growth), statistics.mean(rgrowth), statistics.mean(gz)
        self.notes.append(f"{sid} per day (days 1..{self.days}): lifeboat growth "
                          f"{', '.join(fmt_b(x) for x in growth)}; restic growth {', '.join(fmt_b(x) for x in rgrowth)}; "
                          f"gzip {', '.join(fmt_b(x) for x in gz)}; lifeboat backup times "
                          f"{', '.join(fmt_s(x) for x in times)}")
        self.rows.append(Row(
            sid, f"{self.days} {NAMES[sid]}", f"+{fmt_b(g)}/day",
            f"seed gzip {fmt_b(z)}/day; (restic +{fmt_b(rg)}/day, {fmt_x(rg / z)} gzip)",
            f"{fmt_x(g / z)} gzip", f"≤{limit}× gzip per day", verdict([("gzip", g / z <= limit)])))

    def s3(self):
        """The bench's S3 server (started once), its keys in the environment of every command."""
        if getattr(self, "_s3", None) is None:
            self._s3 = S3(self.r, self.tmp)
            self._s3.start()
            self.servers.append(self._s3)
            self.r.env.update(self._s3.env())
        return self._s3

    def s3_repo(self, bucket):
        """A lifeboat repository URL and options for a new bucket, and restic's URL for it."""
        s3 = self.s3()
        s3.bucket(bucket)
        options = {"endpoint": s3.endpoint, "region": "us-east-1"}
        return f"s3://{bucket}/repo", options, f"s3:{s3.endpoint}/{bucket}/repo"

    def b11(self):
        s = {"lifeboat": [], "restic": []}
        for i in range(self.runs):
            log(f"B11 run {i + 1}/{self.runs}")
            url, options, _ = self.s3_repo(f"b11-lb-{i}")
            lb = Lifeboat(self, f"b11-{i}", [self.db_source("shop")], repo_url=url, repo_options=options)
            lb.init()
            s["lifeboat"].append(self.r.timed(lb.argv("backup", "shop/db"), rss=True))
            lb.remove()
            _, _, rurl = self.s3_repo(f"b11-restic-{i}")
            self.r.run(["restic", "-q", "-r", rurl, "init"])
            s["restic"].append(self.r.timed(
                f"pg_dump -Fc -Z0 shop | restic -q -r {q(rurl)} backup --stdin --stdin-filename shop.pgdump"))
        m = {k: median([x.seconds for x in v]) for k, v in s.items()}
        ratio = m["lifeboat"] / m["restic"]
        self.sample_note("B11", s)
        self.rows.append(Row(
            "B11", NAMES["B11"], fmt_s(m["lifeboat"]), f"restic --stdin into S3 {fmt_s(m['restic'])}",
            f"{fmt_x(ratio)} restic", "≤0.8× restic", verdict([("restic", ratio <= 0.8)])))

    def b12(self):
        db = "shop_b12"
        self.pg.createdb(db, template="shop")
        try:
            url, options, _ = self.s3_repo("b12-lb")
            copy = {"name": "offsite", "url": url, "password_env": "LIFEBOAT_PASSWORD", "options": options}
            lb = Lifeboat(self, "b12", [self.db_source(db)], copy_to=[copy])
            # The same primary without the copy_to, so that the day's backup and its copy are timed apart.
            plain = lb.dir / "plain.toml"
            plain.write_text(re.sub(r"\[\[copy_to\]\]\n(?:.+\n)+\n", "", lb.config.read_text()))
            argv_plain = lambda *a: [self.lifeboat, "--config", plain, *a]
            lb.init()
            _, _, rurl = self.s3_repo("b12-restic")
            self.r.run(["restic", "-q", "-r", rurl, "init"])
            restic_copy = ["restic", "-q", "-r", rurl, "copy", "--from-repo", lb.repo,
                           "--from-password-command", f"echo {PASSWORD}"]
            log("B12 day 0 (untimed): backup, lifeboat copy, restic copy")
            self.r.run(argv_plain("backup", "shop/db"))
            self.r.run(lb.argv("copy"))
            self.r.run(restic_copy)
            self.pg.psql_file(db, self.sql("churn_recent.sql"))
            before = self.r.du(lb.repo)
            self.r.run(argv_plain("backup", "shop/db"))
            growth = self.r.du(lb.repo) - before
            up_before = self.r.du(self.s3().root / "b12-lb")
            t_lb = self.r.timed(lb.argv("copy"))
            uploaded = self.r.du(self.s3().root / "b12-lb") - up_before
            t_restic = self.r.timed(restic_copy)
            lb.remove()
        finally:
            self.pg.dropdb(db)
        ratio = t_lb.seconds / t_restic.seconds
        bytes_ratio = uploaded / growth if growth else float("inf")
        self.notes.append(f"B12: primary grew {fmt_b(growth)} that day; the copy uploaded {fmt_b(uploaded)}")
        self.rows.append(Row(
            "B12", NAMES["B12"], f"{fmt_s(t_lb.seconds)}, {fmt_b(uploaded)} up",
            f"restic copy {fmt_s(t_restic.seconds)}; primary growth {fmt_b(growth)}",
            f"{fmt_x(ratio)} restic; {fmt_x(bytes_ratio)} growth", "≤1.0× restic, ≤1.1× growth",
            verdict([("restic", ratio <= 1.0), ("bytes", bytes_ratio <= 1.1)])))

    def b4(self):
        lb = self.shop_repo()
        d = self.tmp / "b4"
        d.mkdir()
        dump = d / "shop.dump"
        self.r.run(["pg_dump", "-Fc", "-Z0", "-f", dump, "shop"])
        if self.shop_gz is None:
            self.shop_gz = self.tmp / "shop.sql.gz"
            self.r.run(f"pg_dump shop | gzip > {q(self.shop_gz)}")
        want = self.pg.counts("shop")
        # The second floor restores with as many jobs as lifeboat does: the source's `jobs`, else its default.
        jobs = int(lb.sources[0].get("jobs") or lifeboat_default_jobs())
        fj = f"floor -j{jobs}"
        # Warm-up (untimed): read the repository and both files once.
        self.r.run(" ; ".join([shlex.join(map(str, lb.argv("dump", "shop/db"))) + " > /dev/null",
                               f"cat {q(dump)} {q(self.shop_gz)} > /dev/null"]))
        s = {"lifeboat": [], "floor": [], fj: [], "seed": []}
        for i in range(self.runs):
            log(f"B4 run {i + 1}/{self.runs}")
            db = f"b4_lifeboat_{i}"
            s["lifeboat"].append(self.r.timed(lb.argv("restore", "shop/db", "--to", self.pg.url(db)), rss=True))
            got = self.pg.counts(db)
            self.pg.dropdb(db)
            if got != want:
                raise Failed(f"lifeboat restore: row counts {got} differ from shop's {want}")

            db = f"b4_floor_{i}"
            self.pg.createdb(db)
            s["floor"].append(self.r.timed(["pg_restore", "-d", db, dump]))
            self.pg.dropdb(db)

            db = f"b4_floor_j{jobs}_{i}"
            self.pg.createdb(db)
            s[fj].append(self.r.timed(["pg_restore", "--jobs", str(jobs), "-d", db, dump]))
            self.pg.dropdb(db)

            db = f"b4_seed_{i}"
            self.pg.createdb(db)
            s["seed"].append(self.r.timed(f"gunzip -c {q(self.shop_gz)} | psql -X -q -v ON_ERROR_STOP=1 -d {db} > /dev/null"))
            self.pg.dropdb(db)
        shutil.rmtree(d)
        m = {k: median([x.seconds for x in v]) for k, v in s.items()}
        r = {k: m["lifeboat"] / m[k] for k in ("floor", fj, "seed")}
        self.sample_note("B4", s)
        self.rows.append(Row(
            "B4", NAMES["B4"], fmt_s(m["lifeboat"]),
            f"floor (pg_restore file) {fmt_s(m['floor'])}; {fj} (pg_restore --jobs {jobs} file) {fmt_s(m[fj])}; "
            f"seed (gunzip | psql) {fmt_s(m['seed'])}",
            f"{fmt_x(r['floor'])} floor; {fmt_x(r[fj])} {fj}; {fmt_x(r['seed'])} seed",
            f"≤1.1× floor, ≤1.0× {fj}, ≤0.9× seed",
            verdict([("floor", r["floor"] <= 1.1), (fj, r[fj] <= 1.0), ("seed", r["seed"] <= 0.9)])))

    def b5(self):
        _, rc, _, _ = self.r.run([self.lifeboat, "verify", "--help"], check=False)
        if rc != 0:
            self.rows.append(Row("B5", NAMES["B5"],
                                 "not measured: `lifeboat verify` does not exist yet", "B4's lifeboat restore",
                                 "", "≤1.5× B4", "not measured"))
            return
        lb = self.shop_repo()
        s = {"verify": [], "restore": []}
        for i in range(self.runs):
            log(f"B5 run {i + 1}/{self.runs}")
            s["verify"].append(self.r.timed(lb.argv("verify", "shop/db"), rss=True))
            db = f"b5_restore_{i}"
            s["restore"].append(self.r.timed(lb.argv("restore", "shop/db", "--to", self.pg.url(db))))
            self.pg.dropdb(db)
        m = {k: median([x.seconds for x in v]) for k, v in s.items()}
        ratio = m["verify"] / m["restore"]
        self.sample_note("B5", s)
        self.rows.append(Row("B5", NAMES["B5"], fmt_s(m["verify"]),
                             f"lifeboat restore (as B4) {fmt_s(m['restore'])}", f"{fmt_x(ratio)} restore",
                             "≤1.5× B4", verdict([("restore", ratio <= 1.5)])))

    def files(self, want):
        tree = self.tree()
        s = {"B6 lifeboat": [], "B6 restic": [], "B7 lifeboat": [], "B7 restic": []}
        for i in range(self.runs):
            log(f"B6/B7 run {i + 1}/{self.runs}")
            lb = Lifeboat(self, f"b6-{i}", [{"name": "tree", "kind": "files", "path": str(tree)}])
            lb.init()
            rr = self.tmp / f"b6-restic-{i}"
            self.r.run(["restic", "-q", "-r", rr, "init"])
            restic = ["restic", "-q", "-r", rr, "backup", tree]
            s["B6 lifeboat"].append(self.r.timed(lb.argv("backup", "shop/tree"), rss=True))
            s["B6 restic"].append(self.r.timed(restic))
            if "B7" in want:
                s["B7 lifeboat"].append(self.r.timed(lb.argv("backup", "shop/tree"), rss=True))
                s["B7 restic"].append(self.r.timed(restic))
            if i == 0:
                self.notes.append(f"B6 repository sizes: lifeboat {fmt_b(self.r.du(lb.repo))}, "
                                  f"restic {fmt_b(self.r.du(rr))}")
            lb.remove()
            shutil.rmtree(rr)
        self.sample_note("B6/B7", {k: v for k, v in s.items() if v})
        for sid in ("B6", "B7"):
            if sid not in want:
                continue
            m_lb = median([x.seconds for x in s[f"{sid} lifeboat"]])
            m_r = median([x.seconds for x in s[f"{sid} restic"]])
            checks = [("restic", m_lb / m_r <= 1.0)] + ([("2 s", m_lb < 2.0)] if sid == "B7" else [])
            self.rows.append(Row(sid, NAMES[sid], fmt_s(m_lb), f"restic {fmt_s(m_r)}", f"{fmt_x(m_lb / m_r)} restic",
                                 "≤1.0× restic" + (", < 2 s" if sid == "B7" else ""), verdict(checks)))

    def b8(self):
        lb = self.many_repo()
        n = MANY_SOURCES * self.many_days
        restic = ["restic", "-r", lb.repo, "snapshots"]
        s = {label: [] for label, _ in B8_COMMANDS}
        s["restic"] = []
        for i in range(self.runs):
            log(f"B8 run {i + 1}/{self.runs}")
            for label, args in B8_COMMANDS:
                s[label].append(self.r.timed(lb.argv(*args), rss=True))
            s["restic"].append(self.r.timed(restic))
        self.sample_note("B8", s)
        # What the first list on a machine costs: without lifeboat's record of which snapshots are complete.
        shutil.rmtree(self.tmp / "cache" / "lifeboat", ignore_errors=True)
        cold = self.r.timed(lb.argv("list"))
        self.notes.append(f"B8 `lifeboat list` without its record of checked snapshots (once, after the runs): "
                          f"{fmt_s(cold.seconds)}; "
                          f"the copies share their originals' trees, so a repository of {n} distinct backups "
                          "costs more to check than this one")
        m_r = median([x.seconds for x in s["restic"]])
        for label, _ in B8_COMMANDS:
            m = median([x.seconds for x in s[label]])
            self.rows.append(Row("B8", f"`{label}`, {n} small backups ({MANY_SOURCES} sources × {self.many_days} days)",
                                 fmt_s(m), f"`restic snapshots` {fmt_s(m_r)}", f"{fmt_x(m / m_r)} restic",
                                 "≤1.0× restic, < 2 s", verdict([("restic", m / m_r <= 1.0), ("2 s", m < 2.0)])))

    def b9(self):
        master = self.many_repo()
        keep = self.many_days // 2
        n = MANY_SOURCES * self.many_days
        want = MANY_SOURCES * keep
        restic_forget = ["forget", "--prune", "--group-by", "host,paths", "--keep-daily", str(keep)]
        s = {"lifeboat": [], "restic": []}
        for i in range(self.runs):
            log(f"B9 run {i + 1}/{self.runs}")
            # Fresh copies of the filled repository (untimed), each listed once by its tool (warm-up, as B8).
            lb = Lifeboat(self, f"b9-{i}", self.many_sources())
            rr = self.tmp / f"b9-restic-{i}"
            shutil.copytree(master.repo, lb.repo, symlinks=True)
            shutil.copytree(master.repo, rr, symlinks=True)
            self.r.run(lb.argv("list"))
            self.r.run(["restic", "-r", rr, "snapshots"])
            s["lifeboat"].append(self.r.timed(lb.argv("prune"), rss=True))
            s["restic"].append(self.r.timed(["restic", "-r", rr] + restic_forget))
            left = (self.snapshot_count(lb.repo), self.snapshot_count(rr))
            lb.remove()
            shutil.rmtree(rr)
            if left != (want, want):
                raise Failed(f"B9: lifeboat kept {left[0]}, restic {left[1]} of {n} backups; want {want} each")
        self.sample_note("B9", s)
        m = {k: median([x.seconds for x in v]) for k, v in s.items()}
        r = m["lifeboat"] / m["restic"]
        self.rows.append(Row(
            "B9", f"`prune` keeping {keep} of {self.many_days} days per source ({n} → {want} backups)",
            fmt_s(m["lifeboat"]),
            f"`restic forget --prune --group-by host,paths --keep-daily {keep}` {fmt_s(m['restic'])}",
            f"{fmt_x(r)} restic", "≤1.0× restic", verdict([("restic", r <= 1.0)])))

    def b10(self):
        """The daemon on B8's repository (no schedules: nothing runs but HTTP), each endpoint asked
        B10_REQUESTS times per repetition; the median of all latencies, in ms."""
        lb = self.many_repo()
        port = free_port()
        argv = [str(a) for a in lb.argv("daemon", "--listen", f"127.0.0.1:{port}")]
        log_file = open(self.r.logs / "b10-daemon.log", "wb")
        daemon = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                  env=self.r.env, cwd=self.tmp, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=2).read()
                    break
                except OSError:
                    if time.monotonic() > deadline or daemon.poll() is not None:
                        raise Failed("B10: the daemon did not come up (see logs/b10-daemon.log)")
                    time.sleep(0.2)
            s = {"/metrics": [], "/api/status": []}
            for i in range(self.runs):
                log(f"B10 run {i + 1}/{self.runs}")
                for path in s:
                    for _ in range(B10_REQUESTS):
                        t0 = time.perf_counter()
                        body = urllib.request.urlopen(base + path, timeout=10).read()
                        s[path].append(time.perf_counter() - t0)
                    if path == "/api/status" and len(json.loads(body)["sources"]) != MANY_SOURCES:
                        raise Failed(f"B10: /api/status does not show {MANY_SOURCES} sources")
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
            log_file.close()
        n = MANY_SOURCES * self.many_days
        for path, xs in s.items():
            m = median(xs) * 1000
            self.notes.append(f"B10 `GET {path}`: {len(xs)} requests, median {m:.1f} ms, max {max(xs) * 1000:.1f} ms")
            self.rows.append(Row("B10", f"daemon `GET {path}`, {n} backups in the repository", f"{m:.1f} ms", "–",
                                 "–", "median < 20 ms", verdict([("20 ms", m < 20)])))

    def m1(self):
        if not self.b1_rss:
            log("M1: one B1-style backup for its peak RSS")
            lb = Lifeboat(self, "m1-db", [self.db_source("shop")])
            lb.init()
            self.b1_rss = [self.r.timed(lb.argv("backup", "shop/db"), rss=True).rss]
            lb.remove()
        db_rss = max(self.b1_rss)
        limit = 256 * MIB
        size = self.stream_bytes
        stream = None
        reason = None
        lb = Lifeboat(self, "m1-stream", [{
            "name": "stream", "kind": "command", "filename": "stream.bin",
            "backup_command": "openssl enc -aes-128-ctr -pass pass:bench -nosalt -pbkdf2 < /dev/zero 2>/dev/null"
                              f" | head -c {size}"}])
        try:
            log(f"M1: backup of a {fmt_b(size)} command stream")
            lb.init()
            stream = self.r.timed(lb.argv("backup", "shop/stream"), rss=True)
            self.notes.append(f"M1 stream backup of {fmt_b(size)}: {fmt_s(stream.seconds)}, "
                              f"repository {fmt_b(self.r.du(lb.repo))}")
        except Failed as e:
            if "not supported" not in str(e):
                raise
            reason = next(ln.strip() for ln in str(e).splitlines() if "not supported" in ln)
        finally:
            lb.remove()
        what = f"peak RSS: B1 backup and a {fmt_b(size)} `command` stream backup"
        if stream is None:
            self.rows.append(Row("M1", what, f"B1 {fmt_b(db_rss)}; stream not measured: {reason}", "—", "",
                                 "≤256 MiB each, equal ±20%",
                                 ("B1 part " + verdict([("256 MiB", db_rss <= limit)]) + "; stream not measured")))
            return
        ratio = stream.rss / db_rss
        self.rows.append(Row("M1", what, f"B1 {fmt_b(db_rss)}; stream {fmt_b(stream.rss)}", "—",
                             f"{fmt_x(ratio)} stream/B1", "≤256 MiB each, equal ±20%",
                             verdict([("B1 256 MiB", db_rss <= limit), ("stream 256 MiB", stream.rss <= limit),
                                      ("±20%", abs(ratio - 1) <= 0.2)])))

    def b13(self):
        """The mini seed-001 app: one `lifeboat backup APP` of its four sources (max_parallel = 2) into an
        empty repository, against the seed's procedure run step after step: each step timed on its own,
        the seed's time is their sum."""
        m = self.mariadb()
        rs = self.redis_source()
        tree = self.tree()
        app = "seed001"
        sources = [
            {"name": "db", "kind": "postgres", "url": self.pg.url("shop")},
            {"name": "mysql", "kind": "mysql", "url": m.url("sbtest")},
            {"name": "redis", "kind": "redis", "url": rs.url()},
            {"name": "storage", "kind": "files", "path": str(tree)},
        ]
        steps = [
            ("mariadb-dump | gzip",
             lambda d: shlex.join(map(str, m.dump("sbtest", seed=True))) + f" | gzip > {q(d / 'system-mysql-backup.gz')}"),
            ("pg_dump | gzip", lambda d: f"pg_dump shop | gzip > {q(d / 'shop.sql.gz')}"),
            ("redis-cli --rdb", lambda d: f"redis-cli -h 127.0.0.1 -p {rs.port} --rdb {q(d / 'redis-dump.rdb')} > /dev/null"),
            ("rsync -a", lambda d: f"rsync -a {q(str(tree) + '/')} {q(d / 'storage')}/"),
        ]
        s = {"lifeboat": [], "seed": []}
        per_step = {label: [] for label, _ in steps}
        per_source = {}
        sizes = {}
        for i in range(self.runs):
            log(f"B13 run {i + 1}/{self.runs}")
            lb = Lifeboat(self, f"b13-{i}", sources, app=app, app_keys={"max_parallel": 2})
            lb.init()
            sample, _, out, _ = self.r.run(lb.argv("backup", app), rss=True)
            s["lifeboat"].append(sample)
            # lifeboat's own line per source, e.g. "seed001/db: ok  snapshot …  1.2s": its time for that source.
            for src, secs in re.findall(rf"^{app}/(\S+): ok\b.*?([\d.]+)s\s*$", out, re.M):
                per_source.setdefault(src, []).append(float(secs))
            listed = json.loads(self.r.out(lb.argv("list", "--json")))
            if len(listed) != len(sources):
                raise Failed(f"B13: `lifeboat list` shows {len(listed)} backups after `backup {app}`, want {len(sources)}")
            sizes["lifeboat repository"] = self.r.du(lb.repo)
            lb.remove()

            d = self.tmp / f"b13-seed-{i}"
            d.mkdir()
            total = 0.0
            for label, cmd in steps:
                x = self.r.timed(cmd(d)).seconds
                per_step[label].append(x)
                total += x
            s["seed"].append(Sample(total))
            sizes["seed files"] = self.r.du(d)
            for name in ("system-mysql-backup.gz", "shop.sql.gz", "redis-dump.rdb"):
                sizes[f"seed {name}"] = (d / name).stat().st_size
            shutil.rmtree(d)
        self.sample_note("B13", s)
        self.notes.append("B13 seed steps (median): " + "; ".join(f"`{k}` {fmt_s(median(v))}" for k, v in per_step.items()))
        if per_source:
            self.notes.append("B13 lifeboat per source, as it reports them (median; two run at a time): "
                              + "; ".join(f"{k} {fmt_s(median(v))}" for k, v in per_source.items()))
        self.notes.append("B13 sizes: " + ", ".join(f"{k} {fmt_b(v)}" for k, v in sizes.items()))
        m_lb, m_seed = median([x.seconds for x in s["lifeboat"]]), median([x.seconds for x in s["seed"]])
        r = m_lb / m_seed
        self.rows.append(Row(
            "B13", f"`lifeboat backup {app}` (4 sources, max_parallel = 2): shop, sbtest, "
                   f"{self.redis_keys} Redis keys, files tree",
            fmt_s(m_lb),
            "seed, sequential " + fmt_s(m_seed) + " (" + "; ".join(f"`{k}` {fmt_s(median(v))}" for k, v in per_step.items()) + ")",
            f"{fmt_x(r)} seed", "≤0.5× seed", verdict([("seed", r <= 0.5)])))

    def b14(self):
        """MariaDB alone: backup into an empty repository vs `mariadb-dump > /dev/null` (same options);
        restore into an empty database vs `mariadb DB < dump.sql` from a local file (same dump)."""
        m = self.mariadb()
        app, spec = "b14", "b14/mysql"
        src = {"name": "mysql", "kind": "mysql", "url": m.url("sbtest")}
        logical, _ = m.size("sbtest")
        floor = shlex.join(map(str, m.dump("sbtest"))) + " > /dev/null"
        s = {"lifeboat": [], "floor": []}
        lb = None
        for i in range(self.runs):
            log(f"B14 backup run {i + 1}/{self.runs}")
            if lb is not None:
                lb.remove()
            lb = Lifeboat(self, f"b14-{i}", [src], app=app)
            lb.init()
            s["lifeboat"].append(self.r.timed(lb.argv("backup", spec), rss=True))
            s["floor"].append(self.r.timed(floor))
        repo_size = self.r.du(lb.repo)
        self.sample_note("B14 backup", s)
        m_lb, m_f = median([x.seconds for x in s["lifeboat"]]), median([x.seconds for x in s["floor"]])
        r = m_lb / m_f
        what = f"MariaDB `sbtest` ({fmt_b(logical)}, {SYSBENCH_TABLES} × {self.sysbench_rows} rows)"
        self.rows.append(Row("B14", f"{what}: `lifeboat backup {spec}` into an empty repository", fmt_s(m_lb),
                             f"floor `mariadb-dump` (lifeboat's options) `> /dev/null` {fmt_s(m_f)}",
                             f"{fmt_x(r)} floor", "≤1.3× floor", verdict([("floor", r <= 1.3)])))

        dump = self.tmp / "b14-sbtest.sql"
        self.r.run(shlex.join(map(str, m.dump("sbtest"))) + f" > {q(dump)}")
        self.notes.append(f"B14 sizes: dump file {fmt_b(dump.stat().st_size)}, lifeboat repository {fmt_b(repo_size)}")
        # Warm-up (untimed): read the repository and the dump file once.
        self.r.run(shlex.join(map(str, lb.argv("dump", spec))) + f" > /dev/null; cat {q(dump)} > /dev/null")
        s = {"lifeboat": [], "floor": []}
        for i in range(self.runs):
            log(f"B14 restore run {i + 1}/{self.runs}")
            m.recreate("sbtest_restore")
            s["lifeboat"].append(self.r.timed(lb.argv("restore", spec, "--to", m.url("sbtest_restore")), rss=True))
            got = m.counts("sbtest_restore")
            m.drop("sbtest_restore")
            if got != self.maria_counts:
                raise Failed(f"B14: lifeboat restore: row counts {got} differ from sbtest's {self.maria_counts}")
            m.recreate("sbtest_restore2")
            s["floor"].append(self.r.timed(shlex.join(map(str, m.client("sbtest_restore2"))) + f" < {q(dump)}"))
            got = m.counts("sbtest_restore2")
            m.drop("sbtest_restore2")
            if got != self.maria_counts:
                raise Failed(f"B14: `mariadb < dump`: row counts {got} differ from sbtest's {self.maria_counts}")
        lb.remove()
        dump.unlink()
        self.sample_note("B14 restore", s)
        self.notes.append(f"B14 restore: row counts of every restored database checked against sbtest "
                          f"({self.maria_counts.count('=')} tables)")
        m_lb, m_f = median([x.seconds for x in s["lifeboat"]]), median([x.seconds for x in s["floor"]])
        r = m_lb / m_f
        self.rows.append(Row("B14", f"{what}: `lifeboat restore {spec} --to mysql://…/sbtest_restore` (empty database)",
                             fmt_s(m_lb), f"floor `mariadb sbtest_restore2 < dump.sql` (local file) {fmt_s(m_f)}",
                             f"{fmt_x(r)} floor", "≤1.1× floor", verdict([("floor", r <= 1.1)])))

    def b15(self):
        """Redis alone: backup vs `redis-cli --rdb FILE`; online restore into a second, empty, running
        redis-server vs a fresh redis-server loading the same RDB at start (spawn until `INFO persistence`
        says loading:0 and DBSIZE is all keys)."""
        rs = self.redis_source()
        n = self.redis_keys
        app, spec = "b15", "b15/redis"
        src = {"name": "redis", "kind": "redis", "url": rs.url()}
        rdb = self.tmp / "b15-dump.rdb"
        s = {"lifeboat": [], "redis-cli": []}
        lb = None
        for i in range(self.runs):
            log(f"B15 backup run {i + 1}/{self.runs}")
            if lb is not None:
                lb.remove()
            lb = Lifeboat(self, f"b15-{i}", [src], app=app)
            lb.init()
            s["lifeboat"].append(self.r.timed(lb.argv("backup", spec), rss=True))
            rdb.unlink(missing_ok=True)
            s["redis-cli"].append(self.r.timed(["redis-cli", "-h", "127.0.0.1", "-p", rs.port, "--rdb", rdb]))
        self.notes.append(f"B15 sizes: RDB {fmt_b(rdb.stat().st_size)}, lifeboat repository {fmt_b(self.r.du(lb.repo))}")
        self.sample_note("B15 backup", s)
        m_lb, m_b = median([x.seconds for x in s["lifeboat"]]), median([x.seconds for x in s["redis-cli"]])
        r = m_lb / m_b
        what = f"Redis, {n} keys"
        self.rows.append(Row("B15", f"{what}: `lifeboat backup {spec}` into an empty repository", fmt_s(m_lb),
                             f"`redis-cli --rdb FILE` {fmt_s(m_b)}", f"{fmt_x(r)} redis-cli", "≤1.3× redis-cli",
                             verdict([("redis-cli", r <= 1.3)])))

        def keyspace(server):
            line = server.info("keyspace", "db0") or ""
            return ",".join(x for x in line.split(",") if not x.startswith("avg_ttl"))
        want = keyspace(rs)
        target = RedisServer(self.r, "redis-target", self.tmp / "redis-target")
        self.servers.append(target)
        target.start()
        target.wait_loaded()
        # Warm-up (untimed): read the repository once.
        self.r.run(shlex.join(map(str, lb.argv("dump", spec))) + " > /dev/null")
        s = {"lifeboat": [], "cold load": []}
        for i in range(self.runs):
            log(f"B15 restore run {i + 1}/{self.runs}")
            target.call("FLUSHALL")
            s["lifeboat"].append(self.r.timed(lb.argv("restore", spec, "--to", target.url()), rss=True))
            got, ks = target.call("DBSIZE"), keyspace(target)
            if got != n or ks != want:
                raise Failed(f"B15: after lifeboat restore the target has DBSIZE {got} ({ks}), want {n} ({want})")
            cold = RedisServer(self.r, f"redis-cold-{i}", self.tmp / f"redis-cold-{i}")
            cold.dir.mkdir()
            shutil.copyfile(rdb, cold.dir / "dump.rdb")
            self.servers.append(cold)
            t0 = time.perf_counter()
            cold.start()
            t1 = cold.wait_loaded(keys=n)
            s["cold load"].append(Sample(t1 - t0))
            cold.stop()
            self.servers.remove(cold)
            shutil.rmtree(cold.dir)
        target.call("FLUSHALL")
        target.stop()
        self.servers.remove(target)
        lb.remove()
        self.sample_note("B15 restore", s)
        self.notes.append(f"B15 restore: DBSIZE and keys/expires of db0 checked after every lifeboat restore ({want})")
        m_lb, m_c = median([x.seconds for x in s["lifeboat"]]), median([x.seconds for x in s["cold load"]])
        r = m_lb / m_c
        self.rows.append(Row("B15", f"{what}: `lifeboat restore {spec} --to redis://…` (online, empty running server)",
                             fmt_s(m_lb), f"cold load: fresh `redis-server` reading the RDB at start {fmt_s(m_c)}",
                             f"{fmt_x(r)} cold load", "≤2× cold load", verdict([("cold load", r <= 2.0)])))

    def stream_vs_restic(self, sid, path, limit):
        """One stream scenario: lifeboat's `command` source `cat FILE` against `cat FILE | restic backup
        --stdin`, each into a fresh repository, alternated; wall and CPU-seconds per GB."""
        self.r.run(f"cat {q(path)} > /dev/null")  # into the page cache (untimed)
        size = path.stat().st_size
        s = {"lifeboat": [], "restic": []}
        for i in range(self.runs):
            log(f"{sid} run {i + 1}/{self.runs}")
            lb = Lifeboat(self, f"{sid.lower()}-{i}", [{
                "name": "stream", "kind": "command", "filename": "stream.bin",
                "backup_command": f"cat {q(path)}"}])
            lb.init()
            s["lifeboat"].append(self.r.timed(lb.argv("backup", "shop/stream"), rss=True))
            lb.remove()
            rr = self.tmp / f"{sid.lower()}-restic-{i}"
            self.r.run(["restic", "-q", "-r", rr, "init"])
            s["restic"].append(self.r.timed(
                f"cat {q(path)} | restic -q -r {q(rr)} backup --stdin --stdin-filename stream.bin", rss=True))
            shutil.rmtree(rr)
        m = {k: median([x.seconds for x in v]) for k, v in s.items()}
        gb = size / 1e9
        cpu = {k: median([x.cpu for x in v if x.cpu is not None] or [float("nan")]) / gb for k, v in s.items()}
        ratio = m["lifeboat"] / m["restic"]
        self.sample_note(sid, s)
        self.rows.append(Row(
            sid, f"{NAMES[sid]} ({fmt_b(size)})",
            f"{fmt_s(m['lifeboat'])} ({cpu['lifeboat']:.1f} CPU-s/GB)",
            f"restic --stdin {fmt_s(m['restic'])} ({cpu['restic']:.1f} CPU-s/GB)",
            f"{fmt_x(ratio)} restic", f"≤{limit}× restic", verdict([("restic", ratio <= limit)])))

    def t1(self):
        path = self.tmp / "t1-random.bin"
        size = (128 if self.quick else 1024) * MIB
        rng = random.Random(20261202)
        with open(path, "wb") as f:
            for _ in range(size // MIB):
                f.write(rng.randbytes(MIB))
        try:
            self.stream_vs_restic("T1", path, 0.5)
        finally:
            path.unlink()

    def t2(self):
        path = self.tmp / "t2-text.txt"
        write_duplicate_text(path, (96 if self.quick else 700) * 1000 * 1000, seed=20261202)
        try:
            self.stream_vs_restic("T2", path, 0.4)
        finally:
            path.unlink()

    def b1d(self):
        db = "docs"
        self.load_docs(db)
        s = {"lifeboat": [], "floor": [], "restic": []}
        for i in range(self.runs):
            log(f"B1d run {i + 1}/{self.runs}")
            lb = Lifeboat(self, f"b1d-{i}", [self.db_source(db)])
            lb.init()
            s["lifeboat"].append(self.r.timed(lb.argv("backup", "shop/db"), rss=True))
            lb.remove()
            s["floor"].append(self.r.timed(f"pg_dump -Fc -Z0 {db} > /dev/null", rss=True))
            rr = self.tmp / f"b1d-restic-{i}"
            self.r.run(["restic", "-q", "-r", rr, "init"])
            s["restic"].append(self.r.timed(
                f"pg_dump -Fc -Z0 {db} | restic -q -r {q(rr)} backup --stdin --stdin-filename docs.pgdump", rss=True))
            shutil.rmtree(rr)
        m = {k: median([x.seconds for x in v]) for k, v in s.items()}
        r = {k: m["lifeboat"] / m[k] for k in ("floor", "restic")}
        self.sample_note("B1d", s)
        self.rows.append(Row(
            "B1d", f"{NAMES['B1d']} ({self.docs_note})", fmt_s(m["lifeboat"]),
            f"floor {fmt_s(m['floor'])}; restic {fmt_s(m['restic'])}",
            f"{fmt_x(r['floor'])} floor; {fmt_x(r['restic'])} restic", "≤1.5× floor, ≤0.6× restic",
            verdict([("floor", r["floor"] <= 1.5), ("restic", r["restic"] <= 0.6)])))

    def load_docs(self, db):
        """`docs`: documents whose large text and bytea values TOAST compresses many times over, so
        the dump is many times the size on disk (setup, not measured)."""
        rows = 2000 if self.quick else 16000
        log(f"loading {db} ({rows} documents; setup, not measured)")
        self.pg.createdb(db)
        self.pg.psql(db, DOCS_SQL.format(rows=rows))
        self.pg.psql(db, "VACUUM")
        disk = int(self.pg.psql(db, f"select pg_database_size('{db}')"))
        dump = int(self.r.out(f"pg_dump -Fc -Z0 {db} | wc -c").strip())
        self.docs_note = f"{fmt_b(disk)} on disk, dump {fmt_b(dump)}"
        self.notes.append(f"docs database: {self.docs_note}")

    def sample_note(self, sid, samples):
        parts = []
        for k, v in samples.items():
            txt = ", ".join(f"{x.seconds:.2f}" for x in v)
            rss = [x.rss for x in v if x.rss]
            parts.append(f"{k} [{txt}] s" + (f" (peak RSS max {fmt_b(max(rss))})" if rss else ""))
        self.notes.append(f"{sid} samples, in run order: " + "; ".join(parts))

    # ---------- driver ----------

    def versions(self):
        def first_line(cmd):
            _, rc, out, err = self.r.run(cmd, check=False)
            return (out or err).strip().splitlines()[0] if rc == 0 and (out or err).strip() else f"unavailable (exit {rc})"
        head = first_line(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
        dirty = self.r.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], check=False)[2].strip()
        built = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.lifeboat.stat().st_mtime))
        return [
            f"lifeboat: {first_line([self.lifeboat, '--version'])} (binary {self.lifeboat}, built {built})",
            f"lifeboat commit: {head}" + (" + uncommitted changes" if dirty else ""),
            f"pg_dump: {first_line(['pg_dump', '--version'])}",
            f"restic: {first_line(['restic', 'version'])}",
        ] + ([
            f"mariadb-dump: {first_line(['mariadb-dump', '--version'])}",
            f"sysbench: {first_line(['sysbench', '--version'])}",
        ] if self.only & {"B13", "B14"} else []) + ([
            f"redis-server: {first_line(['redis-server', '--version'])}",
        ] if self.only & {"B13", "B15"} else []) + ([
            f"rsync: {first_line(['rsync', '--version'])}",
        ] if "B13" in self.only else [])

    def run(self, only):
        self.only = only
        versions = self.versions()
        for v in versions:
            log(v)
        plan = [
            ("B1", self.b1), ("B2", lambda: self.churn("B2", "churn_recent.sql", 0.08)),
            ("B3", lambda: self.churn("B3", "churn_uniform.sql", 1.0)), ("B4", self.b4), ("B5", self.b5),
            ("B6", lambda: self.files(only & {"B6", "B7"})), ("M1", self.m1), ("B8", self.b8), ("B9", self.b9),
            ("B10", self.b10), ("B11", self.b11), ("B12", self.b12), ("B13", self.b13), ("B14", self.b14), ("B15", self.b15),
            ("T1", self.t1), ("T2", self.t2), ("B1d", self.b1d),
        ]
        if only & DB_SCENARIOS:
            self.pg.start()
            self.load_shop()
        done_files = False
        for sid, fn in plan:
            if sid == "B6":
                if done_files or not (only & {"B6", "B7"}):
                    continue
                done_files = True
                label = "B6/B7"
            elif sid not in only:
                continue
            else:
                label = sid
            log(f"--- {label}")
            t0 = time.perf_counter()
            try:
                fn()
            except Failed as e:
                msg = str(e)
                log(f"{label} aborted: {msg}")
                self.errors.append(f"{label}: {msg}")
                for s in label.split("/"):
                    if s in only:
                        self.rows.append(Row(s, NAMES[s], "", "", "", "", f"ERROR: {msg.splitlines()[0]}"))
            log(f"{label} took {time.perf_counter() - t0:.0f} s")
        return versions


def newest_pg_bindir():
    dirs = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    if not dirs:
        raise SystemExit("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    return max(dirs, key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)] or [0])


# ---------- the generated files tree ----------

def generate_tree(root, seed, quick):
    """A deterministic source-like tree: small text files in nested dirs, 1–20 MiB binaries (half random,
    half compressible text) and symlinks. ~1 GiB full size, ~50 MiB with quick. Returns (entries, bytes)."""
    r = random.Random(seed)
    n_dirs, n_small, n_bin, n_links = (400, 5000, 12, 20) if quick else (3000, 50000, 270, 300)
    syll = ["ka", "lo", "mi", "ne", "ru", "sta", "tor", "vex", "qui", "dal", "bor", "fen", "gri", "hol", "jun"]
    words = sorted({"".join(r.choices(syll, k=r.randint(1, 4))) for _ in range(3000)})
    caps = [w.capitalize() for w in words]
    templates = [
        "def {a}({b}, {c}):", "    return {a}.{b}({c}, {n})", "    {a} = {b}[{n}] + {c}", "import {a}.{b}",
        "# {a} {b} {c} {d}: {n}", "class {A}({B}):", "    if {a} > {n}:", "        raise {A}Error(\"{a} {b}\")",
        "fn {a}(&self, {b}: u{n}) -> Result<{A}, {B}> {{", "    let {a} = self.{b}.{c}()?;", "}}", "",
        "    for {a} in {b}.{c}():", "        {a}.append({b})", "const {A}_{B}: usize = {n};", "/// {A} {b} {c} {d}.",
    ]

    def line():
        return r.choice(templates).format(a=r.choice(words), b=r.choice(words), c=r.choice(words),
                                          d=r.choice(words), A=r.choice(caps), B=r.choice(caps), n=r.randint(0, 4096))

    pool = [line() + "\n" for _ in range(20000)]

    def text(size):
        out, n = [], 0
        while n < size:
            s = r.choice(pool)
            out.append(s)
            n += len(s)
        return "".join(out)[:size].encode()

    root.mkdir()
    dirs = [(root, 0)]
    for i in range(n_dirs):
        parent, depth = r.choice([d for d in dirs[-200:] if d[1] < 6] or [dirs[0]])
        p = parent / f"{r.choice(words)}_{i}"
        p.mkdir()
        dirs.append((p, depth + 1))
    total, entries, smalls = 0, 0, []
    for i in range(n_small):
        d = r.choice(dirs)[0]
        ext = r.choice([".py", ".rs", ".js", ".go", ".md", ".toml", ".c", ".h"])
        p = d / f"{r.choice(words)}_{i}{ext}"
        data = text(int(200 * (8192 / 200) ** r.random()))
        p.write_bytes(data)
        smalls.append(p)
        total += len(data)
        entries += 1
    for i in range(n_bin):
        d = r.choice(dirs)[0]
        size = int(MIB * 20 ** (r.random() ** 3))
        if i % 2 == 0:
            p, data = d / f"blob_{i}.bin", r.randbytes(size)
        else:
            p, data = d / f"data_{i}.dat", text(size)
        p.write_bytes(data)
        total += len(data)
        entries += 1
    for i in range(n_links):
        d = r.choice(dirs)[0]
        target = r.choice(smalls)
        os.symlink(os.path.relpath(target, d), d / f"link_{i}")
        entries += 1
    return entries + len(dirs), total


# ---------- main ----------

def parse_args():
    ap = argparse.ArgumentParser(description="lifeboat benchmarks (BENCHMARKS.md), side by side with baselines")
    ap.add_argument("--quick", action="store_true",
                    help=f"small data (shop/{QUICK_DIVISOR}, ~50 MiB tree, 512 MiB stream, 2 churn days, "
                         f"{SYSBENCH_ROWS_QUICK} sysbench rows a table, {REDIS_KEYS_QUICK} Redis keys), 1 run")
    ap.add_argument("--runs", type=int, help="repetitions per scenario, median reported (default 3; 1 with --quick)")
    ap.add_argument("--only", help="comma-separated scenario ids, e.g. B1,B4 (default: all)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, repos) for debugging")
    args = ap.parse_args()
    if args.runs is not None and args.runs < 1:
        ap.error("--runs must be ≥ 1")
    only = set(SCENARIOS)
    if args.only:
        by_upper = {sid.upper(): sid for sid in SCENARIOS}
        only = {by_upper.get(x.strip().upper(), x.strip()) for x in args.only.split(",") if x.strip()}
        unknown = only - set(SCENARIOS)
        if unknown:
            ap.error(f"unknown scenario(s) {', '.join(sorted(unknown))}; known: {', '.join(SCENARIOS)}")
    return args, only


def table(rows):
    head = ["id", "scenario", "lifeboat (median)", "baselines (median)", "ratio", "target", "result"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    order = {s: i for i, s in enumerate(SCENARIOS)}
    for row in sorted(rows, key=lambda x: order[x.cells[0]]):
        lines.append("| " + " | ".join(c.replace("\n", " ").replace("|", "\\|") for c in row.cells) + " |")
    return "\n".join(lines)


def main():
    args, only = parse_args()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    base = os.environ.get("BENCH_DIR") or None
    if base:
        Path(base).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="lifeboat-bench-", dir=base))
    tmp.chmod(0o755)  # the postgres user must reach its data dir inside
    bench = None
    started = time.time()
    try:
        bench = Bench(args, tmp)
        log(f"temp dir {tmp}; {'quick' if bench.quick else 'full'} mode, {bench.runs} run(s); scenarios {','.join(s for s in SCENARIOS if s in only)}")
        versions = bench.run(only)
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if bench is not None:
            bench.stop_servers()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    mode = (f"quick (data scaled down; targets are set for full size), {bench.runs} run(s)" if bench.quick
            else f"full, {bench.runs} run(s), median")
    report = [f"# lifeboat benchmarks — {time.strftime('%Y-%m-%d %H:%M', time.localtime(started))}", "",
              f"Mode: {mode}. Took {(time.time() - started) / 60:.1f} min.", ""]
    report += [f"- {v}" for v in versions] + ["", table(bench.rows), ""]
    if bench.notes:
        report += ["Details:", ""] + [f"- {n}" for n in bench.notes] + [""]
    if bench.errors:
        report += ["Errors:", ""] + ["```\n" + e + "\n```" for e in bench.errors] + [""]
    text = "\n".join(report)
    print(text)
    OUT.mkdir(exist_ok=True)
    (OUT / "results.md").write_text(text)
    log(f"written to {OUT / 'results.md'}")
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())

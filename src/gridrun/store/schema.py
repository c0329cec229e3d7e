"""The store's schema, as numbered migrations applied in order (`PRAGMA user_version`).

Never edit a migration that has shipped: add the next one.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: runs and experiments
    """
    CREATE TABLE runs (
        id              INTEGER PRIMARY KEY,
        name            TEXT NOT NULL UNIQUE,
        state           TEXT NOT NULL,
        invocation      TEXT NOT NULL,          -- JSON argv of `grid run ...`
        script          TEXT NOT NULL,
        script_args     TEXT NOT NULL,          -- JSON list
        space           TEXT NOT NULL,          -- JSON {flag: sweep syntax}
        strategy        TEXT NOT NULL,
        seed            INTEGER NOT NULL,
        num_trials      INTEGER,
        options         TEXT NOT NULL,          -- JSON
        cwd             TEXT NOT NULL,
        git_commit      TEXT,
        git_dirty       INTEGER,
        created_at      REAL NOT NULL,
        started_at      REAL,
        ended_at        REAL,
        driver_pid      INTEGER,
        driver_host     TEXT,
        driver_started  TEXT,
        num_experiments INTEGER NOT NULL,
        stop_requested  INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_state ON runs (state);
    CREATE TABLE experiments (
        id              INTEGER PRIMARY KEY,
        run_id          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        idx             INTEGER NOT NULL,
        name            TEXT NOT NULL UNIQUE,
        params          TEXT NOT NULL,          -- JSON {flag: value}
        args            TEXT NOT NULL,          -- JSON list
        command         TEXT NOT NULL,          -- JSON argv
        state           TEXT NOT NULL,
        exit_code       INTEGER,
        signal          INTEGER,
        attempts        INTEGER NOT NULL DEFAULT 0,
        started_at      REAL,
        ended_at        REAL,
        pid             INTEGER,
        log_path        TEXT NOT NULL,
        gpus            TEXT,
        reason          TEXT,
        stop_requested  INTEGER NOT NULL DEFAULT 0,
        UNIQUE (run_id, idx)
    );
    CREATE INDEX experiments_run_state ON experiments (run_id, state);
    """,
    # 2: metrics, every value and a summary per experiment and metric
    """
    CREATE TABLE metrics (
        experiment_id   INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        name            TEXT NOT NULL,
        step            REAL,
        value           REAL,                    -- NULL: NaN (SQLite has no NaN)
        time            REAL NOT NULL,
        source          TEXT NOT NULL            -- stdout | log | tensorboard
    );
    CREATE INDEX metrics_experiment ON metrics (experiment_id);
    CREATE TABLE metric_summaries (
        experiment_id   INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        name            TEXT NOT NULL,
        last            REAL,                    -- NULL: NaN
        last_step       REAL,
        min             REAL,
        max             REAL,
        count           INTEGER NOT NULL,
        updated_at      REAL NOT NULL,
        PRIMARY KEY (experiment_id, name)
    ) WITHOUT ROWID;
    """,
    # 3: early stopping: where a pruned experiment was stopped
    """
    ALTER TABLE experiments ADD COLUMN pruned_step REAL;
    ALTER TABLE experiments ADD COLUMN pruned_value REAL;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)

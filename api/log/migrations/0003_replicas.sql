-- One heartbeat row per serving worker process of every replica (replica = host:port of one `serve`),
-- with what it serves; /v1/status lists the rows beaten recently (on the database's clock).
CREATE TABLE replicas (
    replica TEXT NOT NULL,
    pid INTEGER NOT NULL,
    state TEXT NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (replica, pid)
);
CREATE INDEX replicas_by_heartbeat ON replicas (heartbeat_at);
